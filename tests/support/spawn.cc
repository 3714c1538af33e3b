#include "tests/support/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace durable::test {

absl::StatusOr<pid_t> Spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("empty argv");
  // Everything the child needs is prepared before fork.
  std::vector<std::string> argv_strings = options.argv;
  std::vector<char*> argv;
  for (std::string& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.push_back(*e);
  env_strings.insert(env_strings.end(), options.environment.begin(),
                     options.environment.end());
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const ProcessCredentials& who = options.credentials;
  const gid_t* group_list = who.groups.empty() ? nullptr : who.groups.data();
  const size_t group_count = who.groups.size();
  const int redirect[3] = {options.stdin_fd, options.stdout_fd,
                           options.stderr_fd};
  const pid_t parent = getpid();

  const pid_t pid = fork();
  if (pid < 0)
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    // Async-signal-safe calls only from here on.
    if (options.parent_death_signal != 0) {
      prctl(PR_SET_PDEATHSIG, options.parent_death_signal);
      if (getppid() != parent) _exit(126);
    }
    const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int target = 0; target < 3; ++target) {
      const int source = redirect[target] >= 0 ? redirect[target] : null_fd;
      if (dup2(source, target) < 0) _exit(126);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (who.drop) {
      if (setgroups(group_count, group_list) != 0) _exit(126);
      if (setgid(who.gid) != 0) _exit(126);
      if (setuid(who.uid) != 0) _exit(126);
    }
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  return pid;
}

bool CanConnect(const std::string& socket_path) {
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

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("signal ", WTERMSIG(status));
  return absl::StrCat("status ", status);
}

absl::Status WaitUntilListening(pid_t pid, const std::string& socket_path,
                                absl::Duration timeout, int* exit_status) {
  bool exited = false;
  int status = 0;
  const bool up = WaitFor(
      [&] {
        if (waitpid(pid, &status, WNOHANG) == pid) {
          exited = true;
          return true;
        }
        return CanConnect(socket_path);
      },
      timeout);
  if (exited) {
    if (exit_status != nullptr) *exit_status = status;
    return absl::InternalError(absl::StrCat("exited during start-up (",
                                            DescribeWaitStatus(status), ")"));
  }
  if (!up) {
    return absl::DeadlineExceededError(
        absl::StrCat("did not listen on ", socket_path, " within ",
                     absl::FormatDuration(timeout)));
  }
  return absl::OkStatus();
}

}  // namespace durable::test
