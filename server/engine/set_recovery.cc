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

enum class Outcome { kPublished, kSuperseded, kLost };

// Whether `leaf` is still as a write member found it.
absl::StatusOr<bool> TargetUnchanged(const SetRecord::Member& member,
                                     const absl::StatusOr<FileInfo>& target) {
  if (absl::IsNotFound(target.status())) return member.expected_etag.empty();
  if (!target.ok()) return target.status();
  return !member.expected_etag.empty() && S_ISREG(target->mode) &&
         EtagOf(*target) == member.expected_etag;
}

// One member, rolled forward; `dir_fd` is its directory.
absl::StatusOr<Outcome> FinishMember(FileSystem& fs, int dir_fd,
                                     const SetRecord::Member& member) {
  absl::StatusOr<FileInfo> target = fs.StatAt(dir_fd, member.leaf);
  if (!target.ok() && !absl::IsNotFound(target.status())) {
    return target.status();
  }
  if (member.remove) {
    if (!target.ok()) return Outcome::kPublished;  // removed
    if (!S_ISREG(target->mode) || EtagOf(*target) != member.etag) {
      return Outcome::kSuperseded;  // removed, and something newer came
    }
    absl::Status removed = fs.Unlink(dir_fd, member.leaf);
    if (!removed.ok()) return removed;
    return Outcome::kPublished;
  }
  absl::StatusOr<FileInfo> temp = fs.LookUp(dir_fd, member.temp);
  if (!temp.ok() && !absl::IsNotFound(temp.status())) return temp.status();
  const bool ours =
      temp.ok() && S_ISREG(temp->mode) && temp->inode == member.temp_inode;
  if (!ours) {
    if (target.ok() && target->inode == member.temp_inode) {
      return Outcome::kPublished;  // renamed before
    }
    absl::StatusOr<bool> unchanged = TargetUnchanged(member, target);
    if (!unchanged.ok()) return unchanged.status();
    // Still old with our content gone: nothing can finish this member.
    return *unchanged ? Outcome::kLost : Outcome::kSuperseded;
  }
  absl::StatusOr<bool> unchanged = TargetUnchanged(member, target);
  if (!unchanged.ok()) return unchanged.status();
  if (!*unchanged) {
    // A newer write came after the set (whose outcome was not
    // acknowledged): it stays.
    absl::Status discarded = fs.Unlink(dir_fd, member.temp);
    if (!discarded.ok()) return discarded;
    return Outcome::kSuperseded;
  }
  absl::Status renamed =
      fs.Rename(dir_fd, member.temp, member.leaf,
                member.expected_etag.empty() ? RenameMode::kNoReplace
                                             : RenameMode::kReplace);
  if (!renamed.ok()) return renamed;
  return Outcome::kPublished;
}

}  // namespace

absl::StatusOr<SetRecovery> RecoverSetRecord(FileSystem& fs, int root_fd,
                                             int record_dir_fd,
                                             const std::string& name,
                                             const std::string& root_for_log) {
  const std::string where =
      absl::StrCat("set commit record \"", EscapeName(root_for_log), "/",
                   kSetDirectoryName, "/", EscapeName(name), "\"");
  absl::StatusOr<std::string> bytes =
      fs.ReadFileAt(record_dir_fd, name, kMaxSetRecordBytes);
  if (!bytes.ok()) {
    return Annotate(bytes.status(), absl::StrCat("cannot read ", where));
  }
  absl::StatusOr<SetRecord> record = DecodeSetRecord(*bytes);
  if (!record.ok()) {
    LogWarning(
        absl::StrCat("removing ", where, ": ", record.status().message()));
    absl::Status removed = fs.Unlink(record_dir_fd, name);
    if (!removed.ok()) {
      return Annotate(removed, absl::StrCat("cannot remove ", where));
    }
    return SetRecovery{};
  }
  // Every member first, then each directory's fsync once, covering all
  // of its members.
  SetRecovery recovery;
  absl::flat_hash_set<std::tuple<uint64_t, uint64_t>> seen;
  std::vector<std::pair<UniqueFd, std::string>> directories;
  for (const SetRecord::Member& member : record->members) {
    const std::string target = absl::StrCat(member.directory, "/", member.leaf);
    absl::StatusOr<UniqueFd> dir =
        fs.OpenDirectoryBeneath(root_fd, member.directory);
    if (absl::IsNotFound(dir.status())) {
      // Its directory is gone (removed by someone after the set), so is
      // whatever the set put there.
      LogWarning(absl::StrCat(where, ": member \"", EscapeName(target),
                              "\" has no directory any more; skipped"));
      ++recovery.superseded;
      continue;
    }
    if (!dir.ok()) {
      return Annotate(dir.status(),
                      absl::StrCat(where, ": cannot open the directory of \"",
                                   EscapeName(target), "\""));
    }
    absl::StatusOr<Outcome> finished = FinishMember(fs, dir->get(), member);
    if (!finished.ok()) {
      return Annotate(
          finished.status(),
          absl::StrCat(where, ": cannot finish \"", EscapeName(target), "\""));
    }
    switch (*finished) {
      case Outcome::kPublished:
        ++recovery.published;
        break;
      case Outcome::kSuperseded:
        ++recovery.superseded;
        LogNotice(absl::StrCat(where, ": member \"", EscapeName(target),
                               "\" changed after the set; left as it is"));
        break;
      case Outcome::kLost:
        ++recovery.lost;
        LogError(absl::StrCat(
            where, ": member \"", EscapeName(target),
            "\" cannot be finished: its staged content was removed by "
            "another process; it keeps its old content"));
        break;
    }
    absl::StatusOr<FileInfo> info = fs.Stat(dir->get());
    if (!info.ok()) return info.status();
    if (seen.insert({info->device, info->inode}).second) {
      directories.emplace_back(*std::move(dir), target);
    }
  }
  for (const auto& [dir, target] : directories) {
    absl::Status durable = SyncDirectoryWhereSupported(fs, dir.get());
    if (!durable.ok()) {
      return Annotate(durable,
                      absl::StrCat(where, ": cannot fsync the directory of \"",
                                   EscapeName(target), "\""));
    }
  }
  absl::Status retired = fs.Unlink(record_dir_fd, name);
  if (retired.ok()) retired = SyncDirectoryWhereSupported(fs, record_dir_fd);
  if (!retired.ok()) {
    return Annotate(retired, absl::StrCat("cannot retire ", where));
  }
  LogNotice(absl::StrCat("finished the set of ", where, " (",
                         record->members.size(), " members)"));
  return recovery;
}

}  // namespace durable
