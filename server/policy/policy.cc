#include "server/policy/policy.h"

#include <fnmatch.h>
#include <limits.h>

#include "absl/strings/str_cat.h"
#include "server/policy/config_loader.h"
#include "server/policy/path_validation.h"

namespace durable {
namespace {

bool MatchesUnit(const RulePolicy& rule, const PeerCredentials& caller) {
  if (caller.unit.empty()) return false;
  for (const std::string& pattern : rule.unit_patterns) {
    if (fnmatch(pattern.c_str(), caller.unit.c_str(), FNM_PATHNAME) == 0) {
      return true;
    }
  }
  return false;
}

bool MatchesCgroup(const RulePolicy& rule, const PeerCredentials& caller) {
  for (const std::string& prefix : rule.cgroup_prefixes) {
    if (PathIsWithin(caller.cgroup, prefix)) return true;
  }
  return false;
}

std::string DescribeCaller(const PeerCredentials& caller) {
  std::string who = absl::StrCat("uid ", caller.uid, " (gid ", caller.gid);
  if (caller.cgroup_known && !caller.unit.empty()) {
    absl::StrAppend(&who, ", unit ", caller.unit);
  }
  absl::StrAppend(&who, ")");
  return who;
}

}  // namespace

bool RulePolicy::Allows(const PeerCredentials& caller) const {
  bool by_id = uids.empty() && gids.empty();
  if (uids.contains(caller.uid) || gids.contains(caller.gid)) by_id = true;
  for (gid_t group : caller.groups) {
    if (gids.contains(group)) by_id = true;
  }
  if (!by_id) return false;
  if (unit_patterns.empty() && cgroup_prefixes.empty()) return true;
  // An unread cgroup never matches: it could be anyone's.
  if (!caller.cgroup_known) return false;
  return MatchesUnit(*this, caller) || MatchesCgroup(*this, caller);
}

std::string RulePolicy::RootLabel(const std::string& expanded_root,
                                  bool by_name) const {
  if (by_name || (hide_root && !name.empty())) return absl::StrCat(name, ":");
  return expanded_root;
}

std::optional<Owner> RulePolicy::OwnerFor(const PeerCredentials& caller) const {
  switch (create_owner) {
    case durable::v1::OWNER_CALLER:
      return Owner{caller.uid, caller.gid};
    case durable::v1::OWNER_FIXED:
      return fixed_owner;
    default:
      return std::nullopt;
  }
}

Policy Policy::FromConfig(const durable::v1::DaemonConfig& config) {
  Policy policy;
  for (const durable::v1::Rule& rule : config.rule()) {
    RulePolicy r;
    r.root = rule.root();
    // ValidateConfig parsed every root already.
    r.root_template = *RootTemplate::Parse(rule.root());
    r.name = rule.name();
    r.hide_root = rule.hide_root();
    r.create_root = rule.create_root();
    r.max_bytes = rule.max_bytes();
    r.max_files = rule.max_files();
    r.uids.insert(rule.allow_uid().begin(), rule.allow_uid().end());
    r.gids.insert(rule.allow_gid().begin(), rule.allow_gid().end());
    r.unit_patterns.assign(rule.allow_unit().begin(), rule.allow_unit().end());
    r.cgroup_prefixes.assign(rule.allow_cgroup().begin(),
                             rule.allow_cgroup().end());
    r.max_file_size =
        rule.max_file_size() ? rule.max_file_size() : kDefaultMaxFileSize;
    r.create_mode =
        rule.create_mode() ? rule.create_mode() : kDefaultCreateMode;
    r.max_mode = rule.max_mode() ? rule.max_mode() : kDefaultMaxMode;
    r.directory_mode =
        rule.directory_mode() ? rule.directory_mode() : kDefaultDirectoryMode;
    r.allow_overwrite = !rule.has_allow_overwrite() || rule.allow_overwrite();
    r.allow_create_parents = rule.allow_create_parents();
    r.versioned_layout = rule.versioned_layout();
    r.create_owner = rule.create_owner();
    r.fixed_owner = Owner{rule.owner_uid(), rule.owner_gid()};
    policy.rules_.push_back(std::move(r));
  }
  return policy;
}

absl::StatusOr<Grant> Policy::Authorize(const PeerCredentials& caller,
                                        const ClientAddress& address) const {
  std::string path = address.path;
  if (address.by_name()) {
    const RulePolicy* named = nullptr;
    for (const RulePolicy& rule : rules_) {
      if (rule.name == address.root_name) named = &rule;
    }
    std::optional<std::string> root;
    if (named != nullptr && named->Allows(caller))
      root = named->RootFor(caller);
    if (!root.has_value()) {
      // The same answer whether the name exists or not.
      return absl::PermissionDeniedError(
          absl::StrCat("no root named \"", address.root_name, "\" is open to ",
                       DescribeCaller(caller)));
    }
    path = *root == "/" ? absl::StrCat("/", address.path)
                        : absl::StrCat(*root, "/", address.path);
    if (path.size() >= PATH_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat("the path beneath the root is too long: the host path "
                       "would be ",
                       path.size(), " bytes, the limit is ", PATH_MAX - 1));
    }
  }
  const RulePolicy* best = nullptr;
  size_t best_index = 0;
  std::string best_root;
  for (size_t i = 0; i < rules_.size(); ++i) {
    const RulePolicy& rule = rules_[i];
    std::optional<std::string> root = rule.RootFor(caller);
    if (!root.has_value() || !PathIsWithin(path, *root)) continue;
    if (best == nullptr || root->size() > best_root.size()) {
      best = &rule;
      best_index = i;
      best_root = *std::move(root);
    }
  }
  if (best == nullptr) {
    return absl::PermissionDeniedError(
        "the path is outside every root of the daemon's policy");
  }
  if (!best->Allows(caller)) {
    return absl::PermissionDeniedError(
        // Not naming the rule's root: a caller learns nothing of roots
        // that are not its own.
        absl::StrCat(DescribeCaller(caller),
                     " is not allowed to write this path"));
  }
  const bool by_name = address.by_name() && best->name == address.root_name;
  Grant grant;
  grant.root_label = best->RootLabel(best_root, by_name);
  if (path.size() == best_root.size()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the path is the root directory ", grant.root_label,
                     " itself; name a file beneath it"));
  }
  SplitPath split = SplitParentAndLeaf(path);
  grant.rule_index = best_index;
  grant.rule = best;
  grant.root_below_base = *best->root_template.RelativeFor(caller);
  grant.leaf = split.leaf;
  if (split.parent.size() == best_root.size()) {
    grant.relative_parent = ".";
  } else {
    size_t skip = best_root == "/" ? 1 : best_root.size() + 1;
    grant.relative_parent = split.parent.substr(skip);
  }
  grant.root = std::move(best_root);
  return grant;
}

bool Policy::CouldEverAllow(const PeerCredentials& caller) const {
  for (const RulePolicy& rule : rules_) {
    if (rule.Allows(caller) && rule.RootFor(caller).has_value()) return true;
  }
  return false;
}

CallerGrants Policy::GrantsFor(const PeerCredentials& caller) const {
  CallerGrants grants;
  std::vector<std::string> allowed_roots;
  for (const RulePolicy& rule : rules_) {
    std::optional<std::string> root = rule.RootFor(caller);
    if (!root.has_value() || !rule.Allows(caller)) continue;
    grants.allowed.push_back({&rule, rule.hide_root ? "" : *root});
    allowed_roots.push_back(*std::move(root));
  }
  for (const RulePolicy& rule : rules_) {
    std::optional<std::string> root = rule.RootFor(caller);
    if (!root.has_value() || rule.Allows(caller)) continue;
    for (const std::string& outer : allowed_roots) {
      if (*root != outer && PathIsWithin(*root, outer)) {
        grants.denied_roots.push_back(rule.RootLabel(*root, false));
        break;
      }
    }
  }
  return grants;
}

}  // namespace durable
