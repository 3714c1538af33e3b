#ifndef DURABLED_SERVER_ENGINE_COMMIT_QUEUE_H_
#define DURABLED_SERVER_ENGINE_COMMIT_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/engine/file_replacer.h"
#include "server/engine/target_key.h"

namespace durable {

struct CommitQueueOptions {
  FlushStrategy flush = FlushStrategy::kAuto;
  // Targets committed together in one batch, at most.
  size_t max_batch = 64;
  // Threads that may commit batches at the same time.
  int max_committers = 1;
  // Coalesce queued unconditional writes of one target.
  bool coalesce = true;
  // Where the answers of a batch of more than one write run: each `done`
  // is handed over with its request's tenant, so that their work (a caller
  // removing the old content a replace displaced, then sending its answer)
  // runs in parallel instead of one after the other on the committer. Not
  // set: every `done` runs on the committer.
  std::function<void(uint64_t tenant, std::function<void()> answer)>
      answer_executor;
};

// Told of every batch, for counters. Called on a committer thread; must be
// cheap and must not block.
class CommitObserver {
 public:
  virtual ~CommitObserver() = default;
  // A batch was committed: `targets` targets were attempted, `superseded`
  // requests were answered as superseded by a newer write.
  virtual void OnBatch(size_t targets, size_t superseded) = 0;
};

// The commit queue: orders and batches the commits of staged files (group
// commit).
//
//  - Order: requests for one target (TargetKey: the parent directory's
//    device and inode, and the leaf name) are served one at a time in the
//    order Submit was called, across all connections and callers. At most
//    one request per target is in flight.
//  - Batches: whatever is ready when a committer looks, up to max_batch
//    targets, is committed with one FileReplacer::CommitBatch: the data of
//    every file is flushed before any is published, and each directory is
//    fsynced once after all its publishes. A batch forms while the previous
//    one flushes, so batches grow with the load.
//  - Fairness: a batch takes ready targets round-robin across tenants (the
//    callers' uids), so one tenant with a deep backlog cannot keep another's
//    write out of the next batch.
//  - Coalescing: when a target's queue starts with several unconditional
//    writes (no if_absent, no if_match, overwriting allowed), only the
//    newest is published; the earlier ones are answered once it is durable,
//    with its etag and `superseded` set. If it fails, they go back to the
//    head of the queue and the newest of them is tried next. Conditional
//    writes and exclusive work are never coalesced, and nothing is
//    coalesced across them.
//
// There are no threads of its own: a Submit that finds fewer than
// max_committers committing becomes a committer and commits batches, its
// own and others', until nothing is ready. Submit may therefore block for
// as long as those flushes take; call it only from threads that may block.
// Every `done` runs exactly once with no lock held: on a committer thread,
// or through options.answer_executor (see there).
class CommitQueue {
 public:
  using Done = std::function<void(absl::StatusOr<CommitResult>)>;

  struct Request {
    // Sealed; owned by the caller and kept alive until `done` has run.
    StagedFile* staged = nullptr;
    CommitOptions options;
    TargetKey target;
    uint64_t tenant = 0;
    Done done;
  };

  CommitQueue(FileReplacer* replacer, CommitQueueOptions options,
              CommitObserver* observer = nullptr);
  // Every request must have been answered.
  ~CommitQueue() = default;
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  void Submit(Request request);

  // Runs `work` once every request for `target` submitted before has been
  // answered, and before any submitted after is started (for Remove, which
  // must be ordered with the writes of its target). `work` runs on a
  // committer thread and may block.
  void SubmitExclusive(const TargetKey& target, uint64_t tenant,
                       std::function<void()> work);

  // Runs `work` once it holds every one of `targets` (duplicates count
  // once): after every request submitted before for any of them has been
  // answered, and before any submitted after for any of them is started
  // (for WriteSet, whose members change together). The group's places in
  // all its targets' queues are taken at once, under one lock, so every
  // queue orders overlapping groups the same way (the order of submission):
  // the oldest waiting group always gets all its targets, and overlapping
  // groups never deadlock. A target reached first is held, idle, until the
  // group's last target is free. `work` runs on a committer thread and may
  // block.
  void SubmitExclusiveGroup(std::vector<TargetKey> targets, uint64_t tenant,
                            std::function<void()> work);

  const CommitQueueOptions& options() const { return options_; }

 private:
  struct TargetQueue;
  // The shared state of one SubmitExclusiveGroup.
  struct Group {
    size_t needed = 0;
    // Targets the group holds so far (in flight, idle), but not the last.
    std::vector<TargetQueue*> held;
    std::function<void()> work;
  };
  struct Pending {
    Request request;
    std::function<void()> exclusive;  // set for SubmitExclusive
    std::shared_ptr<Group> group;     // set for SubmitExclusiveGroup
    bool Coalescable() const;
  };
  struct TargetQueue {
    TargetKey key;
    std::deque<std::unique_ptr<Pending>> waiting;
    bool in_flight = false;
  };
  // One target's share of a batch: the request to run and, if it is a
  // coalesced write, the older writes it supersedes (oldest first).
  struct Slot {
    TargetQueue* target = nullptr;
    std::unique_ptr<Pending> run;
    std::vector<std::unique_ptr<Pending>> superseded;
    // A group's other targets, held until its work has run.
    std::vector<TargetQueue*> also_held;
  };

  // Queues each of `pendings` at its target, all under one lock.
  void Enqueue(std::vector<std::unique_ptr<Pending>> pendings)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Commits batches until none is ready; the caller was counted in
  // committers_, and is not any more when this returns.
  void CommitWhileReady() ABSL_LOCKS_EXCLUDED(mu_);
  // Takes up to max_batch ready targets, round-robin across tenants, marks
  // them in flight and takes their requests out.
  std::vector<Slot> TakeBatch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run(std::vector<Slot>& batch) ABSL_LOCKS_EXCLUDED(mu_);
  // Ends a slot's flight, after its request ran: requeues the superseded
  // writes `slot` still holds (its winner failed) at the head of its
  // target's queue, and makes the target ready again (or forgets it).
  void Land(Slot& slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LandTarget(TargetQueue* target) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  FileReplacer* const replacer_;
  const CommitQueueOptions options_;
  CommitObserver* const observer_;

  absl::Mutex mu_;
  absl::node_hash_map<TargetKey, TargetQueue> targets_ ABSL_GUARDED_BY(mu_);
  // Targets with waiting requests and none in flight, oldest first.
  std::deque<TargetQueue*> ready_ ABSL_GUARDED_BY(mu_);
  int committers_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace durable

#endif  // DURABLED_SERVER_ENGINE_COMMIT_QUEUE_H_
