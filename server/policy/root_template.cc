#include "server/policy/root_template.h"

#include <limits.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/policy/path_validation.h"

namespace durable {
namespace {

constexpr absl::string_view kUid = "${uid}";
constexpr absl::string_view kUnit = "${unit}";
constexpr absl::string_view kCgroup = "${cgroup}";

// Replaces every placeholder of `component`; nullopt if one has no value.
std::optional<std::string> ExpandComponent(absl::string_view component,
                                           const PeerCredentials& caller) {
  std::string out;
  absl::string_view rest = component;
  while (!rest.empty()) {
    const size_t open = rest.find("${");
    if (open == absl::string_view::npos) {
      out.append(rest.data(), rest.size());
      break;
    }
    out.append(rest.data(), open);
    rest.remove_prefix(open);
    std::optional<std::string> value;
    if (absl::StartsWith(rest, kUid)) {
      value = absl::StrCat(caller.uid);
      rest.remove_prefix(kUid.size());
    } else if (absl::StartsWith(rest, kUnit)) {
      if (caller.cgroup_known && !caller.unit.empty()) value = caller.unit;
      rest.remove_prefix(kUnit.size());
    } else {  // Parse admitted only the three.
      value = CgroupLeafOf(caller);
      rest.remove_prefix(kCgroup.size());
    }
    if (!value.has_value() || !IsSingleComponent(*value)) return std::nullopt;
    out += *value;
  }
  if (!IsSingleComponent(out)) return std::nullopt;
  return out;
}

}  // namespace

bool IsSingleComponent(absl::string_view value) {
  if (value.empty() || value == "." || value == ".." || value.size() > NAME_MAX)
    return false;
  for (char c : value) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '/' || u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

std::optional<std::string> CgroupLeafOf(const PeerCredentials& caller) {
  if (!caller.cgroup_known) return std::nullopt;
  const size_t slash = caller.cgroup.rfind('/');
  if (slash == std::string::npos) return std::nullopt;
  std::string leaf = caller.cgroup.substr(slash + 1);
  if (leaf.empty()) return std::nullopt;
  return leaf;
}

absl::StatusOr<RootTemplate> RootTemplate::Parse(absl::string_view root) {
  if (root != "/" && !ValidateClientPath(root).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", root,
                     "\" is not a clean absolute path (no '.', '..', '//' or "
                     "trailing '/')"));
  }
  RootTemplate parsed;
  parsed.text_ = std::string(root);
  std::vector<std::string> fixed;
  for (absl::string_view component :
       absl::StrSplit(root.substr(1), '/', absl::SkipEmpty())) {
    // Every "${" must open one of the three placeholders.
    for (size_t at = component.find("${"); at != absl::string_view::npos;
         at = component.find("${", at + 1)) {
      absl::string_view here = component.substr(at);
      if (!absl::StartsWith(here, kUid) && !absl::StartsWith(here, kUnit) &&
          !absl::StartsWith(here, kCgroup)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "\"", root, "\" has an unknown placeholder in \"", component,
            "\"; the placeholders are ${uid}, ${unit} and ${cgroup}"));
      }
    }
    const bool has_placeholder = absl::StrContains(component, "${");
    if (has_placeholder || !parsed.rest_.empty()) {
      parsed.rest_.emplace_back(component);
    } else {
      fixed.emplace_back(component);
    }
  }
  if (parsed.per_caller() && fixed.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", root,
        "\" has a placeholder in its first component; a per-caller root "
        "needs a fixed directory above it"));
  }
  parsed.base_ =
      fixed.empty() ? "/" : absl::StrCat("/", absl::StrJoin(fixed, "/"));
  return parsed;
}

std::optional<std::string> RootTemplate::RelativeFor(
    const PeerCredentials& caller) const {
  std::vector<std::string> expanded;
  for (const std::string& component : rest_) {
    std::optional<std::string> value = ExpandComponent(component, caller);
    if (!value.has_value()) return std::nullopt;
    expanded.push_back(*std::move(value));
  }
  return absl::StrJoin(expanded, "/");
}

std::optional<std::string> RootTemplate::ExpandFor(
    const PeerCredentials& caller) const {
  std::optional<std::string> relative = RelativeFor(caller);
  if (!relative.has_value()) return std::nullopt;
  if (relative->empty()) return base_;
  if (base_ == "/") return absl::StrCat("/", *relative);
  return absl::StrCat(base_, "/", *relative);
}

}  // namespace durable
