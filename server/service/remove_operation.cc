#include "server/service/remove_operation.h"

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
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
        "the rule for root ", target->root_label,
        " does not allow overwriting, so it does not allow removing either"));
  }
  // In line with the target's writes: after those queued before, before
  // those queued after. This worker waits for its turn.
  absl::StatusOr<std::string> removed;
  absl::Notification finished;
  deps.commits->SubmitExclusive(target->key, caller.uid, [&] {
    // The size is read in the target's turn, so no write of it runs
    // between this look and the remove.
    std::optional<uint64_t> size;
    if (target->quota_root.valid() && deps.usage != nullptr) {
      // Counted before the remove (on a root's first use), so the removal
      // is not subtracted from a count that already lacks it.
      (void)deps.usage->UsageOf(target->quota_root.get());
      absl::StatusOr<FileInfo> info =
          deps.fs->LookUp(target->dir.get(), target->key.leaf);
      if (info.ok()) size = info->size;
    }
    removed =
        deps.replacer->Remove(target->dir.get(), target->key.leaf, if_match);
    if (removed.ok() && size.has_value()) {
      deps.usage->RecordRemoval(target->quota_root.get(), *size);
    }
    finished.Notify();
  });
  finished.WaitForNotification();
  return removed;
}

}  // namespace durable
