#include "server/service/write_operation.h"

#include <errno.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/base/errno_status.h"
#include "server/engine/sha256.h"

namespace durable {

absl::Status ValidateWriteOptions(const durable::v1::WriteOptions& options) {
  if (options.mode() > 07777) {
    return absl::InvalidArgumentError(
        absl::StrFormat("mode 0%o has bits outside 07777", options.mode()));
  }
  if (!options.expected_sha256().empty() &&
      options.expected_sha256().size() != Sha256::kDigestBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected_sha256 must be 32 raw bytes, not ",
                     options.expected_sha256().size()));
  }
  if (options.if_absent() && !options.if_match().empty()) {
    return absl::InvalidArgumentError(
        "if_absent and if_match contradict each other");
  }
  return absl::OkStatus();
}

absl::Status CheckRoom(const WriteDependencies& deps,
                       const ResolvedTarget& target,
                       std::optional<uint64_t> content_size,
                       UsageLedger::Reservation* quota, int existing_dir_fd) {
  const RulePolicy& rule = *target.rule;
  if (content_size.has_value() && *content_size > rule.max_file_size) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the content (", *content_size, " bytes) exceeds ", rule.max_file_size,
        " bytes, the limit of the rule for root ", target.root_label,
        "; nothing was staged"));
  }
  if (!rule.has_quota() || deps.usage == nullptr) return absl::OkStatus();
  absl::StatusOr<UsageLedger::Reservation> reserved = deps.usage->Reserve(
      target.quota_root.get(), QuotaLimits{rule.max_bytes, rule.max_files},
      target.root_label,
      existing_dir_fd >= 0 ? existing_dir_fd : target.dir.get(),
      target.key.leaf, content_size.value_or(0));
  if (!reserved.ok()) return reserved.status();
  *quota = *std::move(reserved);
  return absl::OkStatus();
}

CommitOptions CommitOptionsFor(const RulePolicy& rule,
                               const PeerCredentials& caller,
                               const durable::v1::WriteOptions& options) {
  CommitOptions commit;
  commit.create_permissions = rule.create_mode;
  if (options.mode() != 0) {
    commit.requested_permissions = options.mode() & rule.max_mode;
  }
  commit.create_owner = rule.OwnerFor(caller);
  commit.if_absent = options.if_absent();
  commit.allow_overwrite = rule.allow_overwrite;
  commit.if_match = options.if_match();
  if (!options.expected_sha256().empty()) {
    commit.expected_sha256 = options.expected_sha256();
  }
  return commit;
}

absl::StatusOr<std::unique_ptr<WriteOperation>> WriteOperation::Begin(
    const WriteDependencies& deps, const PeerCredentials& caller,
    const std::string& path, const durable::v1::WriteOptions& options,
    const std::function<bool()>& abandon,
    std::optional<uint64_t> content_size) {
  absl::Status valid = ValidateWriteOptions(options);
  if (!valid.ok()) return valid;
  absl::StatusOr<WriteAdmission::Ticket> ticket =
      deps.admission->Admit(caller.uid);
  if (!ticket.ok()) return ticket.status();
  ResolveOptions resolve;
  resolve.create_parents = options.create_parents();
  resolve.create_root = true;
  resolve.pending_directories = deps.pending_directories;
  // A directory another write created for itself may be removed again when
  // that write fails, between our resolution and our staging; then resolve
  // afresh (bounded).
  constexpr int kResolveAttempts = 3;
  absl::StatusOr<ResolvedTarget> target;
  absl::StatusOr<std::unique_ptr<StagedFile>> staged;
  UsageLedger::Reservation quota;
  for (int attempt = 0; attempt < kResolveAttempts; ++attempt) {
    target = ResolveTarget(deps.policies->Current(), *deps.fs, caller, path,
                           resolve);
    if (!target.ok()) return target.status();
    if (abandon && abandon()) {
      // Gone while it waited for a worker: spare the work.
      RemoveCreatedDirectories(*deps.fs, *target);
      return absl::CancelledError(
          "the call was cancelled or its deadline passed before the write "
          "began; nothing was published");
    }
    absl::Status room = CheckRoom(deps, *target, content_size, &quota);
    if (!room.ok()) {
      RemoveCreatedDirectories(*deps.fs, *target);
      return room;
    }
    staged = deps.replacer->Stage(target->dir.get(), target->key.leaf);
    if (staged.ok()) break;
    RemoveCreatedDirectories(*deps.fs, *target);
    if (ErrnoOf(staged.status()) != ENOENT) return staged.status();
  }
  if (!staged.ok()) return staged.status();

  CommitOptions commit = CommitOptionsFor(*target->rule, caller, options);
  return std::unique_ptr<WriteOperation>(new WriteOperation(
      deps, caller.uid, *std::move(ticket), *std::move(target),
      *std::move(staged), std::move(commit), std::move(quota), content_size));
}

WriteOperation::WriteOperation(const WriteDependencies& deps, uid_t caller,
                               WriteAdmission::Ticket ticket,
                               ResolvedTarget target,
                               std::unique_ptr<StagedFile> staged,
                               CommitOptions options,
                               UsageLedger::Reservation quota,
                               std::optional<uint64_t> content_size)
    : deps_(deps),
      caller_(caller),
      ticket_(std::move(ticket)),
      target_(std::move(target)),
      staged_(std::move(staged)),
      options_(std::move(options)),
      quota_(std::move(quota)),
      content_size_(content_size) {}

WriteOperation::~WriteOperation() { Close(); }

void WriteOperation::Close() {
  if (staged_ == nullptr) return;
  closed_size_ = staged_->size();
  staged_.reset();  // removes the temp file unless it was published
  if (!published_) RemoveCreatedDirectories(*deps_.fs, target_);
}

absl::Status WriteOperation::Append(absl::string_view data) {
  const uint64_t limit = target_.rule->max_file_size;
  if (data.size() > limit - staged_->size()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the content exceeds ", limit,
        " bytes, the limit of the rule for root ", target_.root_label));
  }
  if (content_size_.has_value()) {
    if (data.size() > *content_size_ - staged_->size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the content is longer than the ", *content_size_,
                       " bytes announced"));
    }
  } else {
    absl::Status room = quota_.Grow(data.size());
    if (!room.ok()) return room;
  }
  absl::Status appended = staged_->Append(data);
  if (!appended.ok()) {
    return Annotate(appended, "cannot write the new content");
  }
  return absl::OkStatus();
}

void WriteOperation::Commit(std::function<bool()> abandon,
                            CommitQueue::Done done) {
  // The digest is checked (and a large file's data written back) here, so
  // that the commit queue gets only content it may publish or supersede.
  if (content_size_.has_value() && staged_->size() != *content_size_) {
    done(absl::InvalidArgumentError(
        absl::StrCat("the content is ", staged_->size(), " bytes, not the ",
                     *content_size_, " announced; nothing was published")));
    return;
  }
  absl::Status sealed = staged_->Seal(options_.expected_sha256);
  if (!sealed.ok()) {
    done(sealed);
    return;
  }
  CommitQueue::Request request;
  request.staged = staged_.get();
  request.options = options_;
  request.options.abandon = std::move(abandon);
  request.target = target_.key;
  request.tenant = caller_;
  request.done = [this,
                  done = std::move(done)](absl::StatusOr<CommitResult> result) {
    published_ = result.ok();
    if (result.ok() && !result->superseded) {
      quota_.SettlePublished(result->size, result->created,
                             result->replaced_size);
    }
    if (result.ok() && deps_.pending_directories != nullptr) {
      // Our directory may be one another write is still creating.
      absl::Status durable = deps_.pending_directories->SyncAll(*deps_.fs);
      if (!durable.ok()) result = durable;
    }
    done(std::move(result));
  };
  deps_.commits->Submit(std::move(request));
}

}  // namespace durable
