#ifndef DURABLED_SERVER_POLICY_ROOT_LOCKS_H_
#define DURABLED_SERVER_POLICY_ROOT_LOCKS_H_

#include <sys/file.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/base/unique_fd.h"
#include "server/engine/inode_key.h"

namespace durable {

// Keeps two durabled processes off overlapping roots. Each daemon holds an
// exclusive flock(2) on every root directory it serves and a shared one on
// every directory above a root, up to "/". Two daemons whose roots nest
// therefore collide on the outer root (exclusive against shared), and two
// with the same root collide on it; daemons with disjoint roots share only
// shared locks. This matters because a daemon's start-up sweep deletes every
// temp file beneath its roots: it must never see another live daemon's.
//
// Directories are identified by (device, inode), and ancestors are found by
// walking "..", not the path string, so a root named through a symlinked
// ancestor or a bind mount still collides. The kernel drops the locks when
// the process exits, however it ends. Not thread-safe; main owns it.
class RootLocks {
 public:
  // One root to lock: its path (for messages) and an open handle (O_PATH is
  // enough) of the directory.
  struct Root {
    std::string path;
    int fd = -1;
  };

  RootLocks() = default;
  RootLocks(const RootLocks&) = delete;
  RootLocks& operator=(const RootLocks&) = delete;

  // Makes the held locks exactly those `roots` need, keeping locks already
  // held (so a reload never lets go of a root it keeps). On failure the
  // locks held before the call stay as they were and the status is
  // FAILED_PRECONDITION naming the root that overlaps another daemon's.
  absl::Status LockExactly(const std::vector<Root>& roots);

  // Number of directories locked (roots and their ancestors).
  size_t size() const { return held_.size(); }

 private:
  using Key = InodeKey;
  struct Lock {
    UniqueFd fd;            // O_RDONLY handle the flock is taken on
    int operation = 0;      // LOCK_EX or LOCK_SH
    std::string root_path;  // the root this lock serves, for messages
  };

  absl::flat_hash_map<Key, Lock> held_;
};

}  // namespace durable

#endif  // DURABLED_SERVER_POLICY_ROOT_LOCKS_H_
