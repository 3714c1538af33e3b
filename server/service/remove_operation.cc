#include "server/service/remove_operation.h"

#include "absl/strings/str_cat.h"
#include "server/policy/path_resolver.h"

namespace durable {

absl::StatusOr<std::string> RunRemoveOperation(const WriteDependencies& deps,
                                               const PeerCredentials& caller,
                                               const std::string& path,
                                               const std::string& if_match) {
  absl::StatusOr<WriteAdmission::Ticket> ticket =
      deps.admission->Admit(caller.uid);
  if (!ticket.ok()) return ticket.status();
  absl::StatusOr<ResolvedTarget> target =
      ResolveTarget(deps.policies->Current(), *deps.fs, caller, path);
  if (!target.ok()) return target.status();
  if (!target->rule->allow_overwrite) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the rule for root ", target->rule->root,
        " does not allow overwriting, so it does not allow removing either"));
  }
  TargetLocks::Lease lease = deps.locks->Acquire(target->key);
  return deps.replacer->Remove(target->dir.get(), target->key.leaf, if_match);
}

}  // namespace durable
