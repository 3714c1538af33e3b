#ifndef DURABLED_SERVER_ENGINE_PENDING_DIRECTORIES_H_
#define DURABLED_SERVER_ENGINE_PENDING_DIRECTORIES_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "server/base/unique_fd.h"
#include "server/engine/file_system.h"

namespace durable {

// Directories the daemon is creating (create_parents) whose entries in
// their parents are not yet durable. Another write may find such a
// directory and publish a file in it before its creator has fsynced the
// parent; a power cut then would take the acknowledged file with the
// directory. So every write, before it is acknowledged, makes the pending
// entries durable (SyncAll) — rare and cheap, since the set is empty unless
// a directory is being created at that moment.
class PendingDirectories {
 public:
  using Id = uint64_t;

  // Registers a directory about to be created in `parent`, before it is
  // created (so that no write can see it unregistered). `parent` is
  // reopened through `fs`; the caller keeps its own handle.
  absl::StatusOr<Id> Add(FileSystem& fs, int parent);

  // The entry is durable (or was never made): forget it.
  void Remove(Id id);

  // Fsyncs the parent of every pending entry.
  absl::Status SyncAll(FileSystem& fs);

 private:
  absl::Mutex mu_;
  Id next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<Id, std::shared_ptr<UniqueFd>> parents_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace durable

#endif  // DURABLED_SERVER_ENGINE_PENDING_DIRECTORIES_H_
