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

namespace durable {

// One rule of the policy with its defaults applied.
struct RulePolicy {
  std::string root;
  absl::flat_hash_set<uid_t> uids;
  absl::flat_hash_set<gid_t> gids;
  uint64_t max_file_size = 0;
  mode_t create_mode = 0;
  mode_t max_mode = 0;
  mode_t directory_mode = 0;  // of directories created (create_parents)
  bool allow_overwrite = true;
  bool allow_create_parents = false;
  durable::v1::OwnerPolicy create_owner = durable::v1::OWNER_DAEMON;
  Owner fixed_owner;  // for OWNER_FIXED

  bool Allows(const PeerCredentials& caller) const;

  // Owner of files and directories this rule creates for `caller`; nullopt
  // means the daemon's own.
  std::optional<Owner> OwnerFor(const PeerCredentials& caller) const;
};

// The policy's answer for one allowed path.
struct Grant {
  size_t rule_index = 0;
  const RulePolicy* rule = nullptr;  // points into the Policy
  // Parent directory relative to the rule's root ("." for the root itself)
  // and the final component.
  std::string relative_parent;
  std::string leaf;
};

// Who may write where. Pure data and decisions, no I/O: the longest root
// containing a path (at a component boundary) decides; no root, no write.
// What the policy lets one caller do, for WhoAmI.
struct CallerGrants {
  // The rules that allow the caller, in config order.
  std::vector<const RulePolicy*> allowed;
  // Roots nested inside an allowed root whose rules do not allow the
  // caller: the holes in its grants. Other roots are none of its business.
  std::vector<std::string> denied_roots;
};

class Policy {
 public:
  // `config` must have passed ValidateConfig (config_loader.h).
  static Policy FromConfig(const durable::v1::DaemonConfig& config);

  // PERMISSION_DENIED unless the rule governing `path` allows `caller`.
  // `path` must have passed ValidateClientPath.
  absl::StatusOr<Grant> Authorize(const PeerCredentials& caller,
                                  absl::string_view path) const;

  // False if no rule lists the caller's uid or any of its groups: such a
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
