#ifndef DURABLED_SERVER_ENGINE_VERSIONED_SET_REPLACER_H_
#define DURABLED_SERVER_ENGINE_VERSIONED_SET_REPLACER_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "server/engine/file_replacer.h"
#include "server/engine/file_system.h"
#include "server/engine/set_replacer.h"
#include "server/engine/versioned_layout.h"

namespace durable {

// A set in the versioned layout (versioned_layout.h): every member lies in
// one directory D (each SetEntry's dir_fd; `record_path` and the directory
// ids are unused). The caller holds every member's target and D's ..data
// (CommitQueue::SubmitExclusiveGroup) for the whole of Commit:
//
//   1. Open the current version (OpenCurrentVersion; FAILED_PRECONDITION
//      for a layout not the daemon's). Check every member against it: a
//      write as FileReplacer::Prepare does with the version's file as the
//      one replaced, a remove as InspectTarget there (NOT_FOUND if the
//      version lacks it). D/NAME must be absent or the layout's own link.
//   2. Flush every temp file (fsync) and make good earlier failed
//      directory fsyncs.
//   3. Build the next version: a new directory of the daemon's, holding a
//      hard link to each file of the current version the set leaves alone
//      and to each write member's temp file under the member's name; give
//      it `version_mode`; fsync it. Make the reader link D/NAME of each
//      new name (it dangles, so reads as absent, until the swap); fsync D.
//   4. Swap: a new symlink to the new version renamed over ..data, then
//      fsync D. This fsync is the commit point: before it a crash leaves
//      the old version (start-up recovery, TidyVersionedLayout, removes
//      the new one), after it the new one.
//   5. Unlink the reader links of removed members, remove the old version,
//      fsync D. A failure here is logged and left to recovery: the set is
//      whole either way.
//
// A failure in steps 1-3 publishes nothing and removes what it made (the
// temp files stay for their owners to discard). If the swap's fsync fails
// and a second one does too, Commit returns UNKNOWN: either version may be
// the one a power cut keeps. Readers that open D/..data once see one
// version whole; readers opening D/NAME one by one may see a mix across
// the swap, each file whole. The temp files of published members stay
// linked beside D until their StagedFiles are destroyed.
class VersionedSetReplacer {
 public:
  VersionedSetReplacer(FileSystem* fs, FileReplacer* replacer)
      : fs_(fs), replacer_(replacer) {}

  // `dir_fd`: D, the directory of every member. `version_mode`: permission
  // bits of version directories (group and other write are dropped).
  absl::Status Commit(absl::Span<SetEntry> set, int dir_fd,
                      mode_t version_mode);

 private:
  absl::Status Check(SetEntry& member, int dir_fd,
                     const std::optional<LayoutVersion>& current);
  struct BuiltVersion {
    std::string name;
    // Reader links made for names the current version lacks.
    std::vector<std::string> new_links;
  };
  // Step 3. On error nothing of it is left (but the directory entries'
  // removal is not yet durable).
  absl::StatusOr<BuiltVersion> BuildVersion(
      absl::Span<SetEntry> set, int dir_fd,
      const std::optional<LayoutVersion>& current, mode_t version_mode);
  // Removes an unpublished version and its new reader links; failures are
  // logged (the next start removes what is left).
  void Discard(int dir_fd, const BuiltVersion& built);
  absl::Status Swap(int dir_fd, const std::string& version, bool replace);
  void CleanUp(absl::Span<SetEntry> set, int dir_fd,
               const std::optional<LayoutVersion>& current);

  FileSystem* const fs_;
  FileReplacer* const replacer_;
};

}  // namespace durable

#endif  // DURABLED_SERVER_ENGINE_VERSIONED_SET_REPLACER_H_
