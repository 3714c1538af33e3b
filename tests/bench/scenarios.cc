#include "tests/bench/scenarios.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/bench/bench_util.h"
#include "tests/bench/measurement.h"
#include "tests/bench/proc_stats.h"
#include "tests/bench/replace_cycle.h"
#include "tests/bench/transport_floor.h"
#include "tests/bench/workers.h"
#include "tests/support/spawn.h"

namespace durable::bench {
namespace {

constexpr int kManyWriters = 32;
constexpr uint64_t kMiB = 1 << 20;
constexpr size_t kStreamChunkBytes = 1 << 20;
// How long a freshly started daemon is left alone before its RSS counts as
// idle.
constexpr absl::Duration kIdleSettle = absl::Milliseconds(200);
constexpr char kDdBinary[] = "/bin/dd";

// ---------------------------------------------------------------------------
// Set-up.

// Each scenario's directory in the daemon's root and in the baseline tree.
struct SideDirs {
  std::string daemon;
  std::string baseline;
};

// Creates `count` empty files in `dir`.
absl::Status FillDirectory(const std::string& dir, int count) {
  const ScopedFd dir_fd(OpenDirectory(dir));
  if (dir_fd.get() < 0) return ErrnoStatus(absl::StrCat("open ", dir), errno);
  for (int i = 0; i < count; ++i) {
    const std::string leaf = absl::StrFormat("f%07d", i);
    const int fd = openat(dir_fd.get(), leaf.c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus(absl::StrCat("create ", leaf), errno);
    close(fd);
  }
  return absl::OkStatus();
}

// Makes both, each holding `prefilled_files` empty files.
absl::StatusOr<SideDirs> MakeSideDirs(const Scratch& scratch,
                                      const std::string& name,
                                      int prefilled_files = 0) {
  SideDirs dirs{absl::StrCat(scratch.data(), "/", name),
                absl::StrCat(scratch.baseline(), "/", name)};
  for (const std::string& dir : {dirs.daemon, dirs.baseline}) {
    absl::Status made = MakeDirectory(dir);
    if (made.ok()) made = FillDirectory(dir, prefilled_files);
    if (!made.ok()) return made;
  }
  return dirs;
}

ScenarioReport FailedReport(const std::string& title,
                            const absl::Status& status) {
  ScenarioReport report;
  report.title = title;
  report.failures.push_back(status.ToString());
  return report;
}

// Runs `argv` with standard input from `stdin_path` ("" for /dev/null) and
// waits for it; fails unless it exits 0.
absl::Status RunToCompletion(const std::vector<std::string>& argv,
                             const std::string& stdin_path) {
  ScopedFd input(
      stdin_path.empty() ? -1 : open(stdin_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!stdin_path.empty() && input.get() < 0) {
    return ErrnoStatus(stdin_path, errno);
  }
  test::SpawnOptions spawn;
  spawn.argv = argv;
  spawn.stdin_fd = input.get();
  spawn.stderr_fd = STDERR_FILENO;
  spawn.parent_death_signal = SIGKILL;
  const absl::StatusOr<pid_t> pid = test::Spawn(spawn);
  if (!pid.ok()) return pid.status();
  int status = 0;
  WaitForChild(*pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(argv[0], " ended with ",
                                            test::DescribeWaitStatus(status)));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Sides.

TargetLayout DistinctTargets(const std::string& dir) { return {dir, false}; }
TargetLayout SharedTarget(const std::string& dir) { return {dir, true}; }

Measurement MeasureCycle(const BenchEnvironment& environment,
                         const std::string& side, const TargetLayout& layout,
                         int workers, std::mutex* turns = nullptr,
                         AckLog* acks = nullptr) {
  const TimedRun run{side, workers, environment.options.side_duration,
                     kSmallWriteBytes, /*daemon_pid=*/0};
  return MeasureWorkers(run, CycleWorkers(layout, turns, acks));
}

Measurement MeasureBatchedCeiling(const BenchEnvironment& environment,
                                  const std::string& dir, int batch_size) {
  const TimedRun run{"batched ceiling (1 thread, syncfs)", 1,
                     environment.options.side_duration, kSmallWriteBytes,
                     /*daemon_pid=*/0};
  return MeasureWorkers(run, BatchedWorker(dir, batch_size));
}

Measurement MeasureDaemon(const BenchEnvironment& environment,
                          const TargetLayout& layout, int workers,
                          AckLog* acks = nullptr) {
  const TimedRun run{absl::StrCat("daemon (", workers, " client",
                                  workers == 1 ? "" : "s", ")"),
                     workers, environment.options.side_duration,
                     kSmallWriteBytes, environment.daemon.pid()};
  return MeasureWorkers(
      run, DaemonWorkers(layout, environment.daemon.client_options(), acks));
}

// ---------------------------------------------------------------------------
// Figures.

double P50Milliseconds(const Measurement& side) {
  return absl::ToDoubleMilliseconds(side.Percentile(0.5));
}

double P99Milliseconds(const Measurement& side) {
  return absl::ToDoubleMilliseconds(side.Percentile(0.99));
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

Threshold AtMost(const std::string& what, double measured, double limit,
                 const std::string& unit = "x") {
  return {what, measured, Threshold::Goal::kAtMost, limit, unit};
}

Threshold AtLeast(const std::string& what, double measured, double limit,
                  const std::string& unit = "x") {
  return {what, measured, Threshold::Goal::kAtLeast, limit, unit};
}

Threshold CpuPerWriteRatio(const std::string& scenario,
                           const Measurement& daemon,
                           const Measurement& baseline) {
  return AtMost(
      absl::StrCat(scenario, ": CPU/write, daemon+client / cycle"),
      Ratio(daemon.CpuSecondsPerWrite(), baseline.CpuSecondsPerWrite()), 1.5);
}

// ---------------------------------------------------------------------------
// The scenarios.

// The cycle against one client, each rewriting one target in a directory
// of `prefilled_files` other files.
ScenarioReport OneWriter(const BenchEnvironment& environment,
                         const std::string& dir_name, const std::string& title,
                         int prefilled_files = 0) {
  const absl::StatusOr<SideDirs> dirs =
      MakeSideDirs(environment.scratch, dir_name, prefilled_files);
  if (!dirs.ok()) return FailedReport(title, dirs.status());
  ScenarioReport report;
  report.title = title;
  report.sides.push_back(MeasureCycle(environment, "in-process cycle",
                                      DistinctTargets(dirs->baseline), 1));
  report.sides.push_back(
      MeasureDaemon(environment, DistinctTargets(dirs->daemon), 1));
  return report;
}

// Scenario 1's third row, measured after the daemon: the ideal gRPC server
// (transport_floor.h), with a note of its p50 ratios. Informational: the
// floor has no threshold.
void AddTransportFloor(const BenchEnvironment& environment,
                       ScenarioReport* report) {
  const std::string dir = environment.scratch.baseline() + "/transport-floor";
  const absl::Status made = MakeDirectory(dir);
  if (!made.ok()) {
    report->failures.push_back(made.ToString());
    return;
  }
  report->sides.push_back(
      MeasureTransportFloor({environment.scratch.base + "/transport-floor.sock",
                             dir, environment.options.side_duration}));
  const Measurement& cycle = report->sides[0];
  const Measurement& daemon = report->sides[1];
  const Measurement& floor = report->sides[2];
  report->notes.push_back(absl::StrFormat(
      "transport floor (informational, no threshold): ideal gRPC server p50 / "
      "cycle p50 %.2fx (what any gRPC-based daemon pays here), daemon p50 / "
      "ideal gRPC server p50 %.2fx (the daemon's own overhead)",
      Ratio(P50Milliseconds(floor), P50Milliseconds(cycle)),
      Ratio(P50Milliseconds(daemon), P50Milliseconds(floor))));
}

std::vector<ScenarioReport> SingleWriter(const BenchEnvironment& environment) {
  ScenarioReport report = OneWriter(environment, "single",
                                    "1: 1 writer, 4 KiB, one target rewritten");
  if (report.sides.size() == 2) {
    const Measurement& cycle = report.sides[0];
    const Measurement& daemon = report.sides[1];
    report.thresholds = {
        AtMost("1 writer: daemon p50 / cycle p50",
               Ratio(P50Milliseconds(daemon), P50Milliseconds(cycle)), 1.15),
        CpuPerWriteRatio("1 writer", daemon, cycle)};
    AddTransportFloor(environment, &report);
  }
  return {report};
}

std::vector<ScenarioReport> DistinctFiles(const BenchEnvironment& environment) {
  const std::string title = absl::StrCat(
      "2: ", kManyWriters, " writers, 4 KiB, distinct files in one directory");
  const absl::StatusOr<SideDirs> dirs =
      MakeSideDirs(environment.scratch, "distinct");
  const std::string batched_dir = environment.scratch.baseline() + "/batched";
  const absl::Status made =
      dirs.ok() ? MakeDirectory(batched_dir) : dirs.status();
  if (!made.ok()) return {FailedReport(title, made)};

  ScenarioReport report;
  report.title = title;
  report.sides.push_back(MeasureCycle(
      environment, absl::StrCat(kManyWriters, " in-process threads"),
      DistinctTargets(dirs->baseline), kManyWriters));
  report.sides.push_back(
      MeasureBatchedCeiling(environment, batched_dir, kManyWriters));
  report.sides.push_back(
      MeasureDaemon(environment, DistinctTargets(dirs->daemon), kManyWriters));
  const Measurement& threads = report.sides[0];
  const Measurement& ceiling = report.sides[1];
  const Measurement& daemon = report.sides[2];
  report.thresholds = {
      AtLeast("32 distinct: daemon writes/s / 32 in-process threads",
              Ratio(daemon.WritesPerSecond(), threads.WritesPerSecond()), 1.3),
      AtLeast("32 distinct: daemon writes/s / batched ceiling",
              Ratio(daemon.WritesPerSecond(), ceiling.WritesPerSecond()), 0.7),
      AtMost("32 distinct: daemon p99 / daemon p50",
             Ratio(P99Milliseconds(daemon), P50Milliseconds(daemon)), 3),
      CpuPerWriteRatio("32 distinct", daemon, threads)};
  return {report};
}

// Checks the shared target after `side` wrote it, into `report`.
void CheckSharedTarget(const std::string& side, const std::string& path,
                       const AckLog& acks, ScenarioReport* report) {
  const absl::StatusOr<Stamp> last = CheckLastWriteWins(path, acks);
  if (!last.ok()) {
    report->failures.push_back(
        absl::StrCat(side, ": ", last.status().ToString()));
    return;
  }
  report->notes.push_back(absl::StrCat(
      side, ": on disk writer ", last->writer, " seq ", last->sequence,
      ", the last acknowledged write (checked); ", CountSuperseded(acks),
      " of ", CountAcknowledged(acks), " acknowledged writes superseded"));
}

std::vector<ScenarioReport> OneTarget(const BenchEnvironment& environment) {
  const std::string title =
      absl::StrCat("3: ", kManyWriters, " writers, 4 KiB, one target");
  const absl::StatusOr<SideDirs> dirs =
      MakeSideDirs(environment.scratch, "shared");
  if (!dirs.ok()) return {FailedReport(title, dirs.status())};
  ScenarioReport report;
  report.title = title;

  std::mutex turns;
  AckLog cycle_acks(kManyWriters);
  const TargetLayout cycle_layout = SharedTarget(dirs->baseline);
  report.sides.push_back(MeasureCycle(
      environment, absl::StrCat(kManyWriters, " threads taking turns"),
      cycle_layout, kManyWriters, &turns, &cycle_acks));
  CheckSharedTarget("cycle", cycle_layout.dir + "/" + cycle_layout.Leaf(0),
                    cycle_acks, &report);

  AckLog daemon_acks(kManyWriters);
  const TargetLayout daemon_layout = SharedTarget(dirs->daemon);
  report.sides.push_back(
      MeasureDaemon(environment, daemon_layout, kManyWriters, &daemon_acks));
  CheckSharedTarget("daemon", daemon_layout.dir + "/" + daemon_layout.Leaf(0),
                    daemon_acks, &report);

  report.thresholds = {
      AtLeast("32 on one target: daemon writes/s / threads taking turns",
              Ratio(report.sides[1].WritesPerSecond(),
                    report.sides[0].WritesPerSecond()),
              5)};
  return {report};
}

// Streams `bytes` of PatternBytes to `path` through one Client.
absl::Status StreamPattern(const BenchEnvironment& environment,
                           const std::string& path, uint64_t bytes) {
  const std::string chunk = PatternBytes(kStreamChunkBytes);
  uint64_t sent = 0;
  const ChunkSource source = [&](char* buffer,
                                 size_t capacity) -> absl::StatusOr<size_t> {
    const size_t n = static_cast<size_t>(
        std::min<uint64_t>({capacity, chunk.size(), bytes - sent}));
    memcpy(buffer, chunk.data(), n);
    sent += n;
    return n;
  };
  Client client(environment.daemon.client_options());
  const absl::StatusOr<WriteResult> result =
      client.WriteStream(path, source, bytes);
  if (!result.ok()) return result.status();
  if (result->size != bytes) {
    return absl::DataLossError(
        absl::StrCat("daemon wrote ", result->size, " bytes, not ", bytes));
  }
  return absl::OkStatus();
}

std::vector<ScenarioReport> Stream(const BenchEnvironment& environment) {
  const uint64_t mib = environment.options.stream_mib;
  const uint64_t bytes = mib * kMiB;
  const std::string title = absl::StrCat("4: one ", mib, " MiB stream");
  const absl::StatusOr<SideDirs> dirs =
      MakeSideDirs(environment.scratch, "stream");
  if (!dirs.ok()) return {FailedReport(title, dirs.status())};
  ScenarioReport report;
  report.title = title;
  const std::string dd_path = dirs->baseline + "/target";
  report.sides.push_back(MeasureRuns(
      {"dd bs=1M conv=fsync", 1, bytes, ClientCpu::kWaitedChildren,
       /*daemon_pid=*/0},
      [&] {
        return RunToCompletion(
            {kDdBinary, "if=/dev/zero", "of=" + dd_path, "bs=1M",
             absl::StrCat("count=", mib), "conv=fsync", "status=none"},
            "");
      }));
  unlink(dd_path.c_str());

  const std::string daemon_path = dirs->daemon + "/target";
  const pid_t daemon_pid = environment.daemon.pid();
  RssGrowthSampler sampler(daemon_pid);
  report.sides.push_back(MeasureRuns(
      {"daemon WriteStream, 1 MiB chunks", 1, bytes, ClientCpu::kThisProcess,
       daemon_pid},
      [&] { return StreamPattern(environment, daemon_path, bytes); }));
  const absl::StatusOr<uint64_t> growth = sampler.Stop();
  unlink(daemon_path.c_str());
  if (!growth.ok()) {
    report.failures.push_back(growth.status().ToString());
    return {report};
  }
  const double growth_mib = static_cast<double>(*growth) / kMiB;
  report.notes.push_back(absl::StrFormat(
      "daemon peak VmRSS growth during the stream: %.1f MiB", growth_mib));
  report.thresholds = {
      AtLeast(
          "1 stream: daemon MiB/s / dd",
          Ratio(report.sides[1].MiBPerSecond(), report.sides[0].MiBPerSecond()),
          0.9),
      AtMost("1 stream: daemon peak RSS growth", growth_mib, 32, " MiB")};
  return {report};
}

// Starts and stops a private daemon `options.daemon_starts` times; adds the
// medians of its time to ready and idle VmRSS to `report`.
void MeasureStartups(const BenchEnvironment& environment,
                     ScenarioReport* report) {
  const DaemonSetup setup =
      environment.scratch.StartupDaemon(environment.options);
  std::vector<double> ready_ms;
  std::vector<double> idle_rss_mib;
  for (int start = 0; start < environment.options.daemon_starts; ++start) {
    absl::StatusOr<std::unique_ptr<DaemonProcess>> daemon =
        DaemonProcess::Start(setup);
    if (!daemon.ok()) {
      report->failures.push_back(daemon.status().ToString());
      return;
    }
    ready_ms.push_back(absl::ToDoubleMilliseconds((*daemon)->time_to_ready()));
    absl::SleepFor(kIdleSettle);
    const absl::StatusOr<uint64_t> rss = ResidentBytes((*daemon)->pid());
    absl::Status stopped = (*daemon)->Stop();
    if (!rss.ok() || !stopped.ok()) {
      report->failures.push_back(
          (rss.ok() ? stopped : rss.status()).ToString());
      return;
    }
    idle_rss_mib.push_back(static_cast<double>(*rss) / kMiB);
  }
  report->notes.push_back(absl::StrFormat(
      "daemon start, median of %d: exec to first answered WhoAmI %.1f ms, "
      "idle VmRSS %.1f MiB (%.0f ms after ready)",
      environment.options.daemon_starts, Median(ready_ms), Median(idle_rss_mib),
      absl::ToDoubleMilliseconds(kIdleSettle)));
  report->thresholds.push_back(
      AtMost("idle daemon: VmRSS", Median(idle_rss_mib), 16, " MiB"));
  report->thresholds.push_back(
      AtMost("idle daemon: exec to ready", Median(ready_ms), 100, " ms"));
}

// A one-shot write of 4 KiB as a fresh process, each way.
void MeasureOneShots(const BenchEnvironment& environment,
                     ScenarioReport* report) {
  const absl::StatusOr<SideDirs> dirs =
      MakeSideDirs(environment.scratch, "one-shot");
  if (!dirs.ok()) {
    report->failures.push_back(dirs.status().ToString());
    return;
  }
  const std::string input = environment.scratch.base + "/one-shot-input";
  std::ofstream(input) << StampedContent(0).Next();
  const int runs = environment.options.one_shot_runs;
  const std::string cycle_target = dirs->baseline + "/target";
  report->sides.push_back(MeasureRuns(
      {"durable_cycle process", runs, kSmallWriteBytes,
       ClientCpu::kWaitedChildren, /*daemon_pid=*/0},
      [&] {
        return RunToCompletion({DURABLE_CYCLE_BINARY, cycle_target}, input);
      }));
  const std::string socket_flag =
      "--socket=" + environment.daemon.client_options().socket_path;
  const std::string daemon_target = dirs->daemon + "/target";
  report->sides.push_back(MeasureRuns(
      {"durablectl write process", runs, kSmallWriteBytes,
       ClientCpu::kWaitedChildren, environment.daemon.pid()},
      [&] {
        return RunToCompletion(
            {DURABLECTL_BINARY, socket_flag, "write", daemon_target}, input);
      }));
  report->thresholds.push_back(
      AtMost("one-shot: durablectl write p50 / durable_cycle p50",
             Ratio(P50Milliseconds(report->sides[1]),
                   P50Milliseconds(report->sides[0])),
             3));
}

std::vector<ScenarioReport> IdleAndOneShot(
    const BenchEnvironment& environment) {
  ScenarioReport report;
  report.title =
      absl::StrCat("5: idle daemon; one-shot 4 KiB write as a fresh process (",
                   environment.options.one_shot_runs, " runs)");
  MeasureStartups(environment, &report);
  MeasureOneShots(environment, &report);
  return {report};
}

std::vector<ScenarioReport> DirectorySizes(
    const BenchEnvironment& environment) {
  std::vector<ScenarioReport> reports;
  for (int files : environment.options.directory_sizes) {
    reports.push_back(OneWriter(
        environment, absl::StrCat("dir-", files),
        absl::StrCat("6: 1 writer, 4 KiB, in a directory of ", files, " files"),
        files));
  }
  return reports;
}

}  // namespace

DaemonSetup Scratch::MainDaemon(const BenchOptions& options) const {
  DaemonSetup setup;
  setup.config_path = base + "/durabled.conf";
  setup.socket_path = base + "/durabled.sock";
  setup.root = data();
  setup.log_path = base + "/durabled.log";
  setup.max_file_size = std::max<uint64_t>(2 * options.stream_mib, 64) * kMiB;
  setup.extra_flags = options.daemon_flags;
  return setup;
}

DaemonSetup Scratch::StartupDaemon(const BenchOptions& options) const {
  DaemonSetup setup;
  setup.config_path = base + "/startup.conf";
  setup.socket_path = base + "/startup.sock";
  setup.root = base + "/startup-root";
  setup.log_path = base + "/startup.log";
  setup.max_file_size = kMiB;
  setup.extra_flags = options.daemon_flags;
  return setup;
}

std::vector<ScenarioReport> RunScenario(int number,
                                        const BenchEnvironment& environment) {
  using Scenario = std::vector<ScenarioReport> (*)(const BenchEnvironment&);
  static constexpr Scenario kScenarios[kScenarioCount] = {
      SingleWriter, DistinctFiles,  OneTarget,
      Stream,       IdleAndOneShot, DirectorySizes};
  return kScenarios[number - 1](environment);
}

}  // namespace durable::bench
