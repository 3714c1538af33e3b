#include "tests/bench/measurement.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

namespace durable::bench {
namespace {

constexpr size_t kMaxErrorsKept = 5;
constexpr double kMiB = 1024.0 * 1024.0;

// What one worker thread did in the timed phase.
struct WorkerRecord {
  int64_t writes = 0;
  std::vector<absl::Duration> latencies;
  absl::Status status;
};

// Runs `step` until `stop`, recording each step's writes and latency.
void RunSteps(const WriteStep& step, const std::atomic<bool>& stop,
              WorkerRecord* record) {
  while (!stop.load(std::memory_order_relaxed)) {
    const absl::Time started = absl::Now();
    const absl::StatusOr<int> writes = step();
    const absl::Duration latency = absl::Now() - started;
    if (!writes.ok()) {
      record->status = writes.status();
      return;
    }
    record->writes += *writes;
    record->latencies.insert(record->latencies.end(), *writes, latency);
  }
}

// Builds the worker's step and runs it once untimed; the error if either
// fails.
absl::StatusOr<WriteStep> PrepareWorker(const WorkerFactory& factory,
                                        int index) {
  absl::StatusOr<WriteStep> step = factory(index);
  if (!step.ok()) return step.status();
  absl::StatusOr<int> warm_up = (*step)();
  if (!warm_up.ok()) return warm_up.status();
  return step;
}

// Records the CPU used between `before` and now.
void AddCpuSince(const absl::StatusOr<CpuSnapshot>& before, ClientCpu client,
                 pid_t daemon_pid, Measurement* measurement) {
  const absl::StatusOr<CpuSnapshot> after = TakeCpuSnapshot(client, daemon_pid);
  if (!before.ok() || !after.ok()) {
    measurement->AddError(before.ok() ? after.status() : before.status());
    return;
  }
  measurement->client_cpu_seconds =
      after->client_seconds - before->client_seconds;
  measurement->daemon_cpu_seconds =
      after->daemon_seconds - before->daemon_seconds;
}

void SortLatencies(Measurement* measurement) {
  std::sort(measurement->latencies.begin(), measurement->latencies.end());
}

}  // namespace

double Measurement::WritesPerSecond() const {
  const double seconds = absl::ToDoubleSeconds(wall);
  return seconds > 0 ? static_cast<double>(writes) / seconds : 0;
}

double Measurement::MiBPerSecond() const {
  const double seconds = absl::ToDoubleSeconds(wall);
  return seconds > 0 ? static_cast<double>(bytes) / kMiB / seconds : 0;
}

absl::Duration Measurement::Percentile(double fraction) const {
  if (latencies.empty()) return absl::ZeroDuration();
  const size_t index = std::min(
      latencies.size() - 1,
      static_cast<size_t>(fraction * static_cast<double>(latencies.size())));
  return latencies[index];
}

double Measurement::CpuSecondsPerWrite() const {
  return writes > 0 ? (client_cpu_seconds + daemon_cpu_seconds) /
                          static_cast<double>(writes)
                    : 0;
}

void Measurement::AddError(const absl::Status& status) {
  if (errors.size() < kMaxErrorsKept) {
    errors.push_back(status.ToString());
  } else if (errors.size() == kMaxErrorsKept) {
    errors.push_back("(further errors not shown)");
  }
}

Measurement MeasureWorkers(const TimedRun& run, const WorkerFactory& factory) {
  std::vector<WorkerRecord> records(run.workers);
  std::atomic<bool> stop{false};
  absl::BlockingCounter prepared(run.workers);
  absl::Notification start;
  std::vector<std::thread> threads;
  for (int index = 0; index < run.workers; ++index) {
    threads.emplace_back([&, index] {
      absl::StatusOr<WriteStep> step = PrepareWorker(factory, index);
      prepared.DecrementCount();
      if (!step.ok()) {
        records[index].status = step.status();
        return;
      }
      start.WaitForNotification();
      RunSteps(*step, stop, &records[index]);
    });
  }
  prepared.Wait();

  Measurement measurement;
  measurement.side = run.side;
  const absl::StatusOr<CpuSnapshot> before =
      TakeCpuSnapshot(ClientCpu::kThisProcess, run.daemon_pid);
  const absl::Time started = absl::Now();
  start.Notify();
  absl::SleepFor(run.duration);
  stop = true;
  for (std::thread& thread : threads) thread.join();
  measurement.wall = absl::Now() - started;
  AddCpuSince(before, ClientCpu::kThisProcess, run.daemon_pid, &measurement);

  for (WorkerRecord& record : records) {
    if (!record.status.ok()) measurement.AddError(record.status);
    measurement.writes += record.writes;
    measurement.latencies.insert(measurement.latencies.end(),
                                 record.latencies.begin(),
                                 record.latencies.end());
  }
  measurement.bytes =
      static_cast<uint64_t>(measurement.writes) * run.bytes_per_write;
  SortLatencies(&measurement);
  return measurement;
}

Measurement MeasureRuns(const Runs& runs,
                        const std::function<absl::Status()>& once) {
  Measurement measurement;
  measurement.side = runs.side;
  const absl::StatusOr<CpuSnapshot> before =
      TakeCpuSnapshot(runs.client_cpu, runs.daemon_pid);
  const absl::Time started = absl::Now();
  for (int run = 0; run < runs.runs; ++run) {
    const absl::Time run_started = absl::Now();
    const absl::Status status = once();
    measurement.latencies.push_back(absl::Now() - run_started);
    if (!status.ok()) {
      measurement.AddError(status);
      continue;
    }
    ++measurement.writes;
    measurement.bytes += runs.bytes_per_write;
  }
  measurement.wall = absl::Now() - started;
  AddCpuSince(before, runs.client_cpu, runs.daemon_pid, &measurement);
  SortLatencies(&measurement);
  return measurement;
}

}  // namespace durable::bench
