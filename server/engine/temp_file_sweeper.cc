#include "server/engine/temp_file_sweeper.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/base/errno_status.h"
#include "server/base/logging.h"
#include "server/engine/file_replacer.h"
#include "server/engine/set_record.h"
#include "server/engine/set_recovery.h"
#include "server/engine/versioned_layout.h"

namespace durable {
namespace {

// Finishes every set whose record lies in `set_root_fd`'s kSetDirectoryName
// directory, if that directory is the daemon's own.
absl::StatusOr<SweepResult> RecoverSets(FileSystem& fs, int set_root_fd,
                                        const std::string& path) {
  SweepResult result;
  const std::string where = absl::StrCat(path, "/", kSetDirectoryName);
  absl::StatusOr<UniqueFd> sets =
      fs.OpenDirectoryBeneath(set_root_fd, std::string(kSetDirectoryName));
  absl::StatusOr<FileInfo> info =
      sets.ok() ? fs.Stat(sets->get()) : sets.status();
  if (!info.ok() || !IsTrustedSetDirectory(*info, geteuid())) {
    // Not ours: whatever lies there was not written by the set protocol,
    // and acting on it would let its author rename and unlink.
    LogWarning(absl::StrCat(
        "start-up sweep: ignoring \"", EscapeName(where), "\": ",
        info.ok() ? "not a directory of the daemon's uid writable by it alone"
                  : info.status().message()));
    return result;
  }
  absl::StatusOr<std::vector<DirectoryEntry>> records =
      fs.ListDirectory(sets->get());
  if (!records.ok()) {
    return Annotate(records.status(),
                    absl::StrCat("cannot list \"", EscapeName(where), "\""));
  }
  for (const DirectoryEntry& entry : *records) {
    if (!entry.is_regular || !IsSetRecordName(entry.name)) continue;
    absl::StatusOr<SetRecovery> finished =
        RecoverSetRecord(fs, set_root_fd, sets->get(), entry.name, path);
    if (!finished.ok()) return finished.status();
    ++result.sets_finished;
    result.set_members_lost += finished->lost;
  }
  return result;
}

}  // namespace

absl::StatusOr<SweepResult> SweepTempFiles(FileSystem& fs, int root_fd,
                                           const std::string& root_for_log) {
  SweepResult result;
  // Depth-first with an explicit stack, so a deep tree cannot overflow ours.
  // Pending directories are held as (parent handle, name) and opened only
  // when visited, so open fds stay proportional to the depth, not the width.
  struct Pending {
    std::shared_ptr<UniqueFd> parent;
    std::string name;
    std::string path;
  };
  auto root = std::make_shared<UniqueFd>(fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  if (!root->valid()) return SyscallError(errno, "dup(root)");
  std::vector<Pending> pending = {{root, ".", root_for_log}};
  while (!pending.empty()) {
    Pending next = std::move(pending.back());
    pending.pop_back();
    // Refuses symlinks and mount points: the sweep stays in the root.
    absl::StatusOr<UniqueFd> opened =
        fs.OpenDirectoryBeneath(next.parent->get(), next.name);
    if (!opened.ok()) {
      LogWarning(absl::StrCat("start-up sweep: cannot open \"",
                              EscapeName(next.path),
                              "\": ", opened.status().message()));
      continue;
    }
    auto dir = std::make_shared<UniqueFd>(std::move(*opened));
    ++result.directories;
    absl::StatusOr<std::vector<DirectoryEntry>> entries =
        fs.ListDirectory(dir->get());
    if (!entries.ok()) {
      LogWarning(absl::StrCat("start-up sweep: cannot list \"",
                              EscapeName(next.path),
                              "\": ", entries.status().message()));
      continue;
    }
    // Committed sets first: their content is in temp files here or below.
    bool recovered = false;
    for (const DirectoryEntry& entry : *entries) {
      if (!entry.is_directory || entry.name != kSetDirectoryName) continue;
      absl::StatusOr<SweepResult> sets = RecoverSets(fs, dir->get(), next.path);
      if (!sets.ok()) return sets.status();
      result.sets_finished += sets->sets_finished;
      result.set_members_lost += sets->set_members_lost;
      recovered = sets->sets_finished > 0;
    }
    if (recovered) entries = fs.ListDirectory(dir->get());
    if (!entries.ok()) return entries.status();
    // Then a versioned layout here: ..data decides which version stays.
    absl::StatusOr<LayoutTidy> tidy =
        TidyVersionedLayout(fs, dir->get(), *entries, next.path);
    if (!tidy.ok()) return tidy.status();
    if (tidy->removed + tidy->linked > 0) {
      ++result.layouts_tidied;
      entries = fs.ListDirectory(dir->get());
      if (!entries.ok()) return entries.status();
    }
    for (const DirectoryEntry& entry : *entries) {
      const std::string path = absl::StrCat(next.path, "/", entry.name);
      if (entry.is_regular && IsTempFileName(entry.name)) {
        absl::Status removed = fs.Unlink(dir->get(), entry.name);
        if (removed.ok()) {
          ++result.removed;
          LogInfo(absl::StrCat("start-up sweep: removed leftover temp file \"",
                               EscapeName(path), "\""));
        } else {
          LogWarning(absl::StrCat("start-up sweep: cannot remove \"",
                                  EscapeName(path), "\": ", removed.message()));
        }
      } else if (entry.is_directory) {
        pending.push_back({dir, entry.name, path});
      }
    }
  }
  return result;
}

}  // namespace durable
