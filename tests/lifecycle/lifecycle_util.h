// Helpers for the lifecycle tests that need neither the client nor the
// daemon fixture (units_test includes server/ headers, which the client's
// header must not meet in one translation unit).
#ifndef DURABLED_TESTS_LIFECYCLE_LIFECYCLE_UTIL_H_
#define DURABLED_TESTS_LIFECYCLE_LIFECYCLE_UTIL_H_

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace durable::test {

// The checkout this test was built from (for deploy/ files).
inline std::string SourceDir() {
  std::string header = __FILE__;  // <source>/tests/lifecycle/lifecycle_util.h
  for (int i = 0; i < 3; ++i) header = header.substr(0, header.rfind('/'));
  return header;
}

// First of `candidates` that is an executable file, or "".
inline std::string FindExecutable(const std::vector<std::string>& candidates) {
  for (const std::string& path : candidates) {
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

inline bool CanConnect(const std::string& socket_path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  strncpy(address.sun_path, socket_path.c_str(), sizeof(address.sun_path) - 1);
  bool ok =
      connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return ok;
}

// Polls `condition` every 10 ms until it holds or `timeout` passes.
template <typename Condition>
bool WaitFor(Condition condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

inline std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("signal ", WTERMSIG(status));
  return absl::StrCat("status ", status);
}

}  // namespace durable::test

#endif  // DURABLED_TESTS_LIFECYCLE_LIFECYCLE_UTIL_H_
