#include "server/engine/target_locks.h"

namespace durable {

TargetLocks::Lease TargetLocks::Acquire(const TargetKey& key) {
  absl::MutexLock lock(&mu_);
  Queue& queue = queues_[key];  // node_hash_map: the reference stays valid
  const uint64_t ticket = queue.next_ticket++;
  struct Turn {
    const Queue* queue;
    uint64_t ticket;
    bool operator()() const { return queue->now_serving == ticket; }
  } turn{&queue, ticket};
  mu_.Await(absl::Condition(&turn));
  return Lease(this, key);
}

void TargetLocks::Release(const TargetKey& key) {
  absl::MutexLock lock(&mu_);
  auto it = queues_.find(key);
  Queue& queue = it->second;
  ++queue.now_serving;
  if (queue.now_serving == queue.next_ticket) queues_.erase(it);
}

size_t TargetLocks::ActiveTargets() const {
  absl::MutexLock lock(&mu_);
  return queues_.size();
}

}  // namespace durable
