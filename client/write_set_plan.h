#ifndef DURABLED_CLIENT_WRITE_SET_PLAN_H_
#define DURABLED_CLIENT_WRITE_SET_PLAN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "durable/client.h"

namespace durable::cli {

// One member of a set `durablectl write-set` sends: write `target` with the
// content of the local file `source_file`, or remove `target`.
struct PlannedMember {
  std::string target;  // as the daemon takes it (see ResolveCliPath)
  bool remove = false;
  std::string source_file;  // a write's
  WriteOptions options;     // a write's (not on_progress)
  std::string if_match;     // a remove's
};

// Parses a manifest, one member per line:
//   write TARGET FILE [mode=OCTAL] [if-absent] [if-match=ETAG]
//         [sha256=HEX] [parents]
//   remove TARGET [if-match=ETAG]
// Fields are separated by tabs, or by spaces on a line without a tab (so a
// path with spaces needs tabs). Empty lines and lines starting with '#' are
// skipped. A relative TARGET or FILE is taken against `working_directory`
// (TARGET as ResolveCliPathAgainst does). INVALID_ARGUMENT names the line.
absl::StatusOr<std::vector<PlannedMember>> ParseSetManifest(
    absl::string_view text, const std::string& working_directory);

// The members that make the directory `to` (absolute) hold the regular
// files of `from_dir`, recursively: one write per file of `from_dir`
// (create_parents as `parents`) and, with `remove_extra`, one remove per
// regular file under `to` that `from_dir` lacks (read locally; the
// daemon's own temp and record files are left alone). Symlinks and special
// files in `from_dir` are refused, not skipped, so nothing is silently
// left out. Directories under `to` are never removed.
absl::StatusOr<std::vector<PlannedMember>> PlanDirectoryReplace(
    const std::string& from_dir, const std::string& to, bool remove_extra,
    bool parents);

}  // namespace durable::cli

#endif  // DURABLED_CLIENT_WRITE_SET_PLAN_H_
