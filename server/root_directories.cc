#include "server/root_directories.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace durable {

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
  }
  return result;
}

}  // namespace durable
