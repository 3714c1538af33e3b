#include "server/policy/policy.h"

#include "absl/strings/str_cat.h"
#include "server/policy/config_loader.h"
#include "server/policy/path_validation.h"

namespace durable {

bool RulePolicy::Allows(const PeerCredentials& caller) const {
  if (uids.contains(caller.uid)) return true;
  if (gids.contains(caller.gid)) return true;
  for (gid_t group : caller.groups) {
    if (gids.contains(group)) return true;
  }
  return false;
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
    r.uids.insert(rule.allow_uid().begin(), rule.allow_uid().end());
    r.gids.insert(rule.allow_gid().begin(), rule.allow_gid().end());
    r.max_file_size =
        rule.max_file_size() ? rule.max_file_size() : kDefaultMaxFileSize;
    r.create_mode =
        rule.create_mode() ? rule.create_mode() : kDefaultCreateMode;
    r.max_mode = rule.max_mode() ? rule.max_mode() : kDefaultMaxMode;
    r.directory_mode =
        rule.directory_mode() ? rule.directory_mode() : kDefaultDirectoryMode;
    r.allow_overwrite = !rule.has_allow_overwrite() || rule.allow_overwrite();
    r.allow_create_parents = rule.allow_create_parents();
    r.create_owner = rule.create_owner();
    r.fixed_owner = Owner{rule.owner_uid(), rule.owner_gid()};
    policy.rules_.push_back(std::move(r));
  }
  return policy;
}

absl::StatusOr<Grant> Policy::Authorize(const PeerCredentials& caller,
                                        absl::string_view path) const {
  const RulePolicy* best = nullptr;
  size_t best_index = 0;
  for (size_t i = 0; i < rules_.size(); ++i) {
    const RulePolicy& rule = rules_[i];
    if (!PathIsWithin(path, rule.root)) continue;
    if (best == nullptr || rule.root.size() > best->root.size()) {
      best = &rule;
      best_index = i;
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
        absl::StrCat("uid ", caller.uid, " (gid ", caller.gid,
                     ") is not allowed to write this path"));
  }
  if (path.size() == best->root.size()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the path is the root directory ", best->root,
                     " itself; name a file beneath it"));
  }
  SplitPath split = SplitParentAndLeaf(path);
  Grant grant;
  grant.rule_index = best_index;
  grant.rule = best;
  grant.leaf = split.leaf;
  if (split.parent.size() == best->root.size()) {
    grant.relative_parent = ".";
  } else {
    size_t skip = best->root == "/" ? 1 : best->root.size() + 1;
    grant.relative_parent = split.parent.substr(skip);
  }
  return grant;
}

bool Policy::CouldEverAllow(const PeerCredentials& caller) const {
  for (const RulePolicy& rule : rules_) {
    if (rule.Allows(caller)) return true;
  }
  return false;
}

CallerGrants Policy::GrantsFor(const PeerCredentials& caller) const {
  CallerGrants grants;
  for (const RulePolicy& rule : rules_) {
    if (rule.Allows(caller)) {
      grants.allowed.push_back(&rule);
      continue;
    }
    for (const RulePolicy& outer : rules_) {
      if (outer.Allows(caller) && PathIsWithin(rule.root, outer.root)) {
        grants.denied_roots.push_back(rule.root);
        break;
      }
    }
  }
  return grants;
}

}  // namespace durable
