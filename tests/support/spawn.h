// The one way tests start another process: fork, optionally drop to other
// credentials, redirect stdin/stdout/stderr, set the environment, exec.
// Only async-signal-safe calls happen between fork and exec (the test
// binary has threads). Plus the small waits every caller of it needs.
// No gtest, no client: the benchmark links this too.
#ifndef DURABLED_TESTS_SUPPORT_SPAWN_H_
#define DURABLED_TESTS_SUPPORT_SPAWN_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace durable::test {

// The uid, gid and supplementary groups a child process runs as.
struct ProcessCredentials {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  // False: the child keeps the test's own credentials.
  bool drop = false;
};

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is the executable's path
  // "NAME=value" added to the inherited environment.
  std::vector<std::string> environment;
  // With `drop`, the child sets groups, gid and uid (in that order) before
  // exec and exits 126 if any fails. Needs root.
  ProcessCredentials credentials;
  // Parent fds that become the child's stdin, stdout and stderr; -1 is
  // /dev/null. They should be O_CLOEXEC (the child sees only 0, 1, 2).
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // Sent to the child when the parent dies (0: none), so that a child the
  // caller fails to stop does not outlive it.
  int parent_death_signal = 0;
};

// Starts the child with an empty signal mask (a service manager does not
// block signals; the test binary may) and returns its pid. A child that
// cannot exec exits 127.
absl::StatusOr<pid_t> Spawn(const SpawnOptions& options);

// Whether a connect(2) to the Unix socket at `socket_path` succeeds.
bool CanConnect(const std::string& socket_path);

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

// "exit N", "signal N" or "status N" for a waitpid status.
std::string DescribeWaitStatus(int status);

// Waits until `socket_path` accepts connections. Fails if `pid` exits first
// (it is then reaped and its status stored in `*exit_status`, if given) or
// after `timeout`.
absl::Status WaitUntilListening(pid_t pid, const std::string& socket_path,
                                absl::Duration timeout,
                                int* exit_status = nullptr);

}  // namespace durable::test

#endif  // DURABLED_TESTS_SUPPORT_SPAWN_H_
