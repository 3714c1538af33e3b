#include "server/policy/root_locks.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/base/errno_status.h"

namespace durable {
namespace {

// The path the kernel knows for `fd`, for messages only.
std::string PathOf(int fd) {
  char buffer[4096];
  const std::string link = absl::StrCat("/proc/self/fd/", fd);
  ssize_t n = readlink(link.c_str(), buffer, sizeof(buffer) - 1);
  if (n <= 0) return "(unknown directory)";
  return std::string(buffer, static_cast<size_t>(n));
}

}  // namespace

absl::Status RootLocks::LockExactly(const std::vector<Root>& roots) {
  struct Wanted {
    int operation = LOCK_SH;
    std::string root_path;
    UniqueFd fd;  // invalid: cannot be opened for locking, skipped
  };
  absl::flat_hash_map<Key, Wanted> wanted;

  auto identify = [](int fd) -> absl::StatusOr<Key> {
    struct stat st;
    if (fstat(fd, &st) != 0) return SyscallError(errno, "fstat");
    return Key{static_cast<uint64_t>(st.st_dev),
               static_cast<uint64_t>(st.st_ino)};
  };

  for (const Root& root : roots) {
    UniqueFd locked(
        openat(root.fd, ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!locked.valid()) {
      return SyscallError(errno, absl::StrCat("cannot open the root ",
                                              root.path, " to lock it"));
    }
    absl::StatusOr<Key> key = identify(locked.get());
    if (!key.ok()) return key.status();
    Wanted& entry = wanted[*key];
    entry.operation = LOCK_EX;
    entry.root_path = root.path;
    entry.fd = std::move(locked);

    // Every directory above the root, by "..", up to the filesystem root.
    UniqueFd current(openat(root.fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
    Key current_key = *key;
    while (current.valid()) {
      UniqueFd parent(
          openat(current.get(), "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!parent.valid()) break;
      absl::StatusOr<Key> parent_key = identify(parent.get());
      if (!parent_key.ok() || *parent_key == current_key) break;
      auto [it, inserted] = wanted.try_emplace(*parent_key);
      if (inserted) {
        it->second.root_path = root.path;
        // A directory the daemon may not read (an unprivileged daemon) is
        // left unlocked; the others still detect the overlap.
        it->second.fd = UniqueFd(
            openat(parent.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      }
      current = std::move(parent);
      current_key = *parent_key;
    }
  }

  // Take what is missing; remember what to undo if a lock is refused.
  std::vector<std::pair<Key, int>> converted;  // key, operation before
  std::vector<Key> acquired;
  absl::Status refused;
  for (auto& [key, want] : wanted) {
    auto held = held_.find(key);
    int fd = -1;
    if (held != held_.end()) {
      if (held->second.operation == want.operation) continue;
      fd = held->second.fd.get();
    } else if (want.fd.valid()) {
      fd = want.fd.get();
    } else {
      continue;
    }
    if (flock(fd, want.operation | LOCK_NB) != 0) {
      const int error_number = errno;
      if (error_number != EWOULDBLOCK) {
        refused = SyscallError(
            error_number, absl::StrCat("flock(", PathOf(fd), ") for the root ",
                                       want.root_path));
      } else if (want.operation == LOCK_EX) {
        refused = absl::FailedPreconditionError(absl::StrCat(
            "the root ", want.root_path,
            " is in use by another running durabled, which serves it or a "
            "root beneath it; two daemons must never share a directory, "
            "because each one's start-up sweep deletes the other's "
            "temp files"));
      } else {
        refused = absl::FailedPreconditionError(absl::StrCat(
            "the root ", want.root_path, " lies beneath ", PathOf(fd),
            ", a root of another running durabled; two daemons must never "
            "share a directory, because each one's start-up sweep deletes "
            "the other's temp files"));
      }
      break;
    }
    if (held != held_.end()) {
      converted.emplace_back(key, held->second.operation);
      held->second.operation = want.operation;
    } else {
      acquired.push_back(key);
    }
  }

  if (!refused.ok()) {
    for (const auto& [key, operation] : converted) {
      Lock& lock = held_[key];
      // flock converts by unlocking first, so this can fail only if another
      // daemon slipped in; the lock is then lost, which the next start sees.
      flock(lock.fd.get(), operation | LOCK_NB);
      lock.operation = operation;
    }
    for (const Key& key : acquired) {
      flock(wanted[key].fd.get(), LOCK_UN);
    }
    return refused;
  }

  for (const Key& key : acquired) {
    Wanted& want = wanted[key];
    held_[key] = Lock{std::move(want.fd), want.operation, want.root_path};
  }
  // Closing the only handle of a lock releases it.
  for (auto it = held_.begin(); it != held_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
    } else {
      held_.erase(it++);
    }
  }
  return absl::OkStatus();
}

}  // namespace durable
