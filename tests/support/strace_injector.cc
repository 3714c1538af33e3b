#include "tests/support/strace_injector.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/support/spawn.h"

namespace durable::test {
namespace {

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// The thread ids of process `pid`.
std::vector<pid_t> ThreadsOf(pid_t pid) {
  std::vector<pid_t> threads;
  DIR* dir = opendir(absl::StrCat("/proc/", pid, "/task").c_str());
  if (dir == nullptr) return threads;
  while (dirent* entry = readdir(dir)) {
    int tid;
    if (absl::SimpleAtoi(entry->d_name, &tid)) threads.push_back(tid);
  }
  closedir(dir);
  return threads;
}

// The TracerPid of thread `tid` of `pid`, or -1.
pid_t TracerOf(pid_t pid, pid_t tid) {
  const std::string status =
      ReadWhole(absl::StrCat("/proc/", pid, "/task/", tid, "/status"));
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (absl::ConsumePrefix(&line, "TracerPid:")) {
      int tracer;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &tracer)) {
        return tracer;
      }
    }
  }
  return -1;
}

}  // namespace

std::string StraceInjector::Binary() {
  for (const char* candidate : {"/usr/bin/strace", "/bin/strace"}) {
    if (access(candidate, X_OK) == 0) return candidate;
  }
  return "";
}

absl::StatusOr<std::unique_ptr<StraceInjector>> StraceInjector::Attach(
    pid_t pid, const std::vector<std::string>& arguments) {
  const std::string binary = Binary();
  if (binary.empty()) {
    return absl::UnavailableError(
        "strace is not installed (Debian package strace)");
  }
  std::unique_ptr<StraceInjector> injector(new StraceInjector());
  char directory[] = "/tmp/durabled-strace.XXXXXX";
  if (mkdtemp(directory) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno)));
  }
  injector->directory_ = directory;
  const std::string trace_path = injector->directory_ + "/trace";
  const std::string stderr_path = injector->directory_ + "/stderr";

  std::vector<std::string> argv = {binary, "-f", "-y",      "-s",
                                   "16",   "-o", trace_path};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  argv.push_back("-p");
  argv.push_back(std::to_string(pid));

  const int stderr_fd =
      open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (stderr_fd < 0) {
    return absl::InternalError(absl::StrCat("open: ", strerror(errno)));
  }
  SpawnOptions spawn;
  spawn.argv = argv;
  spawn.stderr_fd = stderr_fd;
  absl::StatusOr<pid_t> spawned = Spawn(spawn);
  close(stderr_fd);
  if (!spawned.ok()) return spawned.status();
  const pid_t child = *spawned;
  injector->strace_pid_ = child;

  // Ready once every thread has strace as its tracer.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (true) {
    int status = 0;
    if (waitpid(child, &status, WNOHANG) == child) {
      injector->strace_pid_ = -1;
      return absl::UnavailableError(absl::StrCat(
          "strace cannot attach to pid ", pid, ": ", ReadWhole(stderr_path)));
    }
    bool all_traced = true;
    const std::vector<pid_t> threads = ThreadsOf(pid);
    for (pid_t tid : threads) all_traced &= TracerOf(pid, tid) == child;
    if (all_traced && !threads.empty()) break;
    if (absl::Now() > deadline) {
      return absl::UnavailableError(
          absl::StrCat("strace did not attach to every thread of pid ", pid,
                       " within 10 s: ", ReadWhole(stderr_path)));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  // Seized threads are stopped and restarted under syscall tracing by
  // strace's event loop; give it a moment to do so for every thread.
  absl::SleepFor(absl::Milliseconds(300));
  return injector;
}

std::string StraceInjector::Detach() {
  if (strace_pid_ > 0) {
    // strace detaches from every thread on SIGINT and leaves them running.
    kill(strace_pid_, SIGINT);
    int status = 0;
    while (waitpid(strace_pid_, &status, 0) < 0 && errno == EINTR) {
    }
    strace_pid_ = -1;
    trace_ = ReadWhole(directory_ + "/trace");
  }
  return trace_;
}

std::string StraceInjector::Trace() const {
  if (strace_pid_ > 0) return ReadWhole(directory_ + "/trace");
  return trace_;
}

std::vector<std::string> StraceInjector::LinesWith(
    const std::string& needle) const {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(Trace(), '\n')) {
    if (absl::StrContains(line, needle)) lines.emplace_back(line);
  }
  return lines;
}

StraceInjector::~StraceInjector() {
  Detach();
  if (!directory_.empty()) {
    std::string command = absl::StrCat("rm -rf '", directory_, "'");
    if (std::system(command.c_str()) != 0) {
      // Best effort.
    }
  }
}

}  // namespace durable::test
