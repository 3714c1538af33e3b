#include "server/engine/directory_sync_debt.h"

#include <sys/sysmacros.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/base/errno_status.h"
#include "server/base/logging.h"

namespace durable {

void DirectorySyncDebt::Add(FileSystem& fs, int dir_fd) {
  absl::StatusOr<FileInfo> info = fs.Stat(dir_fd);
  absl::StatusOr<UniqueFd> handle =
      info.ok() ? fs.OpenDirectoryBeneath(dir_fd, ".")
                : absl::StatusOr<UniqueFd>(info.status());
  if (!handle.ok()) {
    LogError(absl::StrCat(
        "cannot remember a directory whose fsync failed, so later writes in "
        "it cannot wait for it to be synced again: ",
        handle.status().message()));
    return;
  }
  absl::MutexLock lock(&mu_);
  Entry& entry = entries_[Key(info->device, info->inode)];
  entry.dir = std::make_shared<UniqueFd>(std::move(*handle));
  entry.epoch = ++epoch_;
}

uint64_t DirectorySyncDebt::Epoch() const {
  absl::MutexLock lock(&mu_);
  return epoch_;
}

void DirectorySyncDebt::Synced(uint64_t device, uint64_t inode,
                               uint64_t epoch) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(Key(device, inode));
  // A failure recorded after the fsync began may not be covered by it.
  if (it != entries_.end() && it->second.epoch <= epoch) entries_.erase(it);
}

absl::Status DirectorySyncDebt::Settle(FileSystem& fs) {
  struct Pending {
    Key key;
    std::shared_ptr<UniqueFd> dir;
  };
  std::vector<Pending> pending;
  uint64_t epoch;
  {
    absl::MutexLock lock(&mu_);
    if (entries_.empty()) return absl::OkStatus();
    epoch = epoch_;
    for (const auto& [key, entry] : entries_) {
      pending.push_back(Pending{key, entry.dir});
    }
  }
  absl::Status first_error;
  for (const Pending& dir : pending) {
    absl::Status synced = fs.SyncDirectory(dir.dir->get());
    if (synced.ok() || absl::IsUnimplemented(synced)) {
      Synced(dir.key.first, dir.key.second, epoch);
    } else if (first_error.ok()) {
      first_error = Annotate(
          synced, absl::StrFormat("directory %d:%d inode %d, whose fsync "
                                  "failed earlier, still cannot be made "
                                  "durable",
                                  major(dir.key.first), minor(dir.key.first),
                                  dir.key.second));
    }
  }
  return first_error;
}

bool DirectorySyncDebt::empty() const {
  absl::MutexLock lock(&mu_);
  return entries_.empty();
}

}  // namespace durable
