#ifndef DURABLED_SERVER_SERVICE_SET_OPERATION_H_
#define DURABLED_SERVER_SERVICE_SET_OPERATION_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "durable/v1/durable.pb.h"
#include "server/base/peer_credentials.h"
#include "server/service/write_operation.h"

namespace durable {

// How large a set may be (config `limits`).
struct SetLimits {
  uint32_t max_members = 64;
  uint64_t max_bytes = uint64_t{256} << 20;
};

// One WriteSet from header to published members: Begin checks the header,
// the policy of every member (under one policy snapshot) and their room,
// and stages a temp file for each write member; Append routes content to
// the write members in header order; Commit takes every member's target
// at once in the commit queue (CommitQueue::SubmitExclusiveGroup, so
// overlapping sets and single writes are serialised without deadlock) and
// runs SetReplacer::Commit there. Destroying an operation that was not
// committed leaves nothing behind.
//
// Every error that concerns one member names it: `"PATH": reason`.
class SetOperation {
 public:
  using Done = std::function<void(
      absl::StatusOr<std::vector<durable::v1::SetMemberResult>>)>;

  // INVALID_ARGUMENT for an empty header, a member without an action, bad
  // write options, a path named twice (or two paths naming one file) and
  // members under different roots; RESOURCE_EXHAUSTED over `limits`, a
  // rule's max_file_size or a root's quota; PERMISSION_DENIED when the
  // caller may not write (or, for a remove, overwrite) one member, which
  // refuses the whole set; the errors of ResolveTarget. Nothing is staged
  // then. `abandon` as for WriteOperation::Begin.
  static absl::StatusOr<std::unique_ptr<SetOperation>> Begin(
      const WriteDependencies& deps, const SetLimits& limits,
      const PeerCredentials& caller, const durable::v1::WriteSetHeader& header,
      const std::function<bool()>& abandon = {});

  ~SetOperation();
  SetOperation(const SetOperation&) = delete;
  SetOperation& operator=(const SetOperation&) = delete;

  // INVALID_ARGUMENT once more content arrives than the write members'
  // sizes add up to; the operation is then dead.
  absl::Status Append(absl::string_view data);

  // Publishes every member or none, then calls `done` once (on this or a
  // committer thread, maybe before Commit returns) with each member's
  // result in header order. The operation must live until then; this
  // thread may block. `abandon` is asked once all targets are held, before
  // anything is checked; true fails with CANCELLED. Call once.
  void Commit(std::function<bool()> abandon, Done done);

  // Removes the temp files of an unpublished set and the directories it
  // created. Idempotent; the destructor calls it.
  void Close();

  uint64_t bytes_received() const { return received_; }

 private:
  struct Member;

  SetOperation(const WriteDependencies& deps, uid_t caller,
               WriteAdmission::Ticket ticket);

  // Runs in the commit queue, holding every target.
  absl::StatusOr<std::vector<durable::v1::SetMemberResult>> CommitHoldingAll(
      const std::function<bool()>& abandon);

  const WriteDependencies deps_;
  const uid_t caller_;
  WriteAdmission::Ticket ticket_;
  std::vector<std::unique_ptr<Member>> members_;  // in header order
  // The caller root every member lies under (where the record goes).
  UniqueFd root_;
  std::string root_label_;
  // The rule keeps sets in the versioned layout (VersionedSetReplacer),
  // with version directories of this mode.
  bool versioned_ = false;
  mode_t version_mode_ = 0;
  uint64_t expected_bytes_ = 0;
  uint64_t received_ = 0;
  size_t filling_ = 0;  // index of the member Append writes to next
  bool published_ = false;
};

}  // namespace durable

#endif  // DURABLED_SERVER_SERVICE_SET_OPERATION_H_
