#include "server/engine/pending_directories.h"
#include "server/base/errno_status.h"

#include <vector>

#include "absl/strings/str_cat.h"

namespace durable {

absl::StatusOr<PendingDirectories::Id> PendingDirectories::Add(FileSystem& fs,
                                                               int parent) {
  absl::StatusOr<UniqueFd> handle = fs.OpenDirectoryBeneath(parent, ".");
  if (!handle.ok()) return handle.status();
  auto shared = std::make_shared<UniqueFd>(std::move(*handle));
  absl::MutexLock lock(&mu_);
  Id id = next_id_++;
  parents_[id] = std::move(shared);
  return id;
}

void PendingDirectories::Remove(Id id) {
  absl::MutexLock lock(&mu_);
  parents_.erase(id);
}

absl::Status PendingDirectories::SyncAll(FileSystem& fs) {
  std::vector<std::shared_ptr<UniqueFd>> parents;
  {
    absl::MutexLock lock(&mu_);
    if (parents_.empty()) return absl::OkStatus();
    for (const auto& [id, parent] : parents_) parents.push_back(parent);
  }
  for (const std::shared_ptr<UniqueFd>& parent : parents) {
    absl::Status synced = fs.SyncDirectory(parent->get());
    if (!synced.ok() && !absl::IsUnimplemented(synced)) {
      return Annotate(synced,
                      "cannot make a directory created by a concurrent "
                      "write durable");
    }
  }
  return absl::OkStatus();
}

}  // namespace durable
