#include "tests/bench/proc_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/bench/bench_util.h"

namespace durable::bench {
namespace {

absl::StatusOr<std::string> ReadProcFile(pid_t pid, const char* name) {
  return ReadWholeFile(absl::StrCat("/proc/", pid, "/", name));
}

double Seconds(const timeval& time) {
  return static_cast<double>(time.tv_sec) +
         static_cast<double>(time.tv_usec) / 1e6;
}

double CpuSecondsOf(int who) {
  rusage usage{};
  getrusage(who, &usage);
  return Seconds(usage.ru_utime) + Seconds(usage.ru_stime);
}

}  // namespace

absl::StatusOr<double> ProcessCpuSeconds(pid_t pid) {
  absl::StatusOr<std::string> stat = ReadProcFile(pid, "stat");
  if (!stat.ok()) return stat.status();
  // "pid (comm) state ppid ...": comm may hold spaces, so count fields
  // after its closing parenthesis; utime and stime are fields 14 and 15.
  const size_t paren = stat->rfind(')');
  if (paren == std::string::npos) {
    return absl::DataLossError(absl::StrCat("odd /proc/", pid, "/stat"));
  }
  const std::vector<std::string> fields =
      absl::StrSplit(stat->substr(paren + 2), ' ', absl::SkipEmpty());
  constexpr size_t kUtime = 14 - 3, kStime = 15 - 3;
  uint64_t utime = 0, stime = 0;
  if (fields.size() <= kStime || !absl::SimpleAtoi(fields[kUtime], &utime) ||
      !absl::SimpleAtoi(fields[kStime], &stime)) {
    return absl::DataLossError(absl::StrCat("odd /proc/", pid, "/stat"));
  }
  return static_cast<double>(utime + stime) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

absl::StatusOr<uint64_t> ResidentBytes(pid_t pid) {
  absl::StatusOr<std::string> status = ReadProcFile(pid, "status");
  if (!status.ok()) return status.status();
  for (absl::string_view line : absl::StrSplit(*status, '\n')) {
    if (!absl::ConsumePrefix(&line, "VmRSS:")) continue;
    line = absl::StripAsciiWhitespace(line);
    uint64_t kib = 0;
    if (absl::ConsumeSuffix(&line, " kB") &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &kib)) {
      return kib * 1024;
    }
  }
  return absl::DataLossError(
      absl::StrCat("no VmRSS in /proc/", pid, "/status"));
}

absl::StatusOr<CpuSnapshot> TakeCpuSnapshot(ClientCpu client,
                                            pid_t daemon_pid) {
  CpuSnapshot snapshot;
  snapshot.client_seconds = CpuSecondsOf(
      client == ClientCpu::kThisProcess ? RUSAGE_SELF : RUSAGE_CHILDREN);
  if (daemon_pid == 0) return snapshot;
  absl::StatusOr<double> daemon = ProcessCpuSeconds(daemon_pid);
  if (!daemon.ok()) return daemon.status();
  snapshot.daemon_seconds = *daemon;
  return snapshot;
}

RssGrowthSampler::RssGrowthSampler(pid_t pid) : pid_(pid) {
  absl::StatusOr<uint64_t> first = ResidentBytes(pid_);
  if (!first.ok()) {
    failed_ = true;
    return;
  }
  first_ = *first;
  peak_ = *first;
  thread_ = std::thread([this] {
    while (!stop_) {
      Sample();
      absl::SleepFor(absl::Milliseconds(10));
    }
  });
}

RssGrowthSampler::~RssGrowthSampler() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void RssGrowthSampler::Sample() {
  absl::StatusOr<uint64_t> now = ResidentBytes(pid_);
  if (!now.ok()) {
    failed_ = true;
    return;
  }
  peak_ = std::max(peak_.load(), *now);
}

absl::StatusOr<uint64_t> RssGrowthSampler::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (failed_) {
    return absl::NotFoundError(absl::StrCat("cannot read VmRSS of ", pid_));
  }
  Sample();
  return peak_ - first_;
}

}  // namespace durable::bench
