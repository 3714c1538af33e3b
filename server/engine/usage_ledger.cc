#include "server/engine/usage_ledger.h"

#include <errno.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/base/errno_status.h"
#include "server/engine/file_replacer.h"

namespace durable {
namespace {

// Deeper trees are not counted further (and the root is refused): an
// unbounded recursion over a tree a caller built must not exhaust the stack.
constexpr int kMaxCountDepth = 256;

uint64_t Subtract(uint64_t from, uint64_t amount) {
  return amount > from ? 0 : from - amount;
}

}  // namespace

UsageLedger::Reservation::~Reservation() { Release(); }

UsageLedger::Reservation::Reservation(Reservation&& other) noexcept
    : root_(other.root_),
      limits_(other.limits_),
      label_(std::move(other.label_)),
      bytes_(other.bytes_),
      files_(other.files_),
      credit_(other.credit_) {
  other.root_ = nullptr;
}

UsageLedger::Reservation& UsageLedger::Reservation::operator=(
    Reservation&& other) noexcept {
  if (this != &other) {
    Release();
    root_ = other.root_;
    limits_ = other.limits_;
    label_ = std::move(other.label_);
    bytes_ = other.bytes_;
    files_ = other.files_;
    credit_ = other.credit_;
    other.root_ = nullptr;
  }
  return *this;
}

void UsageLedger::Reservation::Release() {
  if (root_ == nullptr) return;
  absl::MutexLock lock(&root_->mu);
  root_->reserved.bytes = Subtract(root_->reserved.bytes, bytes_);
  root_->reserved.files = Subtract(root_->reserved.files, files_);
  root_ = nullptr;
}

absl::Status UsageLedger::Reservation::Grow(uint64_t bytes) {
  const uint64_t covered = std::min(bytes, credit_);
  credit_ -= covered;
  bytes -= covered;
  if (root_ == nullptr || bytes == 0) return absl::OkStatus();
  absl::MutexLock lock(&root_->mu);
  const uint64_t total = root_->used.bytes + root_->reserved.bytes;
  if (limits_.max_bytes != 0 && bytes > Subtract(limits_.max_bytes, total)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the quota of root ", label_, " is ", limits_.max_bytes,
        " bytes (max_bytes): ", root_->used.bytes, " are used and ",
        root_->reserved.bytes,
        " held by writes in progress, and this content needs more"));
  }
  root_->reserved.bytes += bytes;
  bytes_ += bytes;
  return absl::OkStatus();
}

void UsageLedger::Reservation::SettlePublished(uint64_t new_size, bool created,
                                               uint64_t replaced_size) {
  if (root_ == nullptr) return;
  {
    absl::MutexLock lock(&root_->mu);
    root_->used.bytes = Subtract(root_->used.bytes + new_size, replaced_size);
    if (created) ++root_->used.files;
  }
  Release();
}

absl::Status UsageLedger::Count(int dir_fd, Usage* usage, int depth) {
  if (depth > kMaxCountDepth) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the tree is deeper than ", kMaxCountDepth,
                     " directories; its quota usage cannot be counted"));
  }
  absl::StatusOr<std::vector<DirectoryEntry>> entries =
      fs_->ListDirectory(dir_fd);
  if (!entries.ok()) return entries.status();
  for (const DirectoryEntry& entry : *entries) {
    // Temp files: swept at start, or writes in flight (held separately).
    if (absl::StartsWith(entry.name, kTempFilePrefix)) continue;
    if (entry.is_regular) {
      absl::StatusOr<FileInfo> info = fs_->LookUp(dir_fd, entry.name);
      if (!info.ok()) continue;  // gone meanwhile
      usage->bytes += info->size;
      ++usage->files;
    } else if (entry.is_directory) {
      absl::StatusOr<UniqueFd> sub =
          fs_->OpenDirectoryBeneath(dir_fd, entry.name);
      // A mount point (EXDEV) or a directory gone meanwhile is not counted.
      if (!sub.ok()) continue;
      absl::Status counted = Count(sub->get(), usage, depth + 1);
      if (!counted.ok()) return counted;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<UsageLedger::RootUsage*> UsageLedger::Find(int root_fd) {
  absl::StatusOr<FileInfo> info = fs_->Stat(root_fd);
  if (!info.ok()) return Annotate(info.status(), "cannot stat the root");
  RootUsage* root;
  {
    absl::MutexLock lock(&mu_);
    std::unique_ptr<RootUsage>& slot = roots_[Key{info->device, info->inode}];
    if (slot == nullptr) slot = std::make_unique<RootUsage>();
    root = slot.get();
  }
  absl::MutexLock lock(&root->mu);
  if (!root->counted) {
    // Under the root's own lock: other roots are not held up.
    Usage usage;
    absl::Status counted = Count(root_fd, &usage, 0);
    if (!counted.ok()) {
      return Annotate(counted, "cannot count the root's usage for its quota");
    }
    root->used = usage;
    root->counted = true;
  }
  return root;
}

absl::StatusOr<UsageLedger::Reservation> UsageLedger::Reserve(
    int root_fd, const QuotaLimits& limits, absl::string_view root_label,
    int dir_fd, const std::string& leaf, uint64_t new_size) {
  absl::StatusOr<RootUsage*> root = Find(root_fd);
  if (!root.ok()) return root.status();
  uint64_t bytes = new_size;
  uint64_t files = 1;
  uint64_t credit = 0;
  absl::StatusOr<FileInfo> existing = fs_->LookUp(dir_fd, leaf);
  if (existing.ok()) {
    bytes = Subtract(new_size, existing->size);
    credit = Subtract(existing->size, new_size);
    files = 0;
  }
  absl::MutexLock lock(&(*root)->mu);
  const Usage& used = (*root)->used;
  const Usage& reserved = (*root)->reserved;
  if (limits.max_files != 0 &&
      files > Subtract(limits.max_files, used.files + reserved.files)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the quota of root ", root_label, " is ", limits.max_files,
        " files (max_files): ", used.files, " exist and ", reserved.files,
        " more are being written; remove one first"));
  }
  if (limits.max_bytes != 0 &&
      bytes > Subtract(limits.max_bytes, used.bytes + reserved.bytes)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the quota of root ", root_label, " is ", limits.max_bytes,
        " bytes (max_bytes): ", used.bytes, " are used and ", reserved.bytes,
        " held by writes in progress, and this write needs ", bytes, " more"));
  }
  (*root)->reserved.bytes += bytes;
  (*root)->reserved.files += files;
  Reservation reservation;
  reservation.root_ = *root;
  reservation.limits_ = limits;
  reservation.label_ = std::string(root_label);
  reservation.bytes_ = bytes;
  reservation.files_ = files;
  reservation.credit_ = credit;
  return reservation;
}

void UsageLedger::RecordRemoval(int root_fd, uint64_t size) {
  absl::StatusOr<RootUsage*> root = Find(root_fd);
  if (!root.ok()) return;
  absl::MutexLock lock(&(*root)->mu);
  (*root)->used.bytes = Subtract((*root)->used.bytes, size);
  (*root)->used.files = Subtract((*root)->used.files, 1);
}

absl::StatusOr<UsageLedger::Usage> UsageLedger::UsageOf(int root_fd) {
  absl::StatusOr<RootUsage*> root = Find(root_fd);
  if (!root.ok()) return root.status();
  absl::MutexLock lock(&(*root)->mu);
  return (*root)->used;
}

}  // namespace durable
