#include "server/engine/posix_file_system.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/base/errno_status.h"

namespace durable {
namespace {

// openat2 may fail with EAGAIN when a concurrent rename anywhere on the
// system races the lookup; retry a bounded number of times.
constexpr int kOpenat2Attempts = 16;

// One statx of `name` in `dir_fd` (or of `dir_fd` itself, with
// AT_EMPTY_PATH and ""), as a FileInfo without the generation. The mount id
// is filled in where the kernel has STATX_MNT_ID (Linux 5.8), else 0.
// Errors name `what`.
absl::StatusOr<FileInfo> StatxInfo(int dir_fd, const char* name, int flags,
                                   absl::string_view what) {
  struct statx stx;
  if (statx(dir_fd, name, flags | AT_SYMLINK_NOFOLLOW,
            STATX_BASIC_STATS | STATX_MNT_ID, &stx) != 0) {
    return SyscallError(errno, what);
  }
  FileInfo info;
  info.device = makedev(stx.stx_dev_major, stx.stx_dev_minor);
  info.inode = stx.stx_ino;
  info.mode = stx.stx_mode;
  info.uid = stx.stx_uid;
  info.gid = stx.stx_gid;
  info.size = stx.stx_size;
  info.mtime_ns = static_cast<int64_t>(stx.stx_mtime.tv_sec) * 1000000000 +
                  stx.stx_mtime.tv_nsec;
  info.link_count = stx.stx_nlink;
  if (stx.stx_mask & STATX_MNT_ID) info.mount_id = stx.stx_mnt_id;
  return info;
}

// readlink's first buffer; a longer target makes it grow.
constexpr size_t kInitialSymlinkBuffer = 256;

// The inode generation where the filesystem has one (ext4, xfs, btrfs,
// tmpfs), else 0.
uint64_t GenerationOf(int fd) {
  int generation = 0;
  if (ioctl(fd, FS_IOC_GETVERSION, &generation) != 0) return 0;
  return static_cast<uint32_t>(generation);
}

// syncfs returns writeback errors since Linux 5.8 (before, it always
// returned 0, so a batch flushed with it could hide a lost write).
bool KernelSyncfsReportsErrors() {
  struct utsname name;
  if (uname(&name) != 0) return false;
  int major = 0, minor = 0;
  if (std::sscanf(name.release, "%d.%d", &major, &minor) != 2) return false;
  return major > 5 || (major == 5 && minor >= 8);
}

}  // namespace

PosixFileSystem::PosixFileSystem(SyncObserver* observer)
    : observer_(observer),
      syncfs_reports_errors_(KernelSyncfsReportsErrors()) {}

absl::StatusOr<UniqueFd> PosixFileSystem::OpenDirectoryBeneath(
    int root_fd, const std::string& relative_path) {
  struct open_how how = {};
  // No O_NOFOLLOW: with O_DIRECTORY it turns a final symlink into ENOTDIR;
  // RESOLVE_NO_SYMLINKS already refuses it (ELOOP) like every other one.
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
                RESOLVE_NO_XDEV;
  const std::string& path = relative_path.empty() ? "." : relative_path;
  for (int attempt = 0; attempt < kOpenat2Attempts; ++attempt) {
    long fd = syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof(how));
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    if (errno == EINTR || errno == EAGAIN) continue;
    return SyscallError(errno, absl::StrCat("openat2(", path, ")"));
  }
  return SyscallError(EAGAIN, absl::StrCat("openat2(", path, ")"));
}

absl::StatusOr<UniqueFd> PosixFileSystem::CreateExclusive(
    int dir_fd, const std::string& name) {
  int fd;
  do {
    fd = openat(dir_fd, name.c_str(),
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return SyscallError(errno, absl::StrCat("create(", name, ")"));
  return UniqueFd(fd);
}

absl::Status PosixFileSystem::Append(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return SyscallError(errno, "write");
    }
    if (n == 0) return SyscallError(EIO, "write returned 0");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status PosixFileSystem::SetPermissions(int fd, mode_t permissions) {
  if (fchmod(fd, permissions) != 0) return SyscallError(errno, "fchmod");
  return absl::OkStatus();
}

absl::Status PosixFileSystem::SetModificationTime(int fd, int64_t mtime_ns) {
  struct timespec times[2];
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT;
  times[1].tv_sec = static_cast<time_t>(mtime_ns / 1000000000);
  times[1].tv_nsec = static_cast<long>(mtime_ns % 1000000000);
  if (futimens(fd, times) != 0) return SyscallError(errno, "futimens");
  return absl::OkStatus();
}

absl::Status PosixFileSystem::SetOwner(int fd, uid_t uid, gid_t gid) {
  if (fchown(fd, uid, gid) != 0) return SyscallError(errno, "fchown");
  return absl::OkStatus();
}

absl::Status PosixFileSystem::SyncFile(int fd) {
  // No EINTR retry: fsync is not interrupted by signals on Linux, and a
  // failed fsync must never be retried into a false success.
  const bool ok = fsync(fd) == 0;
  const int error_number = errno;
  if (observer_ != nullptr) observer_->OnSync(/*directory=*/false, ok);
  if (!ok) return SyscallError(error_number, "fsync");
  return absl::OkStatus();
}

absl::Status PosixFileSystem::SyncFilesystem(int fd) {
  if (!syncfs_reports_errors_) {
    return absl::UnimplementedError(
        "syncfs does not report writeback errors on this kernel (before "
        "Linux 5.8)");
  }
  const bool ok = syncfs(fd) == 0;
  const int error_number = errno;
  if (observer_ != nullptr) observer_->OnFilesystemSync(ok);
  if (!ok) return SyscallError(error_number, "syncfs");
  return absl::OkStatus();
}

absl::Status PosixFileSystem::WriteBehind(int fd, uint64_t offset,
                                          uint64_t length, bool wait) {
  unsigned int flags = SYNC_FILE_RANGE_WRITE;
  if (wait) flags |= SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WAIT_AFTER;
  if (sync_file_range(fd, static_cast<off64_t>(offset),
                      static_cast<off64_t>(length), flags) != 0) {
    return SyscallError(errno, "sync_file_range");
  }
  return absl::OkStatus();
}

absl::StatusOr<FileInfo> PosixFileSystem::Stat(int fd) {
  absl::StatusOr<FileInfo> info = StatxInfo(fd, "", AT_EMPTY_PATH, "fstat");
  if (info.ok()) info->generation = GenerationOf(fd);
  return info;
}

absl::StatusOr<FileInfo> PosixFileSystem::StatAt(int dir_fd,
                                                 const std::string& name) {
  // An O_PATH handle pins the inode without opening it: no side effects
  // even if the entry is a device or FIFO.
  UniqueFd handle(
      openat(dir_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!handle.valid()) {
    return SyscallError(errno, absl::StrCat("stat(", name, ")"));
  }
  absl::StatusOr<FileInfo> info = StatxInfo(handle.get(), "", AT_EMPTY_PATH,
                                            absl::StrCat("stat(", name, ")"));
  if (info.ok() && S_ISREG(info->mode)) {
    // The generation needs an open file; reopening the pinned inode through
    // /proc cannot be redirected to another file.
    std::string reopen = absl::StrCat("/proc/self/fd/", handle.get());
    UniqueFd file(
        open(reopen.c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
    if (file.valid()) info->generation = GenerationOf(file.get());
  }
  return info;
}

absl::StatusOr<FileInfo> PosixFileSystem::LookUp(int dir_fd,
                                                 const std::string& name) {
  return StatxInfo(dir_fd, name.c_str(), AT_NO_AUTOMOUNT,
                   absl::StrCat("stat(", name, ")"));
}

absl::Status PosixFileSystem::MakeDirectory(int dir_fd,
                                            const std::string& name) {
  if (mkdirat(dir_fd, name.c_str(), 0700) != 0) {
    return SyscallError(errno, absl::StrCat("mkdir(", name, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PosixFileSystem::ReadFileAt(int dir_fd,
                                                        const std::string& name,
                                                        size_t max_bytes) {
  const std::string what = absl::StrCat("read(", name, ")");
  UniqueFd fd(
      openat(dir_fd, name.c_str(),
             O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd.valid()) return SyscallError(errno, what);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return SyscallError(errno, what);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": not a regular file"));
  }
  std::string content;
  char buffer[8192];
  while (true) {
    const ssize_t got = read(fd.get(), buffer, sizeof(buffer));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return SyscallError(errno, what);
    if (got == 0) break;
    if (content.size() + static_cast<size_t>(got) > max_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat(what, ": more than ", max_bytes, " bytes"));
    }
    content.append(buffer, static_cast<size_t>(got));
  }
  return content;
}

absl::StatusOr<std::vector<DirectoryEntry>> PosixFileSystem::ListDirectory(
    int dir_fd) {
  // readdir consumes its own fd; reopen so the caller's fd keeps its offset.
  int listing_fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (listing_fd < 0) return SyscallError(errno, "open(directory listing)");
  DIR* dir = fdopendir(listing_fd);
  if (dir == nullptr) {
    int error_number = errno;
    close(listing_fd);
    return SyscallError(error_number, "fdopendir");
  }
  std::vector<DirectoryEntry> entries;
  errno = 0;
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    DirectoryEntry listed;
    listed.name = std::move(name);
    unsigned char type = entry->d_type;
    if (type == DT_UNKNOWN) {
      struct stat st;
      if (fstatat(listing_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : 0;
      }
    }
    listed.is_directory = type == DT_DIR;
    listed.is_regular = type == DT_REG;
    entries.push_back(std::move(listed));
  }
  int error_number = errno;
  closedir(dir);
  if (error_number != 0) return SyscallError(error_number, "readdir");
  return entries;
}

absl::Status PosixFileSystem::RemoveDirectory(int dir_fd,
                                              const std::string& name) {
  if (unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0) {
    return SyscallError(errno, absl::StrCat("rmdir(", name, ")"));
  }
  return absl::OkStatus();
}

absl::Status PosixFileSystem::Rename(int dir_fd, const std::string& from,
                                     const std::string& to, RenameMode mode) {
  unsigned int flags = 0;
  if (mode == RenameMode::kNoReplace) flags = RENAME_NOREPLACE;
  if (mode == RenameMode::kExchange) flags = RENAME_EXCHANGE;
  if (renameat2(dir_fd, from.c_str(), dir_fd, to.c_str(), flags) != 0) {
    return SyscallError(errno, absl::StrCat("rename(", from, " -> ", to, ")"));
  }
  return absl::OkStatus();
}

absl::Status PosixFileSystem::SyncDirectory(int dir_fd) {
  const bool ok = fsync(dir_fd) == 0;
  if (observer_ != nullptr) observer_->OnSync(/*directory=*/true, ok);
  if (!ok) {
    int error_number = errno;
    if (error_number == EINVAL || error_number == ENOTSUP) {
      return absl::UnimplementedError(
          "fsync of a directory is not supported by this filesystem");
    }
    return SyscallError(error_number, "fsync(directory)");
  }
  return absl::OkStatus();
}

absl::Status PosixFileSystem::Unlink(int dir_fd, const std::string& name) {
  if (unlinkat(dir_fd, name.c_str(), 0) != 0) {
    return SyscallError(errno, absl::StrCat("unlink(", name, ")"));
  }
  return absl::OkStatus();
}

absl::Status PosixFileSystem::Link(int from_dir_fd, const std::string& from,
                                   int to_dir_fd, const std::string& to) {
  // Flags 0, not AT_SYMLINK_FOLLOW: a symlink at `from` is linked itself.
  if (linkat(from_dir_fd, from.c_str(), to_dir_fd, to.c_str(), 0) != 0) {
    return SyscallError(errno, absl::StrCat("link(", from, " -> ", to, ")"));
  }
  return absl::OkStatus();
}

absl::Status PosixFileSystem::MakeSymlink(int dir_fd, const std::string& name,
                                          const std::string& target) {
  if (symlinkat(target.c_str(), dir_fd, name.c_str()) != 0) {
    return SyscallError(errno,
                        absl::StrCat("symlink(", name, " -> ", target, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PosixFileSystem::ReadSymlink(
    int dir_fd, const std::string& name) {
  const std::string what = absl::StrCat("readlink(", name, ")");
  std::string target(kInitialSymlinkBuffer, '\0');
  while (true) {
    const ssize_t got =
        readlinkat(dir_fd, name.c_str(), target.data(), target.size());
    if (got < 0) {
      // EINVAL is readlink's "not a symlink": a question about what the
      // entry is, not a bad argument.
      if (errno == EINVAL) {
        return SyscallErrorWithCode(absl::StatusCode::kFailedPrecondition,
                                    errno,
                                    absl::StrCat(what, ": not a symlink"));
      }
      return SyscallError(errno, what);
    }
    // readlink truncates silently; a full buffer may hold only a prefix.
    if (static_cast<size_t>(got) < target.size()) {
      target.resize(static_cast<size_t>(got));
      return target;
    }
    target.resize(target.size() * 2);
  }
}

}  // namespace durable
