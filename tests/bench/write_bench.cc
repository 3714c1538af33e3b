// durable_bench: durabled against the in-process baselines it replaces, the
// scenarios of issue 12 side by side in one run.
//
//   <build>/tests/bench/durable_bench [--quick] [--scenarios=1,2,3,4,5,6]
//       [--seconds=3] [--stream_mib=1024] [--dir_sizes=10,10000,100000]
//       [--starts=10] [--one_shot_runs=30] [--daemon_flag=FLAG]...
//       [--scratch_dir=/tmp] [--keep_scratch]
//
// It starts a private durabled (the binary CMake built) with a config it
// writes: root <scratch>/data, socket and log in <scratch>, a fresh
// <scratch> under --scratch_dir (/tmp here is on the same ext4 disk as
// everything else). The in-process baselines write under <scratch>/baseline,
// so both sides use one filesystem. Each --daemon_flag (repeatable) is passed
// to every durabled started, e.g. --daemon_flag=--flush_strategy=syncfs.
// Each scenario runs its baselines first, then the daemon, each side for
// --seconds; writes are 4 KiB and every client writer thread has its own
// durable::Client, i.e. its own connection.
//
//   1  1 writer, one target rewritten: the cycle (create a temp with
//      O_CREAT|O_EXCL, write, fsync, rename over the target, fsync the
//      directory) against one client. A third row, measured after the
//      daemon, is the transport floor: an ideal gRPC server in this process
//      (async completion queue, one polling thread running the same cycle
//      inline per Write) against the generated sync stub, with a note of
//      its p50 over the cycle's and the daemon's over its own
//      (transport_floor.h; informational, no threshold).
//   2  32 writers, distinct files in one directory: 32 threads doing the
//      cycle, the batched ceiling (one thread: 32 temps, one syncfs, 32
//      renames, one directory fsync, repeated), 32 clients.
//   3  32 writers, one target: 32 threads taking turns under one mutex
//      against 32 clients. Each write's content starts "writer W seq S";
//      after each side the target must hold its writer's last acknowledged
//      write, and no acknowledged write may have been sent after that one
//      was acknowledged. Also counts answers marked superseded.
//   4  one --stream_mib MiB stream: dd if=/dev/zero bs=1M conv=fsync (a
//      child process, timed from spawn to reaped) against one
//      Client::WriteStream in 1 MiB chunks, with the daemon's peak VmRSS
//      growth (sampled every 10 ms).
//   5  idle daemon: over --starts fresh starts, the median time from fork
//      to the first answered WhoAmI and VmRSS 200 ms later. Then
//      --one_shot_runs one-shot 4 KiB writes, each a fresh process:
//      `durable_cycle PATH < FILE` (the cycle, built here) against
//      `durablectl --socket=S write PATH < FILE`.
//   6  scenario 1 (without the transport floor) in directories pre-filled
//      with --dir_sizes empty files.
//
// Columns, one row per side (the first row of a scenario is its baseline):
//   writes/s      acknowledged writes per second of wall time, all threads
//   MiB/s         the same in bytes
//   p50, p99 ms   latency of one write from call to answer (batched ceiling:
//                 its batch's; one-shots and the stream: the whole run's)
//   CPU us/write  CPU per write, total (client + daemon). Client: this
//                 process, all threads, gRPC's included (getrusage SELF
//                 deltas); for dd, durable_cycle and durablectl the child
//                 processes instead (wait4's rusage: getrusage CHILDREN
//                 deltas). Daemon: deltas of utime + stime in
//                 /proc/<pid>/stat. Baseline rows have no daemon part;
//                 nor has the transport floor, whose server is this
//                 process (its CPU is in the client part).
//   x thr, x p50, x p99, x CPU   this row divided by the scenario's first
//                 row: writes/s, p50, p99, CPU per write.
// Below the table: issue 12's "Done when" thresholds, each with its
// measured value and PASS or MISS. They are informational: the exit status
// is 0 if and only if every scenario ran, every write succeeded, the
// shared-target checks held and the daemon exited 0 on SIGTERM.
//
// --quick (the ctest smoke test, label "bench") runs every scenario
// briefly: 0.2 s sides, a 16 MiB stream, directories of 10, 100 and 1000
// files, 2 starts, 3 one-shots; other flags still apply. --keep_scratch
// keeps the scratch tree (data and daemon logs; failures already quote the
// log's tail) instead of removing it.

#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "tests/bench/bench_util.h"
#include "tests/bench/daemon_process.h"
#include "tests/bench/proc_stats.h"
#include "tests/bench/report.h"
#include "tests/bench/scenarios.h"

namespace durable::bench {
namespace {

constexpr char kUsage[] =
    "usage: durable_bench [--quick] [--scenarios=1,2,3,4,5,6] [--seconds=S]\n"
    "                     [--stream_mib=N] [--dir_sizes=N,N,...] "
    "[--starts=N]\n"
    "                     [--one_shot_runs=N] [--daemon_flag=FLAG]...\n"
    "                     [--scratch_dir=DIR] [--keep_scratch]\n";

// ---------------------------------------------------------------------------
// Flags.

BenchOptions QuickOptions() {
  BenchOptions options;
  options.side_duration = absl::Milliseconds(200);
  options.stream_mib = 16;
  options.directory_sizes = {10, 100, 1000};
  options.daemon_starts = 2;
  options.one_shot_runs = 3;
  return options;
}

bool ParseIntList(absl::string_view value, std::vector<int>* list) {
  list->clear();
  for (absl::string_view item : absl::StrSplit(value, ',')) {
    int number = 0;
    if (!absl::SimpleAtoi(item, &number) || number < 0) return false;
    list->push_back(number);
  }
  return !list->empty();
}

bool ParseScenarios(absl::string_view value, std::set<int>* scenarios) {
  std::vector<int> numbers;
  if (!ParseIntList(value, &numbers)) return false;
  scenarios->clear();
  for (int number : numbers) {
    if (number < 1 || number > kScenarioCount) return false;
    scenarios->insert(number);
  }
  return true;
}

bool ParseSeconds(absl::string_view value, absl::Duration* duration) {
  double seconds = 0;
  if (!absl::SimpleAtod(value, &seconds) || seconds <= 0) return false;
  *duration = absl::Seconds(seconds);
  return true;
}

template <typename Number>
bool ParsePositive(absl::string_view value, Number* number) {
  return absl::SimpleAtoi(value, number) && *number > 0;
}

// Applies one "--name=value" (or "--name") to `options`.
bool ApplyFlag(absl::string_view flag, BenchOptions* options) {
  const std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(flag, absl::MaxSplits('=', 1));
  const absl::string_view name = parts.first;
  const absl::string_view value = parts.second;
  if (name == "--quick") return value.empty();
  if (name == "--keep_scratch") return options->keep_scratch = value.empty();
  if (name == "--scenarios") return ParseScenarios(value, &options->scenarios);
  if (name == "--seconds") return ParseSeconds(value, &options->side_duration);
  if (name == "--stream_mib") return ParsePositive(value, &options->stream_mib);
  if (name == "--dir_sizes") {
    return ParseIntList(value, &options->directory_sizes);
  }
  if (name == "--starts") return ParsePositive(value, &options->daemon_starts);
  if (name == "--one_shot_runs") {
    return ParsePositive(value, &options->one_shot_runs);
  }
  if (name == "--daemon_flag" && !value.empty()) {
    options->daemon_flags.emplace_back(value);
    return true;
  }
  if (name == "--scratch_dir" && !value.empty()) {
    options->scratch_parent = std::string(value);
    return true;
  }
  return false;
}

absl::StatusOr<BenchOptions> ParseOptions(int argc, char** argv) {
  const std::vector<absl::string_view> flags(argv + 1, argv + argc);
  const bool quick =
      std::find(flags.begin(), flags.end(), "--quick") != flags.end();
  BenchOptions options = quick ? QuickOptions() : BenchOptions();
  for (absl::string_view flag : flags) {
    if (!ApplyFlag(flag, &options)) {
      return absl::InvalidArgumentError(absl::StrCat("bad flag ", flag));
    }
  }
  return options;
}

// ---------------------------------------------------------------------------
// The scratch tree.

absl::StatusOr<Scratch> CreateScratch(const BenchOptions& options) {
  std::string base = options.scratch_parent + "/durable-bench.XXXXXX";
  if (mkdtemp(base.data()) == nullptr) {
    return ErrnoStatus(absl::StrCat("mkdtemp in ", options.scratch_parent),
                       errno);
  }
  Scratch scratch{base};
  for (const std::string& dir : {scratch.data(), scratch.baseline(),
                                 scratch.StartupDaemon(options).root}) {
    absl::Status made = MakeDirectory(dir);
    if (!made.ok()) return made;
  }
  return scratch;
}

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) {
  return remove(path) == 0 ? 0 : -1;
}

void RemoveScratch(const Scratch& scratch) {
  nftw(scratch.base.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
}

std::string FileSystemType(const std::string& path) {
  struct statfs info;
  if (statfs(path.c_str(), &info) != 0) return "unknown";
  switch (static_cast<unsigned long>(info.f_type)) {
    case 0xEF53:
      return "ext2/3/4";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x01021994:
      return "tmpfs";
    case 0x794C7630:
      return "overlayfs";
    default:
      return absl::StrFormat("0x%x", static_cast<unsigned long>(info.f_type));
  }
}

void PrintContext(const Scratch& scratch, const BenchOptions& options,
                  const DaemonProcess& daemon) {
  const absl::StatusOr<uint64_t> rss = ResidentBytes(daemon.pid());
  std::printf(
      "durabled %s%s%s\nscratch %s (%s), %.1f s per side\n"
      "daemon ready after %.1f ms, VmRSS %.1f MiB\n",
      DURABLED_BINARY, options.daemon_flags.empty() ? "" : " ",
      absl::StrJoin(options.daemon_flags, " ").c_str(), scratch.base.c_str(),
      FileSystemType(scratch.base).c_str(),
      absl::ToDoubleSeconds(options.side_duration),
      absl::ToDoubleMilliseconds(daemon.time_to_ready()),
      rss.ok() ? static_cast<double>(*rss) / (1 << 20) : 0.0);
  std::fflush(stdout);
}

std::vector<ScenarioReport> RunScenarios(const BenchEnvironment& environment) {
  std::vector<ScenarioReport> reports;
  for (int number : environment.options.scenarios) {
    std::fprintf(stderr, "durable_bench: scenario %d...\n", number);
    std::vector<ScenarioReport> scenario = RunScenario(number, environment);
    reports.insert(reports.end(), scenario.begin(), scenario.end());
  }
  return reports;
}

// Starts the daemon, runs the scenarios, prints the results and stops the
// daemon; returns how many things failed.
int RunBenchmark(const BenchOptions& options, const Scratch& scratch) {
  absl::StatusOr<std::unique_ptr<DaemonProcess>> daemon =
      DaemonProcess::Start(scratch.MainDaemon(options));
  if (!daemon.ok()) {
    std::fprintf(stderr, "durable_bench: %s\n",
                 daemon.status().ToString().c_str());
    return 1;
  }
  PrintContext(scratch, options, **daemon);
  const std::vector<ScenarioReport> reports =
      RunScenarios({options, scratch, **daemon});
  PrintTable(reports);
  PrintThresholds(reports);
  int failures = PrintFailures(reports);
  const absl::Status stopped = (*daemon)->Stop();
  if (!stopped.ok()) {
    std::fprintf(stderr, "durable_bench: %s\n", stopped.ToString().c_str());
    ++failures;
  }
  return failures;
}

int Main(int argc, char** argv) {
  const absl::StatusOr<BenchOptions> options = ParseOptions(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "durable_bench: %s\n%s",
                 std::string(options.status().message()).c_str(), kUsage);
    return 2;
  }
  const absl::StatusOr<Scratch> scratch = CreateScratch(*options);
  if (!scratch.ok()) {
    std::fprintf(stderr, "durable_bench: %s\n",
                 scratch.status().ToString().c_str());
    return 1;
  }
  const int failures = RunBenchmark(*options, *scratch);
  if (options->keep_scratch) {
    std::fprintf(stderr, "durable_bench: scratch tree kept in %s\n",
                 scratch->base.c_str());
  } else {
    RemoveScratch(*scratch);
  }
  return failures > 0 ? 1 : 0;
}

}  // namespace
}  // namespace durable::bench

int main(int argc, char** argv) { return durable::bench::Main(argc, argv); }
