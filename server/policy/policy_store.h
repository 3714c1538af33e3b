#ifndef DURABLED_SERVER_POLICY_POLICY_STORE_H_
#define DURABLED_SERVER_POLICY_POLICY_STORE_H_

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "durable/v1/config.pb.h"
#include "server/policy/policy.h"
#include "server/policy/root_directories.h"

namespace durable {

// A policy together with the opened handles of its roots. Immutable; a
// write holds a reference for its whole duration, so a reload never changes
// the rules under a write in progress.
struct ActivePolicy {
  Policy policy;
  RootDirectories roots;
};

// Builds an ActivePolicy from a validated config, opening every root (the
// base of a per-caller root): roots.fd(i) belongs to policy.rules()[i].
absl::StatusOr<std::shared_ptr<const ActivePolicy>> BuildActivePolicy(
    const durable::v1::DaemonConfig& config);

// The policy in force; swapped as a whole on reload.
class PolicyStore {
 public:
  explicit PolicyStore(std::shared_ptr<const ActivePolicy> initial)
      : current_(std::move(initial)) {}

  std::shared_ptr<const ActivePolicy> Current() const {
    absl::MutexLock lock(&mu_);
    return current_;
  }

  void Replace(std::shared_ptr<const ActivePolicy> next) {
    absl::MutexLock lock(&mu_);
    current_ = std::move(next);
  }

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const ActivePolicy> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace durable

#endif  // DURABLED_SERVER_POLICY_POLICY_STORE_H_
