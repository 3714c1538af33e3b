#include "server/root_directories.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
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

absl::StatusOr<RootDirectories> RootDirectories::Open(
    const std::vector<std::string>& roots) {
  RootDirectories result;
  for (const std::string& root : roots) {
    struct open_how how = {};
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long fd;
    do {
      fd = syscall(SYS_openat2, AT_FDCWD, root.c_str(), &how, sizeof(how));
    } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
    if (fd < 0) {
      const char* why = errno == ELOOP ? "its path contains a symbolic link"
                                       : strerror(errno);
      return absl::FailedPreconditionError(
          absl::StrCat("cannot open root ", root, ": ", why));
    }
    result.fds_.emplace_back(static_cast<int>(fd));
    CheckAncestors(root, &result.warnings_);
  }
  return result;
}

}  // namespace durable
