#include "tests/support/test_daemon.h"

#include <dirent.h>
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

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace durable::test {
namespace {

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

}  // namespace

absl::StatusOr<std::unique_ptr<TestDaemon>> TestDaemon::Start(
    const std::string& config_body,
    const std::vector<std::string>& extra_dirs) {
  std::unique_ptr<TestDaemon> daemon(new TestDaemon());
  char base_template[] = "/tmp/durabled-test.XXXXXX";
  if (mkdtemp(base_template) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno)));
  }
  daemon->base_ = base_template;
  chmod(daemon->base_.c_str(), 0755);
  mkdir(daemon->data().c_str(), 0755);
  mkdir(daemon->outside().c_str(), 0755);
  chmod(daemon->data().c_str(), 0755);
  for (const std::string& dir : extra_dirs) {
    const std::string path = daemon->base_ + "/" + dir;
    mkdir(path.c_str(), 0755);
    chmod(path.c_str(), 0755);
  }

  const std::string config_path = daemon->base_ + "/durabled.conf";
  WriteFileOrDie(
      config_path,
      absl::StrReplaceAll(config_body, {{"{base}", daemon->base_},
                                        {"{uid}", std::to_string(getuid())}}));
  absl::Status launched = daemon->Launch(/*append_log=*/false);
  if (!launched.ok()) return launched;
  return daemon;
}

absl::Status TestDaemon::Restart() {
  if (pid_ > 0) return absl::FailedPreconditionError("durabled still runs");
  return Launch(/*append_log=*/true);
}

absl::Status TestDaemon::Launch(bool append_log) {
  const std::string config_path = base_ + "/durabled.conf";
  const std::string log_path = base_ + "/durabled.log";
  const std::string binary = DURABLED_BINARY;
  const std::string config_flag = "--config=" + config_path;

  int log_fd = open(
      log_path.c_str(),
      O_WRONLY | O_CREAT | O_CLOEXEC | (append_log ? O_APPEND : O_TRUNC), 0644);
  if (log_fd < 0) return absl::InternalError("cannot create the daemon log");
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    dup2(log_fd, 2);
    int null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    execl(binary.c_str(), binary.c_str(), config_flag.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(log_fd);
  pid_ = pid;

  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!CanConnect(socket_path())) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      pid_ = -1;
      return absl::InternalError(
          absl::StrCat("durabled exited during start-up: ", Log()));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("durabled did not listen within 20s: ", Log()));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::OkStatus();
}

int TestDaemon::StopWith(int signal_number) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal_number);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return status;
}

TestDaemon::~TestDaemon() {
  if (pid_ > 0) {
    // A clean stop is part of every test: SIGTERM must exit 0, and a
    // sanitizer build must have found nothing in the daemon.
    int status = StopWith(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "durabled did not exit 0 on SIGTERM (status " << status
        << "); log:\n"
        << Log();
  }
  const std::string log = Log();
  EXPECT_EQ(log.find("Sanitizer"), std::string::npos) << log;
  EXPECT_EQ(log.find("runtime error:"), std::string::npos) << log;
  if (!base_.empty()) {
    std::string command = absl::StrCat("rm -rf '", base_, "'");
    if (std::system(command.c_str()) != 0) {
      // Best effort: a leftover scratch dir under /tmp is harmless.
    }
  }
}

std::string TestDaemon::Log() const {
  absl::StatusOr<std::string> log = ReadFile(base_ + "/durabled.log");
  return log.ok() ? *log : "";
}

std::unique_ptr<Client> TestDaemon::NewClient() const {
  ClientOptions options;
  options.socket_path = socket_path();
  options.timeout = absl::Seconds(60);
  return std::make_unique<Client>(options);
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

}  // namespace durable::test
