#include "server/engine/target_locks.h"

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace durable {
namespace {

using testing::ElementsAreArray;

// How long a test waits for something that should happen promptly before it
// gives up and fails instead of hanging. Never used to assert speed.
constexpr std::chrono::seconds kPatience(30);

TargetKey Key(uint64_t device, uint64_t inode, std::string leaf) {
  TargetKey key;
  key.device = device;
  key.inode = inode;
  key.leaf = std::move(leaf);
  return key;
}

pid_t CurrentTid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// The scheduler state letter of thread `tid` of this process ('R', 'S',
// ...), or '?' if it cannot be read.
char ThreadState(pid_t tid) {
  std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::stringstream text;
  text << stat.rdbuf();
  const std::string line = text.str();
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 >= line.size()) return '?';
  return line[paren + 2];
}

// Waits until thread `tid` is asleep. Used after the thread announced that
// it is about to call Acquire on a key held by someone else: nothing else
// contends for the TargetLocks mutex then, so the only place it can fall
// asleep is waiting for its turn, after it took its ticket.
bool WaitUntilAsleep(pid_t tid) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ThreadState(tid) == 'S') return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

TEST(TargetLocksTest, ActiveTargetsCountsHeldKeys) {
  TargetLocks locks;
  EXPECT_EQ(locks.ActiveTargets(), 0u);
  {
    TargetLocks::Lease a = locks.Acquire(Key(1, 2, "a"));
    EXPECT_EQ(locks.ActiveTargets(), 1u);
    {
      TargetLocks::Lease b = locks.Acquire(Key(1, 2, "b"));
      EXPECT_EQ(locks.ActiveTargets(), 2u);
    }
    EXPECT_EQ(locks.ActiveTargets(), 1u);
  }
  EXPECT_EQ(locks.ActiveTargets(), 0u);
}

TEST(TargetLocksTest, SequentialReacquireOfOneKey) {
  TargetLocks locks;
  for (int i = 0; i < 5; ++i) {
    TargetLocks::Lease lease = locks.Acquire(Key(1, 2, "x"));
    EXPECT_EQ(locks.ActiveTargets(), 1u);
  }
  EXPECT_EQ(locks.ActiveTargets(), 0u);
}

TEST(TargetLocksTest, MovedFromLeaseReleasesNothing) {
  TargetLocks locks;
  std::optional<TargetLocks::Lease> moved;
  {
    TargetLocks::Lease original = locks.Acquire(Key(1, 2, "x"));
    moved.emplace(std::move(original));
  }
  // `original` is gone; the lock is still held through `moved`.
  EXPECT_EQ(locks.ActiveTargets(), 1u);
  moved.reset();
  EXPECT_EQ(locks.ActiveTargets(), 0u);
  // And it can be taken again at once.
  TargetLocks::Lease again = locks.Acquire(Key(1, 2, "x"));
  EXPECT_EQ(locks.ActiveTargets(), 1u);
}

TEST(TargetLocksTest, SameKeySerialises) {
  TargetLocks locks;
  const TargetKey key = Key(7, 8, "state.json");
  constexpr int kThreads = 8;
  constexpr int kIterations = 200;
  std::atomic<int> holders{0};
  std::atomic<int> max_holders{0};
  std::atomic<int> entries{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIterations; ++i) {
        TargetLocks::Lease lease = locks.Acquire(key);
        const int now = holders.fetch_add(1) + 1;
        int seen = max_holders.load();
        while (now > seen && !max_holders.compare_exchange_weak(seen, now)) {
        }
        entries.fetch_add(1);
        std::this_thread::yield();
        holders.fetch_sub(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(max_holders.load(), 1);
  EXPECT_EQ(entries.load(), kThreads * kIterations);
  EXPECT_EQ(locks.ActiveTargets(), 0u);
}

// Acquires `key` on another thread while `locks` holds `held`; true if that
// finishes (the two keys do not block each other).
bool AcquireElsewhereCompletes(TargetLocks& locks, const TargetKey& held,
                               const TargetKey& other) {
  std::optional<TargetLocks::Lease> lease(locks.Acquire(held));
  std::future<void> done = std::async(std::launch::async, [&] {
    TargetLocks::Lease inner = locks.Acquire(other);
  });
  const bool completed = done.wait_for(kPatience) == std::future_status::ready;
  lease.reset();  // lets a wrongly blocked acquirer finish before `done` dies
  done.get();
  return completed;
}

TEST(TargetLocksTest, DifferentKeysDoNotBlockEachOther) {
  TargetLocks locks;
  const TargetKey base = Key(1, 100, "file");
  EXPECT_TRUE(AcquireElsewhereCompletes(locks, base, Key(1, 100, "other")));
  EXPECT_TRUE(AcquireElsewhereCompletes(locks, base, Key(1, 101, "file")));
  EXPECT_TRUE(AcquireElsewhereCompletes(locks, base, Key(2, 100, "file")));
  EXPECT_EQ(locks.ActiveTargets(), 0u);
}

TEST(TargetLocksTest, ManyKeysHeldAtOnce) {
  TargetLocks locks;
  std::vector<TargetLocks::Lease> leases;
  for (int i = 0; i < 50; ++i) {
    leases.push_back(locks.Acquire(Key(1, 1, "f" + std::to_string(i))));
  }
  EXPECT_EQ(locks.ActiveTargets(), 50u);
  leases.clear();
  EXPECT_EQ(locks.ActiveTargets(), 0u);
}

TEST(TargetLocksTest, WaitersAreServedInArrivalOrder) {
  TargetLocks locks;
  const TargetKey key = Key(3, 4, "queue");
  constexpr int kWaiters = 6;

  absl::Mutex order_mu;
  std::vector<int> order;

  std::optional<TargetLocks::Lease> first(locks.Acquire(key));
  std::vector<std::thread> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    std::promise<pid_t> started;
    std::future<pid_t> tid = started.get_future();
    waiters.emplace_back([&, i, started = std::move(started)]() mutable {
      started.set_value(CurrentTid());
      TargetLocks::Lease lease = locks.Acquire(key);
      absl::MutexLock lock(&order_mu);
      order.push_back(i);
    });
    // Start the next waiter only once this one has taken its ticket.
    const bool queued = WaitUntilAsleep(tid.get());
    EXPECT_TRUE(queued) << "waiter " << i << " never went to sleep";
    if (!queued) break;
    EXPECT_EQ(locks.ActiveTargets(), 1u);
  }
  {
    absl::MutexLock lock(&order_mu);
    EXPECT_TRUE(order.empty()) << "a waiter got in while the lock was held";
  }
  first.reset();
  for (std::thread& waiter : waiters) waiter.join();

  std::vector<int> expected;
  for (int i = 0; i < static_cast<int>(waiters.size()); ++i) {
    expected.push_back(i);
  }
  ASSERT_EQ(waiters.size(), static_cast<size_t>(kWaiters));
  EXPECT_THAT(order, ElementsAreArray(expected));
  EXPECT_EQ(locks.ActiveTargets(), 0u);
}

TEST(TargetLocksTest, ActiveTargetsStaysWhileWaitersRemain) {
  TargetLocks locks;
  const TargetKey key = Key(5, 6, "k");
  std::optional<TargetLocks::Lease> holder(locks.Acquire(key));

  std::promise<pid_t> started;
  std::future<pid_t> tid = started.get_future();
  std::promise<void> release_waiter;
  std::shared_future<void> may_release = release_waiter.get_future().share();
  std::atomic<bool> acquired{false};
  std::thread waiter([&] {
    started.set_value(CurrentTid());
    TargetLocks::Lease lease = locks.Acquire(key);
    acquired = true;
    may_release.wait();
  });
  EXPECT_TRUE(WaitUntilAsleep(tid.get()));
  EXPECT_FALSE(acquired.load());
  EXPECT_EQ(locks.ActiveTargets(), 1u);

  holder.reset();
  // The waiter now holds the key: the entry must survive the first release.
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (!acquired.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(acquired.load());
  EXPECT_EQ(locks.ActiveTargets(), 1u);

  release_waiter.set_value();
  waiter.join();
  EXPECT_EQ(locks.ActiveTargets(), 0u);
}

}  // namespace
}  // namespace durable
