// How the benchmark measures one side of a scenario: writes, their
// latencies, wall time and CPU (client and daemon), either as worker
// threads writing for a fixed time or as a sequence of single runs.
#ifndef DURABLED_TESTS_BENCH_MEASUREMENT_H_
#define DURABLED_TESTS_BENCH_MEASUREMENT_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/bench/proc_stats.h"

namespace durable::bench {

struct Measurement {
  std::string side;  // "in-process cycle", "daemon", ...
  int64_t writes = 0;
  uint64_t bytes = 0;
  absl::Duration wall;
  // Of each write, ascending (filled by Finish).
  std::vector<absl::Duration> latencies;
  double client_cpu_seconds = 0;
  double daemon_cpu_seconds = 0;
  // The first failures; any failure fails the benchmark.
  std::vector<std::string> errors;

  double WritesPerSecond() const;
  double MiBPerSecond() const;
  // `fraction` 0.5 is the median; zero without writes.
  absl::Duration Percentile(double fraction) const;
  // Client plus daemon CPU seconds per write.
  double CpuSecondsPerWrite() const;
  void AddError(const absl::Status& status);
};

// One step of a worker: performs one or more writes and says how many (a
// batched writer completes several at once; each gets the step's latency).
using WriteStep = std::function<absl::StatusOr<int>()>;
// Sets up worker `index` (opens its directory, connects) in the worker's
// thread and returns its step.
using WorkerFactory = std::function<absl::StatusOr<WriteStep>(int index)>;

struct TimedRun {
  std::string side;
  int workers = 1;
  absl::Duration duration;
  size_t bytes_per_write = 0;
  pid_t daemon_pid = 0;  // whose CPU counts; 0 for none
};

// Starts `run.workers` threads; each builds its step and runs it once
// untimed (creating its target, warming its connection). Then all run
// their steps until `run.duration` has passed; a failing worker stops.
Measurement MeasureWorkers(const TimedRun& run, const WorkerFactory& factory);

// How a sequence of single runs is measured.
struct Runs {
  std::string side;
  int runs = 1;
  size_t bytes_per_write = 0;  // each run is one write
  // This process when it writes itself; the waited children when each run
  // is a process it starts.
  ClientCpu client_cpu = ClientCpu::kThisProcess;
  pid_t daemon_pid = 0;  // whose CPU counts; 0 for none
};

// Runs `once` `runs.runs` times in a row, timed one by one.
Measurement MeasureRuns(const Runs& runs,
                        const std::function<absl::Status()>& once);

}  // namespace durable::bench

#endif  // DURABLED_TESTS_BENCH_MEASUREMENT_H_
