#ifndef DURABLED_SERVER_ENGINE_VERSIONED_LAYOUT_H_
#define DURABLED_SERVER_ENGINE_VERSIONED_LAYOUT_H_

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/base/unique_fd.h"
#include "server/engine/file_system.h"

namespace durable {

// The versioned layout of a directory D (a rule's `versioned_layout`), in
// the manner of Kubernetes' AtomicWriter, so that readers can see a set
// whole too:
//
//   D/..data            -> ..durabled-v.<16 hex>   the current version
//   D/..durabled-v.<hex>/NAME                      each member's content
//   D/NAME              -> ..data/NAME             what readers open
//
// A set builds the next version directory beside the current one, makes
// it durable and then swaps ..data with one rename (VersionedSetReplacer):
// a reader that opens D/..data once (or resolves it once) reads every
// member of one version. Version directories are the daemon's own: owned
// by its uid, not writable by group or others, and marked with the sticky
// bit (inert on such a directory), which only their owner can set and
// which the daemon gives no other directory (directory_mode may not have
// it), so a daemon-made directory renamed to a version's name by someone
// who may write D is not taken for one. Names beginning with
// kLayoutReservedPrefix are refused in callers' paths, and names
// beginning with ".." in a versioned rule's paths.
inline constexpr absl::string_view kDataLinkName = "..data";
inline constexpr absl::string_view kLayoutReservedPrefix = "..durabled";
inline constexpr absl::string_view kVersionPrefix = "..durabled-v.";
// The new ..data is made under this prefix, then renamed over ..data.
inline constexpr absl::string_view kDataLinkTempPrefix = "..durabled-data.";

bool IsVersionName(absl::string_view name);
// `info` is a version directory of the daemon's (see above).
bool IsVersionDirectory(const FileInfo& info);
inline constexpr mode_t kVersionMark = S_ISVTX;
bool IsDataLinkTempName(absl::string_view name);
std::string RandomVersionName();
std::string RandomDataLinkTempName();

// What the reader-facing link D/NAME holds: "..data/NAME".
std::string MemberLinkTarget(absl::string_view leaf);

// The current version of the layout in `dir_fd`.
struct LayoutVersion {
  std::string name;  // of its directory, kVersionPrefix and hex
  UniqueFd dir;
  // Its entries; all regular files.
  std::vector<std::string> files;
};

// Opens the version ..data in `dir_fd` names. nullopt if there is no
// ..data (the layout is empty); FAILED_PRECONDITION, naming what is
// wrong, if ..data is not a symlink to one of the daemon's own version
// directories holding only regular files (someone else made it: the
// daemon will not take it over).
absl::StatusOr<std::optional<LayoutVersion>> OpenCurrentVersion(FileSystem& fs,
                                                                int dir_fd);

// Unlinks every entry of version directory `name` in `dir_fd`, then the
// directory itself (not durable until the caller syncs `dir_fd`). Refuses
// (FAILED_PRECONDITION) a directory that is not a version directory or
// that holds a directory, leaving it as it is.
absl::Status RemoveVersion(FileSystem& fs, int dir_fd, const std::string& name);

struct LayoutTidy {
  uint64_t removed = 0;  // stale versions, temp ..data links, links
  uint64_t linked = 0;   // reader links made for the current version
};

// Start-up recovery of a layout in `dir_fd`, whose listing is `entries`
// (nothing is done unless they hold ..data or a name of the layout's).
// Whatever version ..data names is the layout's state (the rename of
// ..data is a set's commit point). Removes every other version directory
// and every temp ..data link, makes the missing D/NAME link for each file
// of the current version, removes each D/NAME link to a name the version
// lacks, then syncs `dir_fd`. A ..data that is not the daemon's is left
// alone, with all of the directory. An entry it cannot remove or link (not
// the daemon's, say, or of the wrong type) is logged and left: anyone who
// may write D could have put it there, and that must not keep the daemon
// from starting. Only a failed fsync is an error. Idempotent, so a crash
// during it is harmless. `dir_for_log` names the directory in the log.
absl::StatusOr<LayoutTidy> TidyVersionedLayout(
    FileSystem& fs, int dir_fd, const std::vector<DirectoryEntry>& entries,
    const std::string& dir_for_log);

}  // namespace durable

#endif  // DURABLED_SERVER_ENGINE_VERSIONED_LAYOUT_H_
