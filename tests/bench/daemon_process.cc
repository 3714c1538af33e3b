#include "tests/bench/daemon_process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/bench/bench_util.h"
#include "tests/support/spawn.h"

namespace durable::bench {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(20);
// Fine enough to measure a start-up of a few milliseconds.
constexpr absl::Duration kReadyPollInterval = absl::Milliseconds(1);

absl::Status WriteConfig(const DaemonSetup& setup) {
  std::ofstream config(setup.config_path);
  config << absl::StrFormat(
      "socket { path: \"%s\" mode: 0600 }\n"
      "rule { root: \"%s\" allow_uid: %d max_file_size: %d }\n",
      setup.socket_path, setup.root, getuid(), setup.max_file_size);
  config.close();
  if (!config) {
    return absl::InternalError(
        absl::StrCat("cannot write ", setup.config_path));
  }
  return absl::OkStatus();
}

absl::StatusOr<pid_t> SpawnDaemon(const DaemonSetup& setup) {
  const int log_fd = open(setup.log_path.c_str(),
                          O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return ErrnoStatus(setup.log_path, errno);
  test::SpawnOptions spawn;
  spawn.argv = {DURABLED_BINARY, "--config=" + setup.config_path};
  spawn.argv.insert(spawn.argv.end(), setup.extra_flags.begin(),
                    setup.extra_flags.end());
  spawn.stderr_fd = log_fd;
  // The daemon must not outlive a benchmark that crashes.
  spawn.parent_death_signal = SIGTERM;
  absl::StatusOr<pid_t> pid = test::Spawn(spawn);
  close(log_fd);
  return pid;
}

bool AnswersWhoAmI(ClientOptions options) {
  options.timeout = absl::Seconds(2);
  Client client(options);
  return client.WhoAmI().ok();
}

}  // namespace

absl::StatusOr<std::unique_ptr<DaemonProcess>> DaemonProcess::Start(
    const DaemonSetup& setup) {
  absl::Status written = WriteConfig(setup);
  if (!written.ok()) return written;
  const absl::Time started = absl::Now();
  absl::StatusOr<pid_t> pid = SpawnDaemon(setup);
  if (!pid.ok()) return pid.status();
  std::unique_ptr<DaemonProcess> daemon(new DaemonProcess(setup, *pid));
  absl::Status ready = daemon->WaitUntilAnswering(started);
  if (!ready.ok()) return ready;
  return daemon;
}

DaemonProcess::~DaemonProcess() {
  if (reaped_) return;
  kill(pid_, SIGKILL);
  Reap(0);
}

ClientOptions DaemonProcess::client_options() const {
  ClientOptions options;
  options.socket_path = setup_.socket_path;
  options.timeout = absl::Minutes(5);
  options.chunk_size = 1 << 20;
  return options;
}

absl::Status DaemonProcess::WaitUntilAnswering(absl::Time started) {
  const absl::Time deadline = started + kStartTimeout;
  // A fresh client per attempt: a failed connection would back off.
  while (!test::CanConnect(setup_.socket_path) ||
         !AnswersWhoAmI(client_options())) {
    Reap(WNOHANG);
    if (reaped_) {
      return absl::InternalError(
          absl::StrCat("durabled exited before answering: ", LogTail()));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("durabled did not answer within ",
                       absl::FormatDuration(kStartTimeout), ": ", LogTail()));
    }
    absl::SleepFor(kReadyPollInterval);
  }
  time_to_ready_ = absl::Now() - started;
  return absl::OkStatus();
}

int DaemonProcess::Reap(int options) {
  int status = 0;
  if (WaitForChild(pid_, &status, options) != pid_) return 0;
  reaped_ = true;
  return status;
}

absl::Status DaemonProcess::Stop() {
  if (reaped_) return absl::FailedPreconditionError("durabled already exited");
  kill(pid_, SIGTERM);
  const int status = Reap(0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(
        absl::StrCat("durabled did not exit 0 on SIGTERM (",
                     test::DescribeWaitStatus(status), "): ", LogTail()));
  }
  return absl::OkStatus();
}

std::string DaemonProcess::LogTail() const {
  const std::string text = ReadWholeFile(setup_.log_path).value_or("");
  constexpr size_t kTail = 2000;
  return text.size() <= kTail ? text : text.substr(text.size() - kTail);
}

}  // namespace durable::bench
