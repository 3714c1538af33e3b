#include "tests/support/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "tests/support/spawn.h"

namespace durable::test {

CommandResult RunCommand(const Command& command) {
  SpawnOptions spawn;
  spawn.argv = command.argv;
  spawn.environment = command.environment;
  if (command.uid.has_value() || command.gid.has_value()) {
    spawn.credentials.drop = true;
    spawn.credentials.uid = command.uid.value_or(getuid());
    spawn.credentials.gid = command.gid.value_or(getgid());
  }

  // A child that exits before reading all of stdin must not kill us.
  signal(SIGPIPE, SIG_IGN);
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
      pipe2(err, O_CLOEXEC) != 0) {
    std::abort();
  }
  spawn.stdin_fd = in[0];
  spawn.stdout_fd = out[1];
  spawn.stderr_fd = err[1];
  absl::StatusOr<pid_t> spawned = Spawn(spawn);
  if (!spawned.ok()) std::abort();
  const pid_t pid = *spawned;
  close(in[0]);
  close(out[1]);
  close(err[1]);

  CommandResult result;
  size_t written = 0;
  int stdin_fd = in[1];
  if (command.stdin_data.empty()) {
    close(stdin_fd);
    stdin_fd = -1;
  } else {
    fcntl(stdin_fd, F_SETFL, O_NONBLOCK);
  }
  bool out_open = true, err_open = true;
  char buffer[65536];
  while (out_open || err_open || stdin_fd >= 0) {
    pollfd fds[3] = {{out_open ? out[0] : -1, POLLIN, 0},
                     {err_open ? err[0] : -1, POLLIN, 0},
                     {stdin_fd, POLLOUT, 0}};
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      std::abort();
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buffer, n);
      } else if (n == 0 || errno != EINTR) {
        (i == 0 ? out_open : err_open) = false;
      }
    }
    if (stdin_fd >= 0 && fds[2].revents != 0) {
      ssize_t n = write(stdin_fd, command.stdin_data.data() + written,
                        command.stdin_data.size() - written);
      if (n > 0) written += n;
      if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
          written == command.stdin_data.size()) {
        close(stdin_fd);
        stdin_fd = -1;
      }
    }
  }
  close(out[0]);
  close(err[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace durable::test
