#ifndef DURABLED_SERVER_ENGINE_FILE_SYSTEM_H_
#define DURABLED_SERVER_ENGINE_FILE_SYSTEM_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/base/unique_fd.h"

namespace durable {

// What durabled needs to know about a file or directory.
struct FileInfo {
  uint64_t device = 0;
  uint64_t inode = 0;
  // Inode generation (FS_IOC_GETVERSION) where the filesystem has one, else
  // 0. Distinguishes two files that reused one inode number.
  uint64_t generation = 0;
  mode_t mode = 0;  // type and permission bits, as in st_mode
  uid_t uid = 0;
  gid_t gid = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t link_count = 0;
  // The mount the inode was reached through (statx STATX_MNT_ID), 0 where
  // unknown; a file whose mount differs from its directory's is a mount
  // point.
  uint64_t mount_id = 0;
};

struct Owner {
  uid_t uid = 0;
  gid_t gid = 0;
};

// One entry of a directory listing.
struct DirectoryEntry {
  std::string name;
  bool is_directory = false;  // d_type, or lstat where d_type is unknown
  bool is_regular = false;
};

enum class RenameMode {
  kReplace,    // atomically replace the destination if it exists
  kNoReplace,  // fail with ALREADY_EXISTS if the destination exists
  kExchange,   // atomically swap two existing names
};

// The narrow interface through which the write engine touches the
// filesystem (in the manner of LevelDB's Env). Every syscall of the durable
// write protocol is one method here, so tests can fail any single step or
// simulate the loss of everything that was not synced.
//
// Names are single path components relative to a directory fd; no method
// walks a path string except OpenDirectoryBeneath, which refuses symlinks,
// magic links and mount crossings. Errors carry the errno (see
// errno_status.h) and name the operation and operand.
class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Opens the directory `relative_path` (components separated by '/', or "."
  // for the root itself) beneath `root_fd` for reading, never following a
  // symlink or magic link, never leaving `root_fd` and never crossing a
  // mount point. PERMISSION_DENIED when a component is a symlink or a mount
  // point, NOT_FOUND when a component is missing or not a directory.
  virtual absl::StatusOr<UniqueFd> OpenDirectoryBeneath(
      int root_fd, const std::string& relative_path) = 0;

  // Creates the new regular file `name` in `dir_fd` for writing, failing
  // with ALREADY_EXISTS if any entry of that name exists (never follows a
  // symlink). The file starts with mode 0600.
  virtual absl::StatusOr<UniqueFd> CreateExclusive(int dir_fd,
                                                   const std::string& name) = 0;

  // Appends all of `data` at the file's offset, retrying short writes and
  // EINTR. On error an unknown prefix of `data` may have been written.
  virtual absl::Status Append(int fd, absl::string_view data) = 0;

  virtual absl::Status SetPermissions(int fd, mode_t permissions) = 0;

  // Sets the file's modification time to `mtime_ns` (nanoseconds since the
  // epoch), leaving its access time alone (futimens). The filesystem may
  // round it down to its timestamp granularity; Stat(fd) tells what was
  // stored.
  virtual absl::Status SetModificationTime(int fd, int64_t mtime_ns) = 0;
  virtual absl::Status SetOwner(int fd, uid_t uid, gid_t gid) = 0;

  // Makes the file's data and metadata durable (fsync). After an error the
  // file's durable content is unknown; the caller must not retry and
  // succeed on the same fd.
  virtual absl::Status SyncFile(int fd) = 0;

  // Makes everything on the filesystem of `fd` durable (syncfs): the data
  // and metadata of every file, and every directory's entries. Reports any
  // writeback error on that filesystem since `fd` was opened (Linux 5.8 and
  // later), so `fd` must be the earliest-opened of the files the caller
  // relies on. UNIMPLEMENTED where that error reporting cannot be relied on
  // (older kernels); the caller then syncs each file. After an error the
  // durable content of every file on the filesystem is unknown.
  virtual absl::Status SyncFilesystem(int fd) = 0;

  // Starts writeback of the byte range [offset, offset + length) of `fd`
  // and, with `wait`, waits for it (sync_file_range). Only a hint that
  // spreads a large file's flush over the time it is written and bounds its
  // dirty pages; it makes nothing durable. After an error the file's content
  // is unknown and it must not be published.
  virtual absl::Status WriteBehind(int fd, uint64_t offset, uint64_t length,
                                   bool wait) = 0;

  virtual absl::StatusOr<FileInfo> Stat(int fd) = 0;

  // Stats `name` in `dir_fd` without following a symlink. NOT_FOUND if
  // there is no such entry. For a regular file `generation` is filled in as
  // Stat(fd) would, so etags computed from either agree.
  virtual absl::StatusOr<FileInfo> StatAt(int dir_fd,
                                          const std::string& name) = 0;

  // As StatAt, but without the inode generation (0): one statx, where
  // StatAt must open the file to learn its generation. Enough to identify
  // the inode and to see its type, owner, mode, size and mtime.
  virtual absl::StatusOr<FileInfo> LookUp(int dir_fd,
                                          const std::string& name) = 0;

  // Creates directory `name` in `dir_fd` with mode 0700, owned by the
  // daemon's effective uid and gid, and nothing else: it is neither opened
  // nor given its final mode or owner. ALREADY_EXISTS if any entry of that
  // name exists. The new entry is not yet durable. Until the caller has
  // opened the new directory (OpenDirectoryBeneath) and verified it (Stat,
  // StatAt, ListDirectory), another process with write access to `dir_fd`
  // may have put something else under `name`; each step is a call of its
  // own so that tests can interpose there.
  virtual absl::Status MakeDirectory(int dir_fd, const std::string& name) = 0;

  // Lists the entries of `dir_fd` (without "." and ".."), in no particular
  // order.
  virtual absl::StatusOr<std::vector<DirectoryEntry>> ListDirectory(
      int dir_fd) = 0;

  // Reads the whole regular file `name` in `dir_fd` (never following a
  // symlink, never blocking on a FIFO). FAILED_PRECONDITION for anything
  // but a regular file, RESOURCE_EXHAUSTED if it holds more than
  // `max_bytes`. For the daemon's own small records (set commit records),
  // not for callers' content.
  virtual absl::StatusOr<std::string> ReadFileAt(int dir_fd,
                                                 const std::string& name,
                                                 size_t max_bytes) = 0;

  // Removes the empty directory `name` from `dir_fd`.
  virtual absl::Status RemoveDirectory(int dir_fd, const std::string& name) = 0;

  // Renames `from` to `to`, both in `dir_fd`, as `mode` says.
  // kNoReplace fails with ALREADY_EXISTS if `to` exists; kExchange requires
  // both names to exist. INVALID_ARGUMENT if the filesystem lacks the mode.
  virtual absl::Status Rename(int dir_fd, const std::string& from,
                              const std::string& to, RenameMode mode) = 0;

  // Makes the entries of directory `dir_fd` durable (fsync of the
  // directory). UNIMPLEMENTED when the filesystem documents that it does not
  // support syncing directories (EINVAL, ENOTSUP); any other error means the
  // directory's durable state is unknown.
  virtual absl::Status SyncDirectory(int dir_fd) = 0;

  // Removes the non-directory entry `name` from `dir_fd`.
  virtual absl::Status Unlink(int dir_fd, const std::string& name) = 0;

  // Gives the file `from` in `from_dir_fd` the further name `to` in
  // `to_dir_fd` (a hard link; linkat without AT_SYMLINK_FOLLOW, so a
  // symlink at `from` is linked itself, never followed). Both directories
  // must be on one filesystem. ALREADY_EXISTS if `to` exists. The new
  // entry is not yet durable (SyncDirectory(to_dir_fd)).
  virtual absl::Status Link(int from_dir_fd, const std::string& from,
                            int to_dir_fd, const std::string& to) = 0;

  // Creates the symlink `name` in `dir_fd` holding `target` (symlinkat),
  // which is stored as it is and never resolved here. ALREADY_EXISTS if
  // any entry of that name exists. Not yet durable (SyncDirectory).
  virtual absl::Status MakeSymlink(int dir_fd, const std::string& name,
                                   const std::string& target) = 0;

  // The target of symlink `name` in `dir_fd` (readlinkat). NOT_FOUND if
  // there is no such entry, FAILED_PRECONDITION if it is not a symlink.
  virtual absl::StatusOr<std::string> ReadSymlink(int dir_fd,
                                                  const std::string& name) = 0;
};

// fs.SyncDirectory(dir_fd), where "not supported" (UNIMPLEMENTED) counts as
// done, as it does everywhere in the daemon.
inline absl::Status SyncDirectoryWhereSupported(FileSystem& fs, int dir_fd) {
  absl::Status status = fs.SyncDirectory(dir_fd);
  return absl::IsUnimplemented(status) ? absl::OkStatus() : status;
}

}  // namespace durable

#endif  // DURABLED_SERVER_ENGINE_FILE_SYSTEM_H_
