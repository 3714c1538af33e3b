#ifndef DURABLED_SERVER_ENGINE_SET_REPLACER_H_
#define DURABLED_SERVER_ENGINE_SET_REPLACER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "server/engine/file_replacer.h"
#include "server/engine/file_system.h"

namespace durable {

// One member of a set (SetReplacer::Commit).
struct SetEntry {
  // A write member: its sealed staged file and how to publish it. Null for
  // a remove member.
  StagedFile* staged = nullptr;
  const CommitOptions* options = nullptr;
  // The member's directory (for a write, the staged file's) and name.
  int dir_fd = -1;
  std::string leaf;
  // A remove member: non-empty means it must have this etag.
  std::string if_match;
  // The member's directory relative to the set's record directory ("." or
  // components separated by '/'), for recovery.
  std::string record_path;
  // The member's directory as (device, inode): members that share one
  // share its fsyncs.
  uint64_t directory_device = 0;
  uint64_t directory_inode = 0;
  // Set by Commit: for a write what Commit would have answered; for a
  // remove `etag` is the removed file's.
  CommitResult result;
  // Set by Commit for a write: the target's etag when checked ("" if
  // absent), and the temp file's (device, inode) as seen through our fd.
  std::string expected_etag;
  uint64_t temp_device = 0;
  uint64_t temp_inode = 0;
  // Set by Commit on the member whose check or step ended the set.
  absl::Status status;

  // Takes result, expected_etag and the temp file's identity from what
  // FileReplacer::Prepare found for this (write) member.
  void TakePrepared(PreparedFile prepared);
};

// The set commit protocol: every member is published, or none is. The
// caller holds every member's target (CommitQueue::SubmitExclusiveGroup)
// for the whole of Commit:
//
//   1. Check every member: a write as FileReplacer::Prepare does (also
//      mode, owner and mtime of its temp file), a remove as
//      FileReplacer::InspectTarget with its if_match.
//   2. Flush every temp file (fsync), make good earlier failed directory
//      fsyncs, then fsync each member directory so the temp names are
//      durable too, and check that each temp name still holds our inode.
//   3. Write the commit record (SetRecord) to a temp file in the set
//      directory (kSetDirectoryName in the set's root; made, 0700, if
//      missing, and trusted only if IsTrustedSetDirectory), fsync it,
//      rename it to its record name and fsync the set directory. This
//      fsync is the commit point: before it a crash leaves every target old
//      (the start-up sweep removes the temp files), after it recovery
//      (RecoverSetRecord) finishes the set.
//   4. Publish: rename each temp file over its target (create-only members
//      with RENAME_NOREPLACE) and check the target then holds the temp's
//      inode; unlink each remove member after checking its etag again;
//      then fsync each member directory.
//   5. Retire the record: unlink it and fsync the set directory.
//
// A failure in steps 1-3 publishes nothing: the temp files stay for their
// owners to discard, the record (if written) is removed, and Commit
// returns the error (also set on the member it concerns, if one). If a step
// of 4 fails, Commit finishes the set as recovery would; DATA_LOSS if
// another process changed a member meanwhile so that the set cannot be
// whole. If that fails too, or the record's fsync fails and removing it
// cannot be made durable, the set's outcome is decided at the next start:
// Commit returns UNKNOWN, keeps the record and the unpublished temp files,
// and recovery completes the set where its targets are still as the set
// found them (a later acknowledged write of a member is never undone).
// Readers opening members one by one during step 4 may see some old and
// some new.
class SetReplacer {
 public:
  SetReplacer(FileSystem* fs, FileReplacer* replacer)
      : fs_(fs), replacer_(replacer) {}

  // `root_fd`: the set's root, beneath which every member's record_path
  // lies.
  absl::Status Commit(absl::Span<SetEntry> set, int root_fd);

  // Fsyncs the temp file of every write member of `set`, then settles
  // `replacer`'s directory fsync debt. On error the failing member's
  // status is set and nothing has been published. Shared with
  // VersionedSetReplacer, which makes its temp files durable the same way.
  static absl::Status SyncTempFileContents(FileSystem& fs,
                                           FileReplacer& replacer,
                                           absl::Span<SetEntry> set);

 private:
  absl::Status Check(SetEntry& member);
  absl::Status MakeTempFilesDurable(absl::Span<SetEntry> set);
  // Opens (making it if missing) the set directory of `root_fd`.
  absl::StatusOr<UniqueFd> OpenSetDirectory(int root_fd);
  // Step 4 for one member.
  absl::Status PublishMember(SetEntry& member);
  // Writes the record durably and returns its name; on error nothing of it
  // is left, or (UNKNOWN) the record may be durable.
  absl::StatusOr<std::string> WriteRecord(absl::Span<SetEntry> set,
                                          int record_dir_fd);
  // Steps 4-5; UNKNOWN if any part failed.
  absl::Status Publish(absl::Span<SetEntry> set, int root_fd, int record_dir_fd,
                       const std::string& record_name);
  // Leaves every unpublished temp file of `set` in place for recovery.
  void KeepForRecovery(absl::Span<SetEntry> set);

  FileSystem* const fs_;
  FileReplacer* const replacer_;
};

}  // namespace durable

#endif  // DURABLED_SERVER_ENGINE_SET_REPLACER_H_
