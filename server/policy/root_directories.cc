#include "server/policy/root_directories.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace durable {

namespace {

// Appends a warning for each strict ancestor of `root` that a user other
// than root or the daemon could modify.
void CheckAncestors(const std::string& root, std::vector<std::string>* out) {
  std::string ancestor = root;
  while (ancestor != "/") {
    size_t slash = ancestor.rfind('/');
    ancestor = slash == 0 ? "/" : ancestor.substr(0, slash);
    struct stat st;
    if (lstat(ancestor.c_str(), &st) != 0) continue;
    const bool sticky = (st.st_mode & S_ISVTX) != 0;
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
      out->push_back(absl::StrCat("root ", root, ": its ancestor ", ancestor,
                                  " is owned by uid ", st.st_uid,
                                  ", who could move the root away and put "
                                  "another directory in its place"));
    } else if ((st.st_mode & S_IWOTH) && !sticky) {
      out->push_back(absl::StrCat("root ", root, ": its ancestor ", ancestor,
                                  " is writable by everyone"));
    } else if ((st.st_mode & S_IWGRP) && !sticky && st.st_gid != 0) {
      out->push_back(absl::StrCat("root ", root, ": its ancestor ", ancestor,
                                  " is writable by group ", st.st_gid));
    }
  }
}

}  // namespace

namespace {

// Opens `root` by path, refusing any symlink on the way.
long OpenRootPath(const std::string& root) {
  struct open_how how = {};
  // No O_NOFOLLOW: with O_DIRECTORY it reports a final symlink as ENOTDIR;
  // RESOLVE_NO_SYMLINKS refuses it as ELOOP, like every other symlink.
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long fd;
  int attempts = 16;
  do {
    fd = syscall(SYS_openat2, AT_FDCWD, root.c_str(), &how, sizeof(how));
  } while (fd < 0 && (errno == EINTR || errno == EAGAIN) && --attempts > 0);
  return fd;
}

}  // namespace

absl::StatusOr<RootDirectories> RootDirectories::Open(
    const std::vector<std::string>& roots) {
  RootDirectories result;
  for (const std::string& root : roots) {
    long fd = OpenRootPath(root);
    if (fd < 0) {
      const char* why = errno == ELOOP ? "its path contains a symbolic link"
                                       : strerror(errno);
      return absl::FailedPreconditionError(
          absl::StrCat("cannot open root ", root, ": ", why));
    }
    result.fds_.emplace_back(static_cast<int>(fd));
    struct stat st;
    if (fstat(static_cast<int>(fd), &st) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot stat root ", root, ": ", strerror(errno)));
    }
    result.identities_.push_back(DirectoryId{st.st_dev, st.st_ino});
    // Under systemd's ProtectSystem=strict every path outside the unit's
    // ReadWritePaths= is a read-only bind mount in the daemon's own mount
    // namespace: say so now, by name, not at the first write.
    struct statvfs vfs;
    if (fstatvfs(static_cast<int>(fd), &vfs) == 0 &&
        (vfs.f_flag & ST_RDONLY) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "root ", root,
          " is read-only in durabled's mount namespace: add it to the "
          "unit's ReadWritePaths= (the durabled generator does this: "
          "systemctl daemon-reload && systemctl restart durabled)"));
    }
    CheckAncestors(root, &result.warnings_);
  }
  return result;
}

absl::Status RootDirectories::VerifyInPlace(size_t index,
                                            const std::string& root,
                                            const std::string& label) const {
  const std::string& named = label.empty() ? root : label;
  UniqueFd now(static_cast<int>(OpenRootPath(root)));
  struct stat st;
  if (!now.valid()) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return absl::NotFoundError(absl::StrCat(
          "the root ", named,
          " was moved or removed after the daemon opened it; restore it and "
          "reload the daemon (SIGHUP)"));
    }
    return absl::PermissionDeniedError(
        absl::StrCat("the root ", named, " cannot be reopened safely: ",
                     errno == ELOOP ? "its path now contains a symbolic link"
                                    : strerror(errno)));
  }
  if (fstat(now.get(), &st) != 0 || st.st_dev != identities_[index].device ||
      st.st_ino != identities_[index].inode) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the root ", named,
        " is no longer the directory the daemon opened; reload the daemon "
        "(SIGHUP) if the change is intended"));
  }
  return absl::OkStatus();
}

}  // namespace durable
