// What the benchmark reads about processes: CPU time and resident memory of
// the daemon (from /proc) and of the benchmark itself, the client.
#ifndef DURABLED_TESTS_BENCH_PROC_STATS_H_
#define DURABLED_TESTS_BENCH_PROC_STATS_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "absl/status/statusor.h"

namespace durable::bench {

// User plus system CPU seconds `pid` has used (utime + stime of
// /proc/<pid>/stat, all its threads).
absl::StatusOr<double> ProcessCpuSeconds(pid_t pid);

// VmRSS of `pid` in bytes (/proc/<pid>/status).
absl::StatusOr<uint64_t> ResidentBytes(pid_t pid);

// Whose CPU is the client's.
enum class ClientCpu {
  kThisProcess,     // all threads of this one (getrusage SELF)
  kWaitedChildren,  // the children it has waited for (getrusage CHILDREN)
};

struct CpuSnapshot {
  double client_seconds = 0;
  double daemon_seconds = 0;  // 0 without a daemon
};

// Now; `daemon_pid` 0 for none.
absl::StatusOr<CpuSnapshot> TakeCpuSnapshot(ClientCpu client, pid_t daemon_pid);

// Samples the VmRSS of a process every 10 ms on a thread of its own, from
// construction until Stop(), which returns the highest sample minus the
// first (VmHWM cannot be reset, so it cannot measure growth).
class RssGrowthSampler {
 public:
  explicit RssGrowthSampler(pid_t pid);
  ~RssGrowthSampler();
  RssGrowthSampler(const RssGrowthSampler&) = delete;
  RssGrowthSampler& operator=(const RssGrowthSampler&) = delete;

  // Fails if /proc could not be read.
  absl::StatusOr<uint64_t> Stop();

 private:
  void Sample();

  const pid_t pid_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  uint64_t first_ = 0;
  std::atomic<uint64_t> peak_{0};
  std::thread thread_;
};

}  // namespace durable::bench

#endif  // DURABLED_TESTS_BENCH_PROC_STATS_H_
