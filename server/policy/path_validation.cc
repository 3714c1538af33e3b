#include "server/policy/path_validation.h"

#include <limits.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/engine/file_replacer.h"
#include "server/engine/set_record.h"
#include "server/engine/versioned_layout.h"

namespace durable {

namespace {

// Names of the daemon's own that no caller's path may use, and for what.
struct ReservedPrefix {
  absl::string_view prefix;
  absl::string_view owner;
};
constexpr ReservedPrefix kReservedPrefixes[] = {
    // The start-up sweep deletes such files: an acknowledged write there
    // would be lost at the next start.
    {kTempFilePrefix, "durabled's temporary files"},
    // The daemon keeps set commit records under such names.
    {kSetReservedPrefix, "durabled's set commit records"},
    // Version directories of the versioned layout; writing there would
    // change a published version in place.
    {kLayoutReservedPrefix, "durabled's versioned layout"},
};

// The checks of ValidateClientPath; `relative` for the part after a root
// name ("state:agent/x.json"), which must not start with '/'.
absl::Status ValidatePathText(absl::string_view path, bool relative) {
  if (path.empty()) return absl::InvalidArgumentError("the path is empty");
  if (path.size() >= PATH_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("the path is ", path.size(),
                                                   " bytes long; the limit is ",
                                                   PATH_MAX - 1));
  }
  for (char c : path) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u == 0) {
      return absl::InvalidArgumentError("the path contains a NUL byte");
    }
    if (u < 0x20 || u == 0x7f) {
      return absl::InvalidArgumentError(
          "the path contains a control character");
    }
  }
  if (relative && path[0] == '/') {
    return absl::InvalidArgumentError(
        "the path after the root name starts with '/'; it must be relative "
        "to the root (name:dir/file)");
  }
  if (!relative && path[0] != '/') {
    return absl::InvalidArgumentError(
        "the path is relative; it must start with '/' (or name a root: "
        "name:relative/path)");
  }
  if (path == "/") {
    return absl::InvalidArgumentError("the path names the root directory");
  }
  if (path.back() == '/') {
    return absl::InvalidArgumentError(
        "the path ends with '/'; it must name a file");
  }
  absl::string_view rest = relative ? path : path.substr(1);
  for (absl::string_view component : absl::StrSplit(rest, '/')) {
    if (component.empty()) {
      return absl::InvalidArgumentError(
          "the path contains an empty component ('//')");
    }
    if (component == "." || component == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("the path contains a '", component, "' component; ",
                       relative ? "name the file without it"
                                : "send the resolved absolute path"));
    }
    for (const auto& [prefix, owner] : kReservedPrefixes) {
      if (absl::StartsWith(component, prefix)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "names beginning with \"", prefix, "\" are reserved for ", owner));
      }
    }
    if (component.size() > NAME_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat("a component of the path is ", component.size(),
                       " bytes long; the limit is ", NAME_MAX));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateClientPath(absl::string_view path) {
  return ValidatePathText(path, /*relative=*/false);
}

absl::Status ValidateRelativePath(absl::string_view path) {
  return ValidatePathText(path, /*relative=*/true);
}

SplitPath SplitParentAndLeaf(absl::string_view path) {
  size_t slash = path.rfind('/');
  SplitPath split;
  split.parent = std::string(slash == 0 ? "/" : path.substr(0, slash));
  split.leaf = std::string(path.substr(slash + 1));
  return split;
}

bool PathIsWithin(absl::string_view path, absl::string_view root) {
  if (root == "/") return absl::StartsWith(path, "/");
  if (!absl::StartsWith(path, root)) return false;
  return path.size() == root.size() || path[root.size()] == '/';
}

}  // namespace durable
