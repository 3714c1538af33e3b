#ifndef DURABLED_SERVER_POLICY_POLICY_H_
#define DURABLED_SERVER_POLICY_POLICY_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "durable/v1/config.pb.h"
#include "server/base/peer_credentials.h"
#include "server/engine/file_system.h"
#include "server/policy/client_address.h"
#include "server/policy/root_template.h"

namespace durable {

// One rule of the policy with its defaults applied.
struct RulePolicy {
  std::string root;  // as configured, placeholders and all
  RootTemplate root_template;
  std::string name;  // "" if the rule has none
  bool hide_root = false;
  bool create_root = false;
  uint64_t max_bytes = 0;  // quota of each (expanded) root; 0: none
  uint64_t max_files = 0;
  absl::flat_hash_set<uid_t> uids;
  absl::flat_hash_set<gid_t> gids;
  std::vector<std::string> unit_patterns;  // fnmatch globs
  std::vector<std::string> cgroup_prefixes;
  uint64_t max_file_size = 0;
  mode_t create_mode = 0;
  mode_t max_mode = 0;
  mode_t directory_mode = 0;  // of directories created (create_parents)
  bool allow_overwrite = true;
  bool allow_create_parents = false;
  bool versioned_layout = false;  // sets use versioned_layout.h's layout
  durable::v1::OwnerPolicy create_owner = durable::v1::OWNER_DAEMON;
  Owner fixed_owner;  // for OWNER_FIXED

  // Whether the caller's identity matches: its uid or a gid is listed (or
  // no uid or gid is), and its unit matches a pattern or its cgroup lies
  // under a prefix (or neither is listed). A caller whose cgroup is unknown
  // matches no unit or cgroup.
  bool Allows(const PeerCredentials& caller) const;

  // The root for `caller` (placeholders expanded); nullopt if the rule has
  // no root for it, and so does not govern it.
  std::optional<std::string> RootFor(const PeerCredentials& caller) const {
    return root_template.ExpandFor(caller);
  }

  // How messages to `caller` name this rule's root: "name:" when the
  // request used the name or the root is hidden, else the expanded root.
  std::string RootLabel(const std::string& expanded_root, bool by_name) const;

  bool has_quota() const { return max_bytes != 0 || max_files != 0; }

  // Owner of files and directories this rule creates for `caller`; nullopt
  // means the daemon's own.
  std::optional<Owner> OwnerFor(const PeerCredentials& caller) const;
};

// The policy's answer for one allowed path.
struct Grant {
  size_t rule_index = 0;
  const RulePolicy* rule = nullptr;  // points into the Policy
  // The rule's root expanded for the caller, and the part of it below the
  // rule's opened base ("" if the root is not per caller).
  std::string root;
  std::string root_below_base;
  // How messages name the root (RulePolicy::RootLabel).
  std::string root_label;
  // Parent directory relative to the root ("." for the root itself) and
  // the final component.
  std::string relative_parent;
  std::string leaf;
};

// Who may write where. Pure data and decisions, no I/O: the longest root
// containing a path (at a component boundary) decides; no root, no write.
// What the policy lets one caller do, for WhoAmI.
struct CallerGrants {
  struct Allowed {
    const RulePolicy* rule = nullptr;
    std::string root;  // expanded for the caller; "" if the rule hides it
  };
  // The rules that allow the caller, in config order.
  std::vector<Allowed> allowed;
  // Roots nested inside an allowed root whose rules do not allow the
  // caller: the holes in its grants ("name:" for a hidden one). Other roots
  // are none of its business.
  std::vector<std::string> denied_roots;
};

class Policy {
 public:
  // `config` must have passed ValidateConfig (config_loader.h).
  static Policy FromConfig(const durable::v1::DaemonConfig& config);

  // PERMISSION_DENIED unless the rule governing `address` allows `caller`.
  // An absolute path is governed by the longest root (expanded for the
  // caller) containing it; a named one is first turned into the host path
  // under the named rule's root (which must allow the caller), then
  // governed the same way, so a nested rule's holes hold for it too.
  // `address` must come from ParseClientAddress. Messages never name a
  // root that does not allow the caller, nor a hidden one.
  absl::StatusOr<Grant> Authorize(const PeerCredentials& caller,
                                  const ClientAddress& address) const;

  // False if no rule allows the caller and has a root for it: such a
  // caller can never write anything and is turned away at accept.
  bool CouldEverAllow(const PeerCredentials& caller) const;

  // The rules that allow `caller` and the holes in them.
  CallerGrants GrantsFor(const PeerCredentials& caller) const;

  const std::vector<RulePolicy>& rules() const { return rules_; }

 private:
  std::vector<RulePolicy> rules_;
};

}  // namespace durable

#endif  // DURABLED_SERVER_POLICY_POLICY_H_
