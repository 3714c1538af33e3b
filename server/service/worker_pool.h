#ifndef DURABLED_SERVER_SERVICE_WORKER_POOL_H_
#define DURABLED_SERVER_SERVICE_WORKER_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace durable {

// A fixed set of threads for blocking work (fsync, waiting for a target's
// lock) that must not run on gRPC's callback threads. Tasks run in
// submission order as threads free up.
class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  // Runs every task already submitted, then joins the threads.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Submit(std::function<void()> task);

 private:
  void Work();

  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace durable

#endif  // DURABLED_SERVER_SERVICE_WORKER_POOL_H_
