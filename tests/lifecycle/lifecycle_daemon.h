// Helpers for the lifecycle tests: a durabled process started the way a
// service manager starts it (extra environment, an optional wrapper such as
// systemd-socket-activate, no waiting on our side unless asked), signalled
// and reaped by the test with bounded waits only.
#ifndef DURABLED_TESTS_LIFECYCLE_LIFECYCLE_DAEMON_H_
#define DURABLED_TESTS_LIFECYCLE_LIFECYCLE_DAEMON_H_

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "gtest/gtest.h"
#include "tests/lifecycle/lifecycle_util.h"
#include "tests/support/test_daemon.h"

namespace durable::test {

struct DaemonProcessOptions {
  // Config body; "{base}" becomes the scratch directory, "{uid}" our uid.
  std::string config =
      "socket { path: \"{base}/durabled.sock\" mode: 0600 }\n"
      "rule { root: \"{base}/data\" allow_uid: {uid} }\n";
  // Directories made under the scratch directory besides data/.
  std::vector<std::string> extra_dirs;
  // argv before the daemon's (e.g. systemd-socket-activate -l PATH).
  std::vector<std::string> wrapper;
  // Flags after --config.
  std::vector<std::string> flags;
  // "NAME=value" added to the inherited environment.
  std::vector<std::string> environment;
  // Socket to wait for (connectable) before Start returns; "" waits for
  // nothing. "{base}" is replaced in all of wrapper, flags, environment and
  // this.
  std::string wait_for_socket = "{base}/durabled.sock";
};

// A durabled process with its own scratch directory:
//   <base>/data/           root of the default rule
//   <base>/durabled.conf   <base>/durabled.log (stderr)
// The destructor stops it (SIGTERM, then SIGKILL after 30 s) if the test did
// not, and removes the scratch directory.
class DaemonProcess {
 public:
  static absl::StatusOr<std::unique_ptr<DaemonProcess>> Start(
      const DaemonProcessOptions& options = {}) {
    std::unique_ptr<DaemonProcess> daemon(new DaemonProcess());
    char base_template[] = "/tmp/durabled-lifecycle.XXXXXX";
    if (mkdtemp(base_template) == nullptr) {
      return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno)));
    }
    daemon->base_ = base_template;
    chmod(daemon->base_.c_str(), 0755);
    mkdir(daemon->data().c_str(), 0755);
    for (const std::string& dir : options.extra_dirs) {
      mkdir(daemon->Path(dir).c_str(), 0755);
    }
    daemon->WriteConfig(options.config);

    std::vector<std::string> args;
    for (const std::string& arg : options.wrapper) {
      args.push_back(daemon->Expand(arg));
    }
    args.push_back(DURABLED_BINARY);
    args.push_back("--config=" + daemon->config_path());
    for (const std::string& flag : options.flags) {
      args.push_back(daemon->Expand(flag));
    }
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) environment.push_back(*e);
    for (const std::string& e : options.environment) {
      environment.push_back(daemon->Expand(e));
    }
    std::vector<char*> argv, envp;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (std::string& e : environment) envp.push_back(e.data());
    envp.push_back(nullptr);

    int log_fd = open(daemon->log_path().c_str(),
                      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) return absl::InternalError("cannot create the daemon log");
    pid_t pid = fork();
    if (pid < 0) return absl::InternalError("fork failed");
    if (pid == 0) {
      // Only async-signal-safe calls from here on.
      dup2(log_fd, 2);
      int null_fd = open("/dev/null", O_RDWR);
      dup2(null_fd, 0);
      dup2(null_fd, 1);
      // The test binary may block signals; a service manager does not.
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    close(log_fd);
    daemon->pid_ = pid;

    if (!options.wait_for_socket.empty()) {
      const std::string socket = daemon->Expand(options.wait_for_socket);
      bool exited = false;
      bool up = WaitFor(
          [&] {
            if (daemon->Exited()) {
              exited = true;
              return true;
            }
            return CanConnect(socket);
          },
          absl::Seconds(30));
      if (exited) {
        return absl::InternalError(absl::StrCat(
            "durabled exited during start-up (",
            DescribeWaitStatus(*daemon->status_), "): ", daemon->Log()));
      }
      if (!up) {
        return absl::DeadlineExceededError(
            absl::StrCat("durabled did not listen on ", socket,
                         " within 30s: ", daemon->Log()));
      }
    }
    return daemon;
  }

  ~DaemonProcess() {
    if (pid_ > 0 && !Exited()) {
      kill(pid_, SIGTERM);
      std::optional<int> status = WaitForExit(absl::Seconds(30));
      if (!status.has_value()) {
        ADD_FAILURE() << "durabled ignored SIGTERM for 30s; killing it. Log:\n"
                      << Log();
        kill(pid_, SIGKILL);
        WaitForExit(absl::Seconds(30));
      } else {
        EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
            << "durabled did not exit 0 on SIGTERM ("
            << DescribeWaitStatus(*status) << "); log:\n"
            << Log();
      }
    }
    const std::string log = Log();
    EXPECT_FALSE(absl::StrContains(log, "Sanitizer")) << log;
    EXPECT_FALSE(absl::StrContains(log, "runtime error:")) << log;
    if (!base_.empty()) {
      std::string command = absl::StrCat("rm -rf '", base_, "'");
      if (std::system(command.c_str()) != 0) {
        // A leftover scratch directory under /tmp is harmless.
      }
    }
  }

  const std::string& base() const { return base_; }
  std::string Path(const std::string& relative) const {
    return base_ + "/" + relative;
  }
  std::string data() const { return Path("data"); }
  std::string socket_path() const { return Path("durabled.sock"); }
  std::string config_path() const { return Path("durabled.conf"); }
  std::string log_path() const { return Path("durabled.log"); }
  pid_t pid() const { return pid_; }

  // "{base}" and "{uid}" substituted.
  std::string Expand(const std::string& text) const {
    return absl::StrReplaceAll(
        text, {{"{base}", base_}, {"{uid}", std::to_string(getuid())}});
  }

  // Replaces the config file atomically (write beside, rename over), so a
  // reload never reads half a file.
  void WriteConfig(const std::string& body) const {
    const std::string staging = config_path() + ".new";
    WriteFileOrDie(staging, Expand(body));
    if (rename(staging.c_str(), config_path().c_str()) != 0) std::abort();
  }

  std::string Log() const {
    absl::StatusOr<std::string> log = ReadFile(log_path());
    return log.ok() ? *log : "";
  }

  // Occurrences of `needle` in the log.
  int CountInLog(const std::string& needle) const {
    const std::string log = Log();
    int count = 0;
    for (size_t at = log.find(needle); at != std::string::npos;
         at = log.find(needle, at + needle.size())) {
      ++count;
    }
    return count;
  }

  // Waits until `needle` occurs at least `count` times in the log.
  bool WaitForLog(const std::string& needle, int count = 1,
                  absl::Duration timeout = absl::Seconds(30)) const {
    return WaitFor([&] { return CountInLog(needle) >= count; }, timeout);
  }

  void Signal(int signal_number) const {
    if (pid_ > 0 && !status_.has_value()) kill(pid_, signal_number);
  }

  // Whether the process has exited (reaps it if so).
  bool Exited() {
    if (status_.has_value()) return true;
    int status = 0;
    pid_t reaped = waitpid(pid_, &status, WNOHANG);
    if (reaped == pid_) status_ = status;
    return status_.has_value();
  }

  // Waits up to `timeout` for the process to exit; its waitpid status, or
  // nullopt if it is still running.
  std::optional<int> WaitForExit(absl::Duration timeout) {
    WaitFor([&] { return Exited(); }, timeout);
    return status_;
  }

  std::unique_ptr<Client> NewClient(ClientOptions options = {}) const {
    if (options.socket_path == DefaultSocketPath()) {
      options.socket_path = socket_path();
    }
    options.timeout = absl::Seconds(60);
    return std::make_unique<Client>(options);
  }

 private:
  DaemonProcess() = default;
  std::string base_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// Names in `dir` that are durabled temp files.
inline std::vector<std::string> TempFilesIn(const std::string& dir) {
  std::vector<std::string> temps;
  for (const std::string& name : ListDirectory(dir)) {
    if (absl::StartsWith(name, ".durabled-tmp.")) temps.push_back(name);
  }
  return temps;
}

// Content for a WriteStream that is held open between its two pieces: the
// stream sends `first`, signals FirstSent, and waits (at most 20 s, within
// the daemon's idle timeout) until Release before sending `second`.
class HeldStream {
 public:
  HeldStream(std::string first, std::string second)
      : first_(std::move(first)), second_(std::move(second)) {}

  ChunkSource Source() {
    return [this](char* buffer, size_t capacity) -> absl::StatusOr<size_t> {
      const std::string* piece = nullptr;
      switch (calls_++) {
        case 0:
          piece = &first_;
          break;
        case 1:
          first_sent_.Notify();
          if (!release_.WaitForNotificationWithTimeout(absl::Seconds(20))) {
            return absl::DeadlineExceededError("the test never released");
          }
          piece = &second_;
          break;
        default:
          return 0;
      }
      EXPECT_LE(piece->size(), capacity);
      memcpy(buffer, piece->data(), piece->size());
      return piece->size();
    };
  }

  bool WaitUntilFirstSent(absl::Duration timeout) {
    return first_sent_.WaitForNotificationWithTimeout(timeout);
  }
  void Release() {
    if (!release_.HasBeenNotified()) release_.Notify();
  }
  size_t total_size() const { return first_.size() + second_.size(); }
  std::string content() const { return first_ + second_; }

 private:
  const std::string first_;
  const std::string second_;
  int calls_ = 0;
  absl::Notification first_sent_;
  absl::Notification release_;
};

}  // namespace durable::test

#endif  // DURABLED_TESTS_LIFECYCLE_LIFECYCLE_DAEMON_H_
