#include "server/service/worker_pool.h"

namespace durable {

WorkerPool::WorkerPool(int threads) {
  // Zero threads would leave every submitted task (and its call) hanging.
  if (threads < 1) threads = 1;
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

WorkerPool::~WorkerPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    work_available_.SignalAll();
  }
  for (std::thread& thread : threads_) thread.join();
}

void WorkerPool::Submit(uint64_t tenant, std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  std::deque<std::function<void()>>& queue = queues_[tenant];
  if (queue.empty()) turns_.push_back(tenant);
  queue.push_back(std::move(task));
  work_available_.Signal();
}

void WorkerPool::Work() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_ && turns_.empty()) work_available_.Wait(&mu_);
      if (turns_.empty()) return;  // stopping, and nothing left to do
      const uint64_t tenant = turns_.front();
      turns_.pop_front();
      auto it = queues_.find(tenant);
      task = std::move(it->second.front());
      it->second.pop_front();
      if (it->second.empty()) {
        queues_.erase(it);
      } else {
        turns_.push_back(tenant);
      }
    }
    task();
  }
}

}  // namespace durable
