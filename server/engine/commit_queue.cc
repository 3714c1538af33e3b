#include "server/engine/commit_queue.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/types/span.h"

namespace durable {

bool CommitQueue::Pending::Coalescable() const {
  const CommitOptions& options = request.options;
  return !exclusive && group == nullptr && !options.if_absent &&
         options.if_match.empty() && options.allow_overwrite;
}

CommitQueue::CommitQueue(FileReplacer* replacer, CommitQueueOptions options,
                         CommitObserver* observer)
    : replacer_(replacer), options_(options), observer_(observer) {}

void CommitQueue::Submit(Request request) {
  auto pending = std::make_unique<Pending>();
  pending->request = std::move(request);
  std::vector<std::unique_ptr<Pending>> pendings;
  pendings.push_back(std::move(pending));
  Enqueue(std::move(pendings));
}

void CommitQueue::SubmitExclusive(const TargetKey& target, uint64_t tenant,
                                  std::function<void()> work) {
  auto pending = std::make_unique<Pending>();
  pending->request.target = target;
  pending->request.tenant = tenant;
  pending->exclusive = std::move(work);
  std::vector<std::unique_ptr<Pending>> pendings;
  pendings.push_back(std::move(pending));
  Enqueue(std::move(pendings));
}

void CommitQueue::SubmitExclusiveGroup(std::vector<TargetKey> targets,
                                       uint64_t tenant,
                                       std::function<void()> work) {
  absl::flat_hash_set<TargetKey> seen;
  auto group = std::make_shared<Group>();
  group->work = std::move(work);
  std::vector<std::unique_ptr<Pending>> pendings;
  for (TargetKey& target : targets) {
    if (!seen.insert(target).second) continue;
    auto pending = std::make_unique<Pending>();
    pending->request.target = std::move(target);
    pending->request.tenant = tenant;
    pending->group = group;
    pendings.push_back(std::move(pending));
  }
  group->needed = pendings.size();
  if (pendings.empty()) {
    group->work();
    return;
  }
  Enqueue(std::move(pendings));
}

void CommitQueue::Enqueue(std::vector<std::unique_ptr<Pending>> pendings) {
  {
    absl::MutexLock lock(&mu_);
    for (std::unique_ptr<Pending>& pending : pendings) {
      const TargetKey& key = pending->request.target;
      auto [it, added] = targets_.try_emplace(key);
      TargetQueue& target = it->second;
      if (added) target.key = key;
      target.waiting.push_back(std::move(pending));
      if (!target.in_flight && target.waiting.size() == 1) {
        ready_.push_back(&target);
      }
    }
    if (committers_ >= options_.max_committers) return;
    ++committers_;
  }
  CommitWhileReady();
}

void CommitQueue::CommitWhileReady() {
  while (true) {
    std::vector<Slot> batch;
    {
      absl::MutexLock lock(&mu_);
      batch = TakeBatch();
      if (batch.empty()) {
        --committers_;
        return;
      }
    }
    Run(batch);
  }
}

std::vector<CommitQueue::Slot> CommitQueue::TakeBatch() {
  std::vector<Slot> batch;
  if (ready_.empty()) return batch;
  // Ready targets by the tenant of their first request, tenants in the
  // order of their oldest ready target.
  std::vector<std::vector<TargetQueue*>> by_tenant;
  absl::flat_hash_map<uint64_t, size_t> tenant_index;
  for (TargetQueue* target : ready_) {
    const uint64_t tenant = target->waiting.front()->request.tenant;
    auto [it, added] = tenant_index.try_emplace(tenant, by_tenant.size());
    if (added) by_tenant.emplace_back();
    by_tenant[it->second].push_back(target);
  }
  const size_t limit = options_.max_batch < 1 ? 1 : options_.max_batch;
  for (size_t round = 0; batch.size() < limit; ++round) {
    bool took = false;
    for (std::vector<TargetQueue*>& targets : by_tenant) {
      if (round >= targets.size() || batch.size() >= limit) continue;
      TargetQueue* target = targets[round];
      target->in_flight = true;
      Slot slot;
      slot.target = target;
      slot.run = std::move(target->waiting.front());
      target->waiting.pop_front();
      took = true;
      if (slot.run->group != nullptr) {
        // Held for the group; its work runs once it holds the last one.
        Group& group = *slot.run->group;
        if (group.held.size() + 1 < group.needed) {
          group.held.push_back(target);
          continue;
        }
        slot.also_held = std::move(group.held);
      }
      if (options_.coalesce && slot.run->Coalescable()) {
        while (!target->waiting.empty() &&
               target->waiting.front()->Coalescable()) {
          slot.superseded.push_back(std::move(slot.run));
          slot.run = std::move(target->waiting.front());
          target->waiting.pop_front();
        }
      }
      batch.push_back(std::move(slot));
    }
    if (!took) break;
  }
  std::deque<TargetQueue*> still_ready;
  for (TargetQueue* target : ready_) {
    if (!target->in_flight) still_ready.push_back(target);
  }
  ready_ = std::move(still_ready);
  return batch;
}

void CommitQueue::Run(std::vector<Slot>& batch) {
  std::vector<BatchEntry> entries;
  std::vector<Slot*> writes;
  entries.reserve(batch.size());
  for (Slot& slot : batch) {
    if (slot.run->group != nullptr) {
      std::function<void()> work = std::move(slot.run->group->work);
      slot.run.reset();
      work();
      continue;
    }
    if (slot.run->exclusive) {
      slot.run->exclusive();
      slot.run.reset();
      continue;
    }
    BatchEntry entry;
    entry.staged = slot.run->request.staged;
    entry.options = &slot.run->request.options;
    entry.directory_device = slot.target->key.device;
    entry.directory_inode = slot.target->key.inode;
    entries.push_back(std::move(entry));
    writes.push_back(&slot);
  }
  if (!entries.empty()) {
    replacer_->CommitBatch(absl::MakeSpan(entries), options_.flush);
  }

  // A single answer runs here (a hand-over would only add a thread hop);
  // those of a larger batch in parallel where an executor is given.
  const bool hand_over =
      options_.answer_executor != nullptr && writes.size() > 1;
  const auto answer = [&](uint64_t tenant, Done done,
                          absl::StatusOr<CommitResult> result) {
    if (!hand_over) {
      done(std::move(result));
      return;
    }
    options_.answer_executor(
        tenant, [done = std::move(done), result = std::move(result)]() mutable {
          done(std::move(result));
        });
  };
  size_t superseded = 0;
  for (size_t i = 0; i < writes.size(); ++i) {
    Slot& slot = *writes[i];
    absl::StatusOr<CommitResult>& result = entries[i].result;
    if (result.ok()) {
      // The newer content is durable: the older writes are answered with
      // its etag and their own size and digest.
      for (std::unique_ptr<Pending>& older : slot.superseded) {
        CommitResult superseding = *result;
        superseding.size = older->request.staged->size();
        superseding.sha256 = older->request.staged->sha256();
        superseding.superseded = true;
        Done done = std::move(older->request.done);
        const uint64_t tenant = older->request.tenant;
        older.reset();
        answer(tenant, std::move(done), std::move(superseding));
      }
      superseded += slot.superseded.size();
      slot.superseded.clear();
    }
    Done done = std::move(slot.run->request.done);
    const uint64_t tenant = slot.run->request.tenant;
    slot.run.reset();
    answer(tenant, std::move(done), std::move(result));
  }
  if (observer_ != nullptr && !writes.empty()) {
    observer_->OnBatch(writes.size(), superseded);
  }

  absl::MutexLock lock(&mu_);
  for (Slot& slot : batch) Land(slot);
}

void CommitQueue::Land(Slot& slot) {
  TargetQueue* target = slot.target;
  for (auto it = slot.superseded.rbegin(); it != slot.superseded.rend(); ++it) {
    target->waiting.push_front(std::move(*it));
  }
  slot.superseded.clear();
  for (TargetQueue* held : slot.also_held) LandTarget(held);
  slot.also_held.clear();
  LandTarget(target);
}

void CommitQueue::LandTarget(TargetQueue* target) {
  target->in_flight = false;
  if (!target->waiting.empty()) {
    ready_.push_back(target);
  } else {
    const TargetKey key = target->key;  // the entry goes with the node
    targets_.erase(key);
  }
}

}  // namespace durable
