#include "server/service/write_admission.h"

#include "absl/strings/str_cat.h"

namespace durable {

absl::StatusOr<WriteAdmission::Ticket> WriteAdmission::Admit(uid_t uid) {
  absl::MutexLock lock(&mu_);
  if (stopped_) {
    return absl::UnavailableError(
        "the daemon is shutting down; retry when it is back");
  }
  if (total_ >= max_total_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the daemon is running its maximum of ", max_total_,
                     " concurrent writes; retry later"));
  }
  uint32_t& mine = per_uid_[uid];
  if (mine >= max_per_uid_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("uid ", uid, " already has ", mine,
                     " writes in progress, the limit per uid; retry later"));
  }
  ++mine;
  ++total_;
  return Ticket(this, uid);
}

void WriteAdmission::Release(uid_t uid) {
  absl::MutexLock lock(&mu_);
  --total_;
  auto it = per_uid_.find(uid);
  if (--it->second == 0) per_uid_.erase(it);
}

void WriteAdmission::StopAdmitting() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
}

bool WriteAdmission::WaitUntilIdle(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto idle = [this]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return total_ == 0; };
  return mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
}

uint32_t WriteAdmission::in_progress() const {
  absl::MutexLock lock(&mu_);
  return total_;
}

}  // namespace durable
