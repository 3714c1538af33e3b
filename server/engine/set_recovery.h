#ifndef DURABLED_SERVER_ENGINE_SET_RECOVERY_H_
#define DURABLED_SERVER_ENGINE_SET_RECOVERY_H_

#include <string>

#include <cstddef>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/engine/file_system.h"

namespace durable {

// What recovering one set did, member by member.
struct SetRecovery {
  size_t published = 0;   // now new (also those that already were)
  size_t superseded = 0;  // changed by someone after the set; left as is
  size_t lost = 0;        // a write whose temp file vanished unpublished
};

// Finishes the set whose commit record (SetRecord) is `name` in
// `record_dir_fd` (the trusted kSetDirectoryName directory of the set's
// root `root_fd`), then removes the record: each write member is published
// where its target is still as the set found it (else its temp file is
// discarded), each remove member's file still carrying the recorded etag
// is unlinked, every member directory is fsynced, and only then is the
// record unlinked and its directory fsynced. Every step is idempotent, so
// a recovery cut off by another crash is simply run again. Member
// directories are opened beneath `root_fd` (never through a symlink or
// across a mount). A record that does not parse (DecodeSetRecord) was
// never committed by this protocol; it is removed with a warning.
//
// An error means the set may be unfinished: the record is kept, and the
// caller must not remove temp files beneath `root_fd` (they may be the
// set's content). `root_for_log` names the root in messages.
absl::StatusOr<SetRecovery> RecoverSetRecord(FileSystem& fs, int root_fd,
                                             int record_dir_fd,
                                             const std::string& name,
                                             const std::string& root_for_log);

}  // namespace durable

#endif  // DURABLED_SERVER_ENGINE_SET_RECOVERY_H_
