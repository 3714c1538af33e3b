#ifndef DURABLED_SERVER_ENGINE_TEMP_FILE_SWEEPER_H_
#define DURABLED_SERVER_ENGINE_TEMP_FILE_SWEEPER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "server/engine/file_system.h"

namespace durable {

struct SweepResult {
  uint64_t removed = 0;        // temp files removed
  uint64_t directories = 0;    // directories visited
  uint64_t sets_finished = 0;  // committed sets completed (RecoverSetRecord)
  // Members of those sets that could not be finished (their staged content
  // was removed by someone else); each is logged as an error.
  uint64_t set_members_lost = 0;
  // Versioned layouts whose leftovers were removed or links remade
  // (TidyVersionedLayout).
  uint64_t layouts_tidied = 0;
};

// Start-up recovery: removes the temp files an earlier crash may have left
// (a staged write that never published, or the old content of a replace
// that was not yet unlinked) from the tree beneath `root_fd`. Only regular
// files whose name IsTempFileName() are touched; the walk never follows a
// symlink or crosses a mount point (OpenDirectoryBeneath). Unreadable
// subdirectories are skipped and reported in the log.
//
// In each directory it first finishes every committed set whose record
// (IsSetRecordName) lies in its kSetDirectoryName directory, if that is
// the daemon's own (IsTrustedSetDirectory; otherwise it is ignored, with a
// warning), before removing any temp file there or below: a set's members
// are all beneath that directory's parent. Then it tidies a versioned
// layout there (TidyVersionedLayout). If finishing one
// fails, the sweep stops with that error and removes nothing more, since
// the remaining temp files may be the set's content; the daemon must not
// start then.
//
// Must run before the daemon serves requests: a temp file of a write in
// progress looks the same as a leftover.
absl::StatusOr<SweepResult> SweepTempFiles(FileSystem& fs, int root_fd,
                                           const std::string& root_for_log);

}  // namespace durable

#endif  // DURABLED_SERVER_ENGINE_TEMP_FILE_SWEEPER_H_
