// Holds a CommitQueue's committer, so that a test decides what its batches
// hold: a Submit that finds no free committer only queues.
//
//   HeldCommitter held(queue, gate_request);  // returns once it is held
//   queue.Submit(...);                        // queued, not committed
//   held.Release();  // commits the queued batches on the gate's thread and
//                    // returns once they are all answered
//
// The gate is a write of its own (a sealed StagedFile the caller keeps
// alive); it is committed at once, and its answer waits for Release(). Its
// batch is therefore complete (flushed, published, directory fsynced) when
// the constructor returns, and CommitObserver::OnBatch has not yet been
// told of it. Meant for a queue with max_committers = 1.
#ifndef DURABLED_TESTS_SUPPORT_HELD_COMMITTER_H_
#define DURABLED_TESTS_SUPPORT_HELD_COMMITTER_H_

#include <optional>
#include <thread>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "server/engine/commit_queue.h"
#include "server/engine/file_replacer.h"

namespace durable::test {

class HeldCommitter {
 public:
  // `gate.done` is replaced.
  HeldCommitter(CommitQueue& queue, CommitQueue::Request gate) {
    gate.done = [this](absl::StatusOr<CommitResult> result) {
      gate_result_ = std::move(result);
      held_.Notify();
      release_.WaitForNotification();
    };
    thread_ = std::thread([&queue, gate = std::move(gate)]() mutable {
      queue.Submit(std::move(gate));
    });
    held_.WaitForNotification();
  }
  ~HeldCommitter() { Release(); }
  HeldCommitter(const HeldCommitter&) = delete;
  HeldCommitter& operator=(const HeldCommitter&) = delete;

  // Lets the committer go on and waits until it has answered everything
  // that was queued meanwhile (and anything queued while it committed).
  void Release() {
    if (!release_.HasBeenNotified()) release_.Notify();
    if (thread_.joinable()) thread_.join();
  }

  // What the gate write was answered (set before the constructor returns).
  const absl::StatusOr<CommitResult>& gate_result() const {
    return *gate_result_;
  }

 private:
  std::optional<absl::StatusOr<CommitResult>> gate_result_;
  absl::Notification held_;
  absl::Notification release_;
  std::thread thread_;
};

}  // namespace durable::test

#endif  // DURABLED_TESTS_SUPPORT_HELD_COMMITTER_H_
