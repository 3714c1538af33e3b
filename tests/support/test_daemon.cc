#include "tests/support/test_daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/spawn.h"

namespace durable::test {

absl::StatusOr<std::unique_ptr<TestDaemon>> TestDaemon::Start(
    const std::string& config_body,
    const std::vector<std::string>& extra_dirs) {
  TestDaemonOptions options;
  options.config = config_body;
  options.extra_dirs = extra_dirs;
  return Start(options);
}

absl::StatusOr<std::unique_ptr<TestDaemon>> TestDaemon::Start(
    const TestDaemonOptions& options) {
  std::unique_ptr<TestDaemon> daemon(new TestDaemon());
  daemon->options_ = options;
  char base_template[] = "/tmp/durabled-test.XXXXXX";
  if (mkdtemp(base_template) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno)));
  }
  daemon->base_ = base_template;
  std::vector<std::string> dirs = {"data", "outside"};
  dirs.insert(dirs.end(), options.extra_dirs.begin(), options.extra_dirs.end());
  chmod(daemon->base_.c_str(), 0755);
  for (const std::string& dir : dirs) {
    const std::string path = daemon->Path(dir);
    mkdir(path.c_str(), 0755);
    chmod(path.c_str(), 0755);
  }
  daemon->WriteConfig(options.config);
  absl::Status launched = daemon->Launch(/*append_log=*/false);
  if (!launched.ok()) return launched;
  return daemon;
}

absl::Status TestDaemon::Restart() {
  if (pid_ > 0 && !Exited()) {
    return absl::FailedPreconditionError("durabled still runs");
  }
  return Launch(/*append_log=*/true);
}

absl::Status TestDaemon::Launch(bool append_log) {
  SpawnOptions spawn;
  for (const std::string& arg : options_.wrapper) {
    spawn.argv.push_back(Expand(arg));
  }
  spawn.argv.push_back(DURABLED_BINARY);
  spawn.argv.push_back("--config=" + config_path());
  for (const std::string& flag : options_.flags) {
    spawn.argv.push_back(Expand(flag));
  }
  for (const std::string& e : options_.environment) {
    spawn.environment.push_back(Expand(e));
  }
  absl::StatusOr<std::string> earlier_log = ReadFile(log_path());
  const size_t log_start =
      append_log && earlier_log.ok() ? earlier_log->size() : 0;
  const int log_fd = open(
      log_path().c_str(),
      O_WRONLY | O_CREAT | O_CLOEXEC | (append_log ? O_APPEND : O_TRUNC), 0644);
  if (log_fd < 0) return absl::InternalError("cannot create the daemon log");
  spawn.stderr_fd = log_fd;
  absl::StatusOr<pid_t> pid = Spawn(spawn);
  close(log_fd);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  status_.reset();

  if (options_.wait_for_socket.empty()) return absl::OkStatus();
  int exit_status = 0;
  absl::Status up = WaitUntilListening(pid_, Expand(options_.wait_for_socket),
                                       options_.start_timeout, &exit_status);
  if (absl::IsInternal(up)) status_ = exit_status;  // reaped
  if (!up.ok()) {
    return absl::Status(up.code(),
                        absl::StrCat("durabled ", up.message(), ": ", Log()));
  }
  // The socket takes connections (into its backlog) before the start-up
  // sweep has run; the daemon is ready once it says so. If it exits
  // instead, the caller sees that through Exited().
  const bool ready = WaitFor(
      [&] {
        return Exited() ||
               Log().find("durabled listening on", log_start) !=
                   std::string::npos;
      },
      options_.start_timeout);
  if (!ready) {
    return absl::DeadlineExceededError(absl::StrCat(
        "durabled took connections but did not say it was listening within ",
        absl::FormatDuration(options_.start_timeout), ": ", Log()));
  }
  return absl::OkStatus();
}

TestDaemon::~TestDaemon() {
  if (pid_ > 0 && !Exited()) {
    // A clean stop is part of every test: SIGTERM must exit 0, and a
    // sanitizer build must have found nothing in the daemon.
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
      // Best effort: a leftover scratch dir under /tmp is harmless.
    }
  }
}

std::string TestDaemon::Expand(const std::string& text) const {
  // "${uid}" is the daemon's own placeholder (per-caller roots): kept.
  constexpr char kKept[] = "<daemon-uid-placeholder>";
  std::string expanded = absl::StrReplaceAll(text, {{"${uid}", kKept}});
  expanded = absl::StrReplaceAll(
      expanded, {{"{base}", base_}, {"{uid}", std::to_string(getuid())}});
  return absl::StrReplaceAll(expanded, {{kKept, "${uid}"}});
}

void TestDaemon::WriteConfig(const std::string& body) const {
  const std::string staging = config_path() + ".new";
  WriteFileOrDie(staging, Expand(body));
  if (rename(staging.c_str(), config_path().c_str()) != 0) std::abort();
}

std::string TestDaemon::Log() const {
  absl::StatusOr<std::string> log = ReadFile(log_path());
  return log.ok() ? *log : "";
}

int TestDaemon::CountInLog(const std::string& needle) const {
  const std::string log = Log();
  int count = 0;
  for (size_t at = log.find(needle); at != std::string::npos;
       at = log.find(needle, at + needle.size())) {
    ++count;
  }
  return count;
}

bool TestDaemon::WaitForLog(const std::string& needle, int count,
                            absl::Duration timeout) const {
  return WaitFor([&] { return CountInLog(needle) >= count; }, timeout);
}

std::unique_ptr<Client> TestDaemon::NewClient(ClientOptions options) const {
  if (options.socket_path == DefaultSocketPath()) {
    options.socket_path = socket_path();
  }
  options.timeout = absl::Seconds(60);
  return std::make_unique<Client>(options);
}

void TestDaemon::Signal(int signal_number) const {
  if (pid_ > 0 && !status_.has_value()) kill(pid_, signal_number);
}

bool TestDaemon::Exited() {
  if (status_.has_value()) return true;
  if (pid_ <= 0) return true;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
  return status_.has_value();
}

std::optional<int> TestDaemon::WaitForExit(absl::Duration timeout) {
  WaitFor([&] { return Exited(); }, timeout);
  return status_;
}

int TestDaemon::StopWith(int signal_number) {
  if (pid_ <= 0) return -1;
  Signal(signal_number);
  std::optional<int> status = WaitForExit(absl::Seconds(60));
  if (!status.has_value()) {
    ADD_FAILURE() << "durabled still runs 60s after signal " << signal_number
                  << "; killing it. Log:\n"
                  << Log();
    kill(pid_, SIGKILL);
    status = WaitForExit(absl::Seconds(30));
  }
  return status.value_or(-1);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, " cannot be opened"));
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

void WriteFileOrDie(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) std::abort();
}

bool PathExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> ListDirectory(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* entry = readdir(d)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> TempFilesIn(const std::string& dir) {
  std::vector<std::string> temps;
  for (const std::string& name : ListDirectory(dir)) {
    if (absl::StartsWith(name, ".durabled-tmp.")) temps.push_back(name);
  }
  return temps;
}

}  // namespace durable::test
