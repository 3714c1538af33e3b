#include "server/service/stream_watchdog.h"

#include "absl/time/clock.h"

namespace durable {

StreamWatchdog::StreamWatchdog() : thread_([this] { Run(); }) {}

StreamWatchdog::~StreamWatchdog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    ++changes_;
  }
  thread_.join();
}

StreamWatchdog::Id StreamWatchdog::Watch(absl::Duration timeout,
                                         std::function<void()> on_expiry) {
  absl::MutexLock lock(&mu_);
  Id id = next_id_++;
  const absl::Time deadline = absl::Now() + timeout;
  entries_[id] = Entry{timeout, deadline, std::move(on_expiry)};
  if (deadline < sleeping_until_) ++changes_;
  return id;
}

void StreamWatchdog::Touch(Id id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  it->second.deadline = absl::Now() + it->second.timeout;
  if (it->second.deadline < sleeping_until_) ++changes_;
}

void StreamWatchdog::Suspend(Id id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it != entries_.end()) it->second.deadline = absl::InfiniteFuture();
}

void StreamWatchdog::Forget(Id id) {
  absl::MutexLock lock(&mu_);
  entries_.erase(id);
  if (std::this_thread::get_id() == thread_.get_id()) return;
  auto not_running = [this, id]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return running_ != id;
  };
  mu_.Await(absl::Condition(&not_running));
}

void StreamWatchdog::Run() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    absl::Time earliest = absl::InfiniteFuture();
    Id due = 0;
    for (const auto& [id, entry] : entries_) {
      if (entry.deadline < earliest) {
        earliest = entry.deadline;
        due = id;
      }
    }
    if (due != 0 && earliest <= absl::Now()) {
      Entry& entry = entries_[due];
      entry.deadline = absl::InfiniteFuture();
      std::function<void()> on_expiry = entry.on_expiry;
      running_ = due;
      mu_.Unlock();
      on_expiry();
      mu_.Lock();
      running_ = 0;
      continue;
    }
    const uint64_t seen = changes_;
    auto changed = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return changes_ != seen;
    };
    sleeping_until_ = earliest;
    mu_.AwaitWithDeadline(absl::Condition(&changed), earliest);
    sleeping_until_ = absl::InfinitePast();
  }
}

}  // namespace durable
