#include "server/engine/set_recovery.h"

#include <sys/stat.h>

#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "server/base/errno_status.h"
#include "server/base/logging.h"
#include "server/base/unique_fd.h"
#include "server/engine/etag.h"
#include "server/engine/set_record.h"

namespace durable {
namespace {

// Fsync where supported; "not supported" counts as done, as everywhere.
absl::Status SyncDirectory(FileSystem& fs, int dir_fd) {
  absl::Status status = fs.SyncDirectory(dir_fd);
  return absl::IsUnimplemented(status) ? absl::OkStatus() : status;
}

// One member, rolled forward; `dir_fd` is its directory.
absl::Status FinishMember(FileSystem& fs, int dir_fd,
                          const SetRecord::Member& member) {
  if (!member.remove) {
    absl::StatusOr<FileInfo> temp = fs.LookUp(dir_fd, member.temp);
    if (absl::IsNotFound(temp.status())) return absl::OkStatus();  // done
    if (!temp.ok()) return temp.status();
    if (!S_ISREG(temp->mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(member.temp, " is not a regular file"));
    }
    return fs.Rename(dir_fd, member.temp, member.leaf, RenameMode::kReplace);
  }
  absl::StatusOr<FileInfo> target = fs.StatAt(dir_fd, member.leaf);
  if (absl::IsNotFound(target.status())) return absl::OkStatus();  // done
  if (!target.ok()) return target.status();
  if (!S_ISREG(target->mode) || EtagOf(*target) != member.etag) {
    return absl::OkStatus();  // removed, and something newer came later
  }
  return fs.Unlink(dir_fd, member.leaf);
}

}  // namespace

absl::Status RecoverSetRecord(FileSystem& fs, int dir_fd,
                              const std::string& name,
                              const std::string& dir_for_log) {
  const std::string where =
      absl::StrCat("set commit record \"", EscapeName(dir_for_log), "/",
                   EscapeName(name), "\"");
  absl::StatusOr<std::string> bytes =
      fs.ReadFileAt(dir_fd, name, kMaxSetRecordBytes);
  if (!bytes.ok())
    return Annotate(bytes.status(), absl::StrCat("cannot read ", where));
  absl::StatusOr<SetRecord> record = DecodeSetRecord(*bytes);
  if (!record.ok()) {
    LogWarning(
        absl::StrCat("removing ", where, ": ", record.status().message()));
    absl::Status removed = fs.Unlink(dir_fd, name);
    return Annotate(removed, absl::StrCat("cannot remove ", where));
  }
  // Every member first, then each directory's fsync once, covering all
  // of its members.
  absl::flat_hash_set<std::tuple<uint64_t, uint64_t>> seen;
  std::vector<std::pair<UniqueFd, std::string>> directories;
  for (const SetRecord::Member& member : record->members) {
    const std::string target = absl::StrCat(member.directory, "/", member.leaf);
    absl::StatusOr<UniqueFd> dir =
        fs.OpenDirectoryBeneath(dir_fd, member.directory);
    if (absl::IsNotFound(dir.status())) {
      // Its directory is gone (removed by someone after the set), so is
      // whatever the set put there.
      LogWarning(absl::StrCat(where, ": member \"", EscapeName(target),
                              "\" has no directory any more; skipped"));
      continue;
    }
    if (!dir.ok()) {
      return Annotate(dir.status(),
                      absl::StrCat(where, ": cannot open the directory of \"",
                                   EscapeName(target), "\""));
    }
    absl::Status finished = FinishMember(fs, dir->get(), member);
    if (!finished.ok()) {
      return Annotate(finished, absl::StrCat(where, ": cannot finish \"",
                                             EscapeName(target), "\""));
    }
    absl::StatusOr<FileInfo> info = fs.Stat(dir->get());
    if (!info.ok()) return info.status();
    if (seen.insert({info->device, info->inode}).second) {
      directories.emplace_back(*std::move(dir), target);
    }
  }
  for (const auto& [dir, target] : directories) {
    absl::Status durable = SyncDirectory(fs, dir.get());
    if (!durable.ok()) {
      return Annotate(durable,
                      absl::StrCat(where, ": cannot fsync the directory of \"",
                                   EscapeName(target), "\""));
    }
  }
  absl::Status retired = fs.Unlink(dir_fd, name);
  if (retired.ok()) retired = SyncDirectory(fs, dir_fd);
  if (!retired.ok()) {
    return Annotate(retired, absl::StrCat("cannot retire ", where));
  }
  LogNotice(absl::StrCat("finished the set of ", where, " (",
                         record->members.size(), " members)"));
  return absl::OkStatus();
}

}  // namespace durable
