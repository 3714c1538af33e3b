#include "tests/bench/bench_util.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace durable::bench {

absl::Status ErrnoStatus(absl::string_view what, int error_number) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(error_number)));
}

absl::Status CycleStatus(const CycleError& error) {
  return error.failed() ? ErrnoStatus(error.step, error.error_number)
                        : absl::OkStatus();
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

absl::Status MakeDirectory(const std::string& path) {
  if (mkdir(path.c_str(), 0755) != 0) {
    return ErrnoStatus(absl::StrCat("mkdir ", path), errno);
  }
  return absl::OkStatus();
}

pid_t WaitForChild(pid_t pid, int* status, int options) {
  pid_t waited;
  while ((waited = waitpid(pid, status, options)) < 0 && errno == EINTR) {
  }
  return waited;
}

}  // namespace durable::bench
