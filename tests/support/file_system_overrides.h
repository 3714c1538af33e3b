// The whole FileSystem interface declared as overrides, for the test
// filesystems that intercept every call (FaultInjectionFileSystem,
// PowerLossFileSystem): one list to keep in step with
// server/engine/file_system.h instead of one per class.
#ifndef DURABLED_TESTS_SUPPORT_FILE_SYSTEM_OVERRIDES_H_
#define DURABLED_TESTS_SUPPORT_FILE_SYSTEM_OVERRIDES_H_

#include <string>
#include <vector>

#include "server/engine/file_system.h"

#define DURABLE_FILE_SYSTEM_OVERRIDES                                          \
  absl::StatusOr<UniqueFd> OpenDirectoryBeneath(                               \
      int root_fd, const std::string& relative_path) override;                 \
  absl::StatusOr<UniqueFd> CreateExclusive(int dir_fd,                         \
                                           const std::string& name) override;  \
  absl::Status Append(int fd, absl::string_view data) override;                \
  absl::Status SetPermissions(int fd, mode_t permissions) override;            \
  absl::Status SetModificationTime(int fd, int64_t mtime_ns) override;         \
  absl::Status SetOwner(int fd, uid_t uid, gid_t gid) override;                \
  absl::Status SyncFile(int fd) override;                                      \
  absl::Status SyncFilesystem(int fd) override;                                \
  absl::Status WriteBehind(int fd, uint64_t offset, uint64_t length,           \
                           bool wait) override;                                \
  absl::StatusOr<FileInfo> Stat(int fd) override;                              \
  absl::StatusOr<FileInfo> StatAt(int dir_fd, const std::string& name)         \
      override;                                                                \
  absl::StatusOr<FileInfo> LookUp(int dir_fd, const std::string& name)         \
      override;                                                                \
  absl::Status MakeDirectory(int dir_fd, const std::string& name) override;    \
  absl::StatusOr<std::vector<DirectoryEntry>> ListDirectory(int dir_fd)        \
      override;                                                                \
  absl::StatusOr<std::string> ReadFileAt(int dir_fd, const std::string& name,  \
                                         size_t max_bytes) override;           \
  absl::Status RemoveDirectory(int dir_fd, const std::string& name) override;  \
  absl::Status Rename(int dir_fd, const std::string& from,                     \
                      const std::string& to, RenameMode mode) override;        \
  absl::Status SyncDirectory(int dir_fd) override;                             \
  absl::Status Unlink(int dir_fd, const std::string& name) override;           \
  absl::Status Link(int from_dir_fd, const std::string& from, int to_dir_fd,   \
                    const std::string& to) override;                           \
  absl::Status MakeSymlink(int dir_fd, const std::string& name,                \
                           const std::string& target) override;                \
  absl::StatusOr<std::string> ReadSymlink(int dir_fd, const std::string& name) \
      override

#endif  // DURABLED_TESTS_SUPPORT_FILE_SYSTEM_OVERRIDES_H_
