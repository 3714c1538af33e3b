#ifndef DURABLED_SERVER_ENGINE_USAGE_LEDGER_H_
#define DURABLED_SERVER_ENGINE_USAGE_LEDGER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/engine/file_system.h"
#include "server/engine/inode_key.h"

namespace durable {

// Caps on what may lie beneath one root: the bytes of its regular files and
// their number. 0: no cap.
struct QuotaLimits {
  uint64_t max_bytes = 0;
  uint64_t max_files = 0;
};

// The quota accounting of the roots that have one, kept by the daemon
// itself (no filesystem quotas needed). A root's usage (regular files
// beneath it, at any depth, not counting durabled's temp files or anything
// behind a mount point) is counted from disk the first time the root is
// used after start, then kept up to date by the writes and removes the
// daemon makes. Roots are told apart by (device, inode), so a reload that
// keeps a root keeps its count.
//
// A write reserves its growth before it stages anything and settles once
// its outcome is known; reservations in flight count against the cap, so
// concurrent writes cannot together overshoot it. Changes made beneath a
// root by anyone but the daemon are not seen until the next start.
class UsageLedger {
  struct RootUsage;

 public:
  struct Usage {
    uint64_t bytes = 0;
    uint64_t files = 0;
  };

  // Room held for one write until it is settled; destroying an unsettled
  // reservation gives the room back (the write published nothing).
  class Reservation {
   public:
    Reservation() = default;
    ~Reservation();
    Reservation(Reservation&& other) noexcept;
    Reservation& operator=(Reservation&& other) noexcept;

    // Holds `bytes` more (a stream whose content keeps growing);
    // RESOURCE_EXHAUSTED, naming the cap, if that would pass it.
    absl::Status Grow(uint64_t bytes);

    // The write published `new_size` bytes, replacing `replaced_size`
    // bytes of an existing file, or creating a file if `created`.
    void SettlePublished(uint64_t new_size, bool created,
                         uint64_t replaced_size);

    bool active() const { return root_ != nullptr; }

   private:
    friend class UsageLedger;
    void Release();

    RootUsage* root_ = nullptr;
    QuotaLimits limits_;
    std::string label_;
    uint64_t bytes_ = 0;  // held
    uint64_t files_ = 0;
    // Bytes the file being replaced holds beyond what is held: growth up to
    // it needs no more room.
    uint64_t credit_ = 0;
  };

  explicit UsageLedger(FileSystem* fs) : fs_(fs) {}
  UsageLedger(const UsageLedger&) = delete;
  UsageLedger& operator=(const UsageLedger&) = delete;

  // Reserves room for a write of `new_size` bytes to `leaf` in `dir_fd`,
  // beneath the root `root_fd`: its growth over what `leaf` holds now (a
  // new file counts one more file). RESOURCE_EXHAUSTED if the root's usage
  // plus what is reserved plus this growth would pass a cap; the message
  // names the cap and the root as `root_label`.
  absl::StatusOr<Reservation> Reserve(int root_fd, const QuotaLimits& limits,
                                      absl::string_view root_label, int dir_fd,
                                      const std::string& leaf,
                                      uint64_t new_size);

  // A file of `size` bytes beneath `root_fd` was removed.
  void RecordRemoval(int root_fd, uint64_t size);

  // The root's usage, counting it first if need be (for tests and stats).
  absl::StatusOr<Usage> UsageOf(int root_fd);

 private:
  using Key = InodeKey;

  struct RootUsage {
    absl::Mutex mu;
    bool counted ABSL_GUARDED_BY(mu) = false;
    Usage used ABSL_GUARDED_BY(mu);
    Usage reserved ABSL_GUARDED_BY(mu);
  };

  // The root's entry, counted from disk if it has not been yet.
  absl::StatusOr<RootUsage*> Find(int root_fd);
  absl::Status Count(int dir_fd, Usage* usage, int depth);

  FileSystem* const fs_;
  absl::Mutex mu_;
  // Entries are never removed, so pointers to them stay valid.
  absl::flat_hash_map<Key, std::unique_ptr<RootUsage>> roots_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace durable

#endif  // DURABLED_SERVER_ENGINE_USAGE_LEDGER_H_
