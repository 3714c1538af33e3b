#ifndef DURABLED_SERVER_ENGINE_DIRECTORY_SYNC_DEBT_H_
#define DURABLED_SERVER_ENGINE_DIRECTORY_SYNC_DEBT_H_

#include <cstdint>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "server/base/unique_fd.h"
#include "server/engine/file_system.h"

namespace durable {

// Directories whose fsync failed and has not been made good since. After a
// failed directory fsync the durable state of every entry in that directory
// is unknown, including entries of writes acknowledged earlier or later. So
// no later write or remove is acknowledged until each such directory has
// been fsynced successfully again (Settle).
//
// Entries are keyed by the directory's (device, inode) and hold a handle of
// their own (reopened through the FileSystem), so they stay valid after the
// failing operation closed its handle. Thread-safe.
class DirectorySyncDebt {
 public:
  // Records that an fsync of `dir_fd` failed. If the directory cannot be
  // stat'ed or reopened the debt cannot be tracked; that is logged.
  void Add(FileSystem& fs, int dir_fd);

  // A mark to take before an fsync of a directory begins; see Synced.
  uint64_t Epoch() const;

  // An fsync of directory (`device`, `inode`) that began after Epoch()
  // returned `epoch` succeeded: debts recorded before `epoch` are paid.
  void Synced(uint64_t device, uint64_t inode, uint64_t epoch);

  // Fsyncs every recorded directory again; each success pays its debt
  // (UNIMPLEMENTED counts as success, as for every directory fsync). Tries
  // all of them and returns the first error, naming the directory.
  absl::Status Settle(FileSystem& fs);

  bool empty() const;

 private:
  struct Entry {
    std::shared_ptr<UniqueFd> dir;
    uint64_t epoch = 0;  // when the latest failure was recorded
  };
  using Key = std::pair<uint64_t, uint64_t>;  // device, inode

  mutable absl::Mutex mu_;
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<Key, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace durable

#endif  // DURABLED_SERVER_ENGINE_DIRECTORY_SYNC_DEBT_H_
