#ifndef DURABLED_TESTS_SUPPORT_FORWARDING_FILE_SYSTEM_H_
#define DURABLED_TESTS_SUPPORT_FORWARDING_FILE_SYSTEM_H_

#include <string>
#include <vector>

#include "server/engine/file_system.h"

namespace durable {

// A FileSystem that forwards every call to another one. Tests derive from
// it to change one method (break a step of the protocol, fake a device
// number) and keep the rest. `base` must outlive this object.
class ForwardingFileSystem : public FileSystem {
 public:
  explicit ForwardingFileSystem(FileSystem* base) : base_(base) {}

  absl::StatusOr<UniqueFd> OpenDirectoryBeneath(
      int root_fd, const std::string& relative_path) override {
    return base_->OpenDirectoryBeneath(root_fd, relative_path);
  }
  absl::StatusOr<UniqueFd> CreateExclusive(int dir_fd,
                                           const std::string& name) override {
    return base_->CreateExclusive(dir_fd, name);
  }
  absl::Status Append(int fd, absl::string_view data) override {
    return base_->Append(fd, data);
  }
  absl::Status SetPermissions(int fd, mode_t permissions) override {
    return base_->SetPermissions(fd, permissions);
  }
  absl::Status SetModificationTime(int fd, int64_t mtime_ns) override {
    return base_->SetModificationTime(fd, mtime_ns);
  }
  absl::Status SetOwner(int fd, uid_t uid, gid_t gid) override {
    return base_->SetOwner(fd, uid, gid);
  }
  absl::Status SyncFile(int fd) override { return base_->SyncFile(fd); }
  absl::Status SyncFilesystem(int fd) override {
    return base_->SyncFilesystem(fd);
  }
  absl::Status WriteBehind(int fd, uint64_t offset, uint64_t length,
                           bool wait) override {
    return base_->WriteBehind(fd, offset, length, wait);
  }
  absl::StatusOr<FileInfo> Stat(int fd) override { return base_->Stat(fd); }
  absl::StatusOr<FileInfo> StatAt(int dir_fd,
                                  const std::string& name) override {
    return base_->StatAt(dir_fd, name);
  }
  absl::StatusOr<FileInfo> LookUp(int dir_fd,
                                  const std::string& name) override {
    return base_->LookUp(dir_fd, name);
  }
  absl::Status MakeDirectory(int dir_fd, const std::string& name) override {
    return base_->MakeDirectory(dir_fd, name);
  }
  absl::StatusOr<std::vector<DirectoryEntry>> ListDirectory(
      int dir_fd) override {
    return base_->ListDirectory(dir_fd);
  }
  absl::StatusOr<std::string> ReadFileAt(int dir_fd, const std::string& name,
                                         size_t max_bytes) override {
    return base_->ReadFileAt(dir_fd, name, max_bytes);
  }
  absl::Status RemoveDirectory(int dir_fd, const std::string& name) override {
    return base_->RemoveDirectory(dir_fd, name);
  }
  absl::Status Rename(int dir_fd, const std::string& from,
                      const std::string& to, RenameMode mode) override {
    return base_->Rename(dir_fd, from, to, mode);
  }
  absl::Status SyncDirectory(int dir_fd) override {
    return base_->SyncDirectory(dir_fd);
  }
  absl::Status Unlink(int dir_fd, const std::string& name) override {
    return base_->Unlink(dir_fd, name);
  }
  absl::Status Link(int from_dir_fd, const std::string& from, int to_dir_fd,
                    const std::string& to) override {
    return base_->Link(from_dir_fd, from, to_dir_fd, to);
  }
  absl::Status MakeSymlink(int dir_fd, const std::string& name,
                           const std::string& target) override {
    return base_->MakeSymlink(dir_fd, name, target);
  }
  absl::StatusOr<std::string> ReadSymlink(int dir_fd,
                                          const std::string& name) override {
    return base_->ReadSymlink(dir_fd, name);
  }

 protected:
  FileSystem* base() const { return base_; }

 private:
  FileSystem* const base_;
};

}  // namespace durable

#endif  // DURABLED_TESTS_SUPPORT_FORWARDING_FILE_SYSTEM_H_
