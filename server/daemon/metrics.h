#ifndef DURABLED_SERVER_DAEMON_METRICS_H_
#define DURABLED_SERVER_DAEMON_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "durable/v1/durable.pb.h"
#include "server/engine/commit_queue.h"
#include "server/engine/sync_observer.h"

namespace durable {

// Counters since start, cheap to update from any thread (relaxed atomics),
// read by GetStats. Owned by main; everyone else gets a pointer.
class Metrics final : public SyncObserver, public CommitObserver {
 public:
  explicit Metrics(absl::Time start = absl::Now()) : start_(start) {}

  // A Write/WriteStream ("write") or Remove ("remove") finished.
  void RecordCall(bool is_write, const absl::Status& status, uint64_t bytes,
                  absl::Duration latency);
  void RecordSync(bool directory, bool ok);
  void OnSync(bool directory, bool ok) override { RecordSync(directory, ok); }
  void OnFilesystemSync(bool ok) override;
  void OnBatch(size_t targets, size_t superseded) override;
  void RecordConnection(bool accepted);

  // Writes the counters into `out` (writes_in_progress is the caller's).
  void Fill(durable::v1::GetStatsResponse* out) const;

  // Upper bounds (exclusive, microseconds) of the latency buckets.
  static constexpr std::array<int64_t, 12> kLatencyBucketUpperUs = {
      100,   250,   500,    1000,    2500,     5000,
      10000, 25000, 100000, 1000000, 10000000, INT64_MAX};

 private:
  using Counter = std::atomic<uint64_t>;
  static constexpr int kCodes = 17;  // absl::StatusCode 0..16

  const absl::Time start_;
  Counter writes_ok_{0}, writes_failed_{0}, bytes_written_{0};
  Counter removes_ok_{0}, removes_failed_{0};
  std::array<Counter, kCodes> errors_by_code_{};
  Counter file_syncs_{0}, directory_syncs_{0}, sync_errors_{0};
  Counter filesystem_syncs_{0};
  Counter batches_{0}, batched_writes_{0}, superseded_{0};
  std::array<Counter, kLatencyBucketUpperUs.size()> latency_{};
  Counter latency_sum_us_{0};
  Counter connections_accepted_{0}, connections_refused_{0};
};

}  // namespace durable

#endif  // DURABLED_SERVER_DAEMON_METRICS_H_
