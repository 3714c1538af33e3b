#ifndef DURABLED_SERVER_SERVICE_WRITE_OPERATION_H_
#define DURABLED_SERVER_SERVICE_WRITE_OPERATION_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "durable/v1/durable.pb.h"
#include "server/base/peer_credentials.h"
#include "server/engine/commit_queue.h"
#include "server/engine/file_replacer.h"
#include "server/engine/file_system.h"
#include "server/engine/pending_directories.h"
#include "server/engine/set_replacer.h"
#include "server/engine/usage_ledger.h"
#include "server/engine/versioned_set_replacer.h"
#include "server/policy/path_resolver.h"
#include "server/policy/policy_store.h"
#include "server/service/write_admission.h"

namespace durable {

// What a write needs from the daemon; main owns each piece.
struct WriteDependencies {
  const PolicyStore* policies = nullptr;
  FileSystem* fs = nullptr;
  FileReplacer* replacer = nullptr;
  CommitQueue* commits = nullptr;
  WriteAdmission* admission = nullptr;
  PendingDirectories* pending_directories = nullptr;
  // Quota accounting of the roots whose rules have one.
  UsageLedger* usage = nullptr;
  // The commit protocol of WriteSet.
  SetReplacer* sets = nullptr;
  // ... and of WriteSet under a rule with versioned_layout.
  VersionedSetReplacer* versioned_sets = nullptr;
};

// One write from request to published file, shared by Write and
// WriteStream: Begin checks the request and the policy, resolves the target
// and stages a temp file; Append adds content; Commit hands it to the commit
// queue (the target's writes in arrival order, group commit, coalescing).
// Destroying an operation that was not committed leaves nothing behind: no temp
// file, no directory it created.
//
// The policy in force at Begin governs the whole operation, even across a
// reload.
class WriteOperation {
 public:
  // INVALID_ARGUMENT for bad options, RESOURCE_EXHAUSTED when the caller
  // or the daemon has too many writes in progress, when `content_size`
  // (the whole content's size, where known in advance) is over the rule's
  // max_file_size or would pass the root's quota, and the errors of
  // ResolveTarget; nothing is staged then. `abandon`, if set, is asked
  // once the caller is known to be allowed (so a refusal is reported as
  // such) and before anything is staged; true fails with CANCELLED.
  static absl::StatusOr<std::unique_ptr<WriteOperation>> Begin(
      const WriteDependencies& deps, const PeerCredentials& caller,
      const std::string& path, const durable::v1::WriteOptions& options,
      const std::function<bool()>& abandon = {},
      std::optional<uint64_t> content_size = std::nullopt);

  ~WriteOperation();
  WriteOperation(const WriteOperation&) = delete;
  WriteOperation& operator=(const WriteOperation&) = delete;

  // RESOURCE_EXHAUSTED once the content would exceed the rule's
  // max_file_size, the content_size given to Begin, or (for content of
  // unknown size) the root's quota; the operation is then dead.
  absl::Status Append(absl::string_view data);

  // Publishes the content durably through the commit queue, then calls
  // `done` with the outcome: exactly once, on this or another thread, maybe
  // before Commit returns. The operation must live until `done` has run.
  // This thread may be drafted to commit (see CommitQueue::Submit), so it
  // must be one that may block. `abandon`, if set, is asked right before
  // publishing; true fails the commit with CANCELLED and publishes nothing
  // (the caller cancelled or its deadline passed). Call once.
  void Commit(std::function<bool()> abandon, CommitQueue::Done done);

  // Removes what the operation leaves on disk, now: the temp file (or,
  // after a replace, the old content it holds) and, unless the write was
  // published, the directories it created. The admission ticket stays held
  // until destruction, so that a drain waits for the answer to be sent.
  // Idempotent; the destructor calls it.
  void Close();

  uint64_t size() const { return staged_ ? staged_->size() : closed_size_; }

 private:
  WriteOperation(const WriteDependencies& deps, uid_t caller,
                 WriteAdmission::Ticket ticket, ResolvedTarget target,
                 std::unique_ptr<StagedFile> staged, CommitOptions options,
                 UsageLedger::Reservation quota,
                 std::optional<uint64_t> content_size);

  const WriteDependencies deps_;
  const uid_t caller_;
  WriteAdmission::Ticket ticket_;
  ResolvedTarget target_;
  std::unique_ptr<StagedFile> staged_;
  const CommitOptions options_;
  // Room held under the root's quota (inactive without one), settled when
  // the write is published.
  UsageLedger::Reservation quota_;
  const std::optional<uint64_t> content_size_;
  bool published_ = false;
  uint64_t closed_size_ = 0;
};

// INVALID_ARGUMENT unless `options` is well-formed on its own (mode bits,
// digest length, no if_absent together with if_match).
absl::Status ValidateWriteOptions(const durable::v1::WriteOptions& options);

// RESOURCE_EXHAUSTED unless `content_size` (where known) fits the target's
// rule's max_file_size and, where the rule has a quota, the root's quota;
// holds that room in `quota`. Shared by single writes and sets.
// `existing_dir_fd`: where the file a write replaces lies, if not in the
// target's directory (the current version of a versioned layout, whose
// D/NAME is only a link); -1 for the target's directory.
absl::Status CheckRoom(const WriteDependencies& deps,
                       const ResolvedTarget& target,
                       std::optional<uint64_t> content_size,
                       UsageLedger::Reservation* quota,
                       int existing_dir_fd = -1);

// How the engine publishes a write of `caller` with `options` under `rule`.
CommitOptions CommitOptionsFor(const RulePolicy& rule,
                               const PeerCredentials& caller,
                               const durable::v1::WriteOptions& options);

}  // namespace durable

#endif  // DURABLED_SERVER_SERVICE_WRITE_OPERATION_H_
