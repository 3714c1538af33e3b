#ifndef DURABLED_SERVER_SERVICE_WORKER_POOL_H_
#define DURABLED_SERVER_SERVICE_WORKER_POOL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace durable {

// A fixed set of threads for blocking work (filesystem I/O, fsync, commits)
// that must not run on gRPC's callback threads. Fair across tenants (the
// callers' uids): each tenant's tasks run in submission order, and tenants
// with work take turns, one task each, so one caller's backlog cannot delay
// another caller's task by more than one task per other tenant.
class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  // Runs every task already submitted, then joins the threads.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Submit(uint64_t tenant, std::function<void()> task);

 private:
  void Work();

  absl::Mutex mu_;
  // Signalled once per task (and for all at shutdown): a condition variable
  // wakes one idle thread per task, where Mutex::Await with a condition
  // woke every idle thread to re-check it.
  absl::CondVar work_available_;
  absl::flat_hash_map<uint64_t, std::deque<std::function<void()>>> queues_
      ABSL_GUARDED_BY(mu_);
  // Tenants with queued tasks, in turn order.
  std::deque<uint64_t> turns_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace durable

#endif  // DURABLED_SERVER_SERVICE_WORKER_POOL_H_
