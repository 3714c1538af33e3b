#ifndef DURABLED_SERVER_SERVICE_WRITE_ADMISSION_H_
#define DURABLED_SERVER_SERVICE_WRITE_ADMISSION_H_

#include <sys/types.h>

#include <cstdint>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace durable {

// Bounds the writes in progress, in total and per uid, so that one caller
// cannot tie up every thread, fd and temp file of the daemon. A refused
// write gets RESOURCE_EXHAUSTED before it touches the disk.
class WriteAdmission {
 public:
  WriteAdmission(uint32_t max_total, uint32_t max_per_uid)
      : max_total_(max_total), max_per_uid_(max_per_uid) {}

  // Holds one admitted write until destroyed.
  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept
        : admission_(std::exchange(other.admission_, nullptr)),
          uid_(other.uid_) {}
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket() {
      if (admission_ != nullptr) admission_->Release(uid_);
    }

   private:
    friend class WriteAdmission;
    Ticket(WriteAdmission* admission, uid_t uid)
        : admission_(admission), uid_(uid) {}
    WriteAdmission* admission_;
    uid_t uid_;
  };

  // UNAVAILABLE once StopAdmitting was called.
  absl::StatusOr<Ticket> Admit(uid_t uid);

  uint32_t in_progress() const;

  // For shutdown: refuse new writes, then wait (up to `timeout`) for those
  // in progress. True if none is left.
  void StopAdmitting();
  bool WaitUntilIdle(absl::Duration timeout);

 private:
  void Release(uid_t uid);

  const uint32_t max_total_;
  const uint32_t max_per_uid_;
  mutable absl::Mutex mu_;
  uint32_t total_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<uid_t, uint32_t> per_uid_ ABSL_GUARDED_BY(mu_);
};

}  // namespace durable

#endif  // DURABLED_SERVER_SERVICE_WRITE_ADMISSION_H_
