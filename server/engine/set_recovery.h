#ifndef DURABLED_SERVER_ENGINE_SET_RECOVERY_H_
#define DURABLED_SERVER_ENGINE_SET_RECOVERY_H_

#include <string>

#include "absl/status/status.h"
#include "server/engine/file_system.h"

namespace durable {

// Finishes the set whose commit record (SetRecord) is `name` in `dir_fd`,
// then removes the record: each write member's temp file still present is
// renamed over its target, each remove member's file still carrying the
// recorded etag is unlinked, every member directory is fsynced, and only
// then is the record unlinked and `dir_fd` fsynced. Every step is
// idempotent, so a recovery cut off by another crash is simply run again.
// Member directories are opened beneath `dir_fd` (never through a symlink
// or across a mount). A record that does not parse (DecodeSetRecord) was
// never committed by this protocol; it is removed with a warning.
//
// An error means the set may be unfinished: the record is kept, and the
// caller must not remove temp files beneath `dir_fd` (they may be the
// set's content). `dir_for_log` names the directory in messages.
absl::Status RecoverSetRecord(FileSystem& fs, int dir_fd,
                              const std::string& name,
                              const std::string& dir_for_log);

}  // namespace durable

#endif  // DURABLED_SERVER_ENGINE_SET_RECOVERY_H_
