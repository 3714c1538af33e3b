#ifndef DURABLED_SERVER_SERVICE_STREAM_WATCHDOG_H_
#define DURABLED_SERVER_SERVICE_STREAM_WATCHDOG_H_

#include <cstdint>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace durable {

// Ends streams whose client went quiet: each watched stream has an idle
// timeout, restarted by Touch; when it runs out, the stream's expiry
// callback runs on the watchdog's own thread and the stream stays suspended
// until the next Touch. This is what stops a slow-loris client from holding
// a temp file and a call forever.
class StreamWatchdog {
 public:
  using Id = uint64_t;

  StreamWatchdog();
  ~StreamWatchdog();
  StreamWatchdog(const StreamWatchdog&) = delete;
  StreamWatchdog& operator=(const StreamWatchdog&) = delete;

  // Starts watching; the first deadline is now + `timeout`.
  Id Watch(absl::Duration timeout, std::function<void()> on_expiry);

  // The stream made progress: its deadline becomes now + its timeout.
  void Touch(Id id);

  // The daemon, not the client, is busy with the stream (e.g. a commit):
  // no deadline until the next Touch.
  void Suspend(Id id);

  // Stops watching. When Forget returns, the expiry callback is neither
  // running (unless Forget is called from that callback) nor will it run.
  void Forget(Id id);

 private:
  struct Entry {
    absl::Duration timeout;
    absl::Time deadline;  // InfiniteFuture while suspended
    std::function<void()> on_expiry;
  };

  void Run();

  absl::Mutex mu_;
  absl::flat_hash_map<Id, Entry> entries_ ABSL_GUARDED_BY(mu_);
  Id next_id_ ABSL_GUARDED_BY(mu_) = 1;
  Id running_ ABSL_GUARDED_BY(mu_) = 0;  // id whose callback runs now
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t changes_ ABSL_GUARDED_BY(mu_) = 0;
  // When the watchdog thread wakes up next by itself. A new deadline later
  // than that needs no wake-up: every call would otherwise cost two
  // context switches of the watchdog thread.
  absl::Time sleeping_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::thread thread_;
};

}  // namespace durable

#endif  // DURABLED_SERVER_SERVICE_STREAM_WATCHDOG_H_
