#ifndef DURABLED_SERVER_ENGINE_TARGET_LOCKS_H_
#define DURABLED_SERVER_ENGINE_TARGET_LOCKS_H_

#include <cstdint>
#include <string>
#include <tuple>

#include "absl/base/thread_annotations.h"
#include "absl/container/node_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"

namespace durable {

// Identity of a write target that survives renames of its ancestors and
// does not depend on the path string: the parent directory's (device,
// inode) and the final name.
struct TargetKey {
  uint64_t device = 0;
  uint64_t inode = 0;
  std::string leaf;

  friend bool operator==(const TargetKey& a, const TargetKey& b) {
    return std::tie(a.device, a.inode, a.leaf) ==
           std::tie(b.device, b.inode, b.leaf);
  }
  template <typename H>
  friend H AbslHashValue(H h, const TargetKey& key) {
    return H::combine(std::move(h), key.device, key.inode, key.leaf);
  }
};

// Serialises writers of one target across all connections, in arrival
// order (a ticket lock per target). Entries exist only while someone holds
// or waits for them.
class TargetLocks {
 public:
  // Holds the lock of one target until destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept
        : locks_(std::exchange(other.locks_, nullptr)),
          key_(std::move(other.key_)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (locks_ != nullptr) locks_->Release(key_);
    }

   private:
    friend class TargetLocks;
    Lease(TargetLocks* locks, TargetKey key)
        : locks_(locks), key_(std::move(key)) {}
    TargetLocks* locks_;
    TargetKey key_;
  };

  // Blocks until every earlier Acquire of `key` has been released.
  Lease Acquire(const TargetKey& key);

  // Number of targets currently held or waited for (for tests and stats).
  size_t ActiveTargets() const;

 private:
  struct Queue {
    uint64_t next_ticket = 0;
    uint64_t now_serving = 0;
  };

  void Release(const TargetKey& key);

  mutable absl::Mutex mu_;
  absl::node_hash_map<TargetKey, Queue> queues_ ABSL_GUARDED_BY(mu_);
};

}  // namespace durable

#endif  // DURABLED_SERVER_ENGINE_TARGET_LOCKS_H_
