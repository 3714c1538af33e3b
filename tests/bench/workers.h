// The writers of the benchmark's sides: in-process threads doing the cycle,
// one batched writer (the ceiling), and threads writing through durabled,
// one durable::Client (one connection) each. Every write's content is
// stamped with its writer and sequence number, so the final content of a
// shared target tells whose write it is.
#ifndef DURABLED_TESTS_BENCH_WORKERS_H_
#define DURABLED_TESTS_BENCH_WORKERS_H_

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "durable/client.h"
#include "tests/bench/measurement.h"

namespace durable::bench {

inline constexpr size_t kSmallWriteBytes = 4 * 1024;

// Bytes that look incompressible (xorshift), so no layer can shortcut them.
std::string PatternBytes(size_t size);

// Writer `writer`'s content: kSmallWriteBytes whose first line says
// "writer W seq S"; Next() moves to the next sequence number.
class StampedContent {
 public:
  explicit StampedContent(int writer);
  std::string_view Next();
  int64_t sequence() const { return sequence_; }

 private:
  const int writer_;
  int64_t sequence_ = -1;
  std::string buffer_;
};

struct Stamp {
  int writer = 0;
  int64_t sequence = 0;
};
std::optional<Stamp> ReadStamp(absl::string_view content);

// One acknowledged write, timed from just before the request to just after
// the answer.
struct Ack {
  int64_t sequence = 0;
  absl::Time sent;
  absl::Time acknowledged;
  bool superseded = false;
};
// By writer, in the order each writer's writes were acknowledged.
using AckLog = std::vector<std::vector<Ack>>;

// Where the workers of one side write.
struct TargetLayout {
  std::string dir;
  // All workers write "target"; otherwise worker i writes "target-i".
  bool shared_target = false;

  std::string Leaf(int worker) const;
  std::string Temp(int worker) const;  // unique per worker
};

// Worker i replaces its target with the cycle, holding `turns` (if not
// null) for each write, and logs each write in (*acks)[i] (if not null).
WorkerFactory CycleWorkers(const TargetLayout& layout, std::mutex* turns,
                           AckLog* acks);

// Worker i writes its target through its own Client of `options`.
WorkerFactory DaemonWorkers(const TargetLayout& layout,
                            const ClientOptions& options, AckLog* acks);

// One worker that replaces `batch_size` distinct targets per step with
// ReplaceBatchDurably.
WorkerFactory BatchedWorker(const std::string& dir, int batch_size);

// After every writer stopped: `path` must hold the content of an
// acknowledged write W that is its writer's last, and no acknowledged
// write may have been sent after W was acknowledged (that one, or a newer,
// would have to be on disk). Returns W.
absl::StatusOr<Stamp> CheckLastWriteWins(const std::string& path,
                                         const AckLog& acks);

int64_t CountSuperseded(const AckLog& acks);
int64_t CountAcknowledged(const AckLog& acks);

}  // namespace durable::bench

#endif  // DURABLED_TESTS_BENCH_WORKERS_H_
