#include "server/engine/set_replacer.h"

#include <unistd.h>

#include <memory>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "server/base/errno_status.h"
#include "server/base/logging.h"
#include "server/engine/etag.h"
#include "server/engine/set_record.h"
#include "server/engine/set_recovery.h"

namespace durable {
namespace {

// Each distinct member directory once, in the order of its first member.
std::vector<SetEntry*> DistinctDirectories(absl::Span<SetEntry> set) {
  absl::flat_hash_set<std::tuple<uint64_t, uint64_t>> seen;
  std::vector<SetEntry*> directories;
  for (SetEntry& member : set) {
    if (seen.insert({member.directory_device, member.directory_inode}).second) {
      directories.push_back(&member);
    }
  }
  return directories;
}

}  // namespace

void SetEntry::TakePrepared(PreparedFile prepared) {
  result = std::move(prepared.result);
  // What recovery (or the versioned check) must still find there.
  if (prepared.existing.has_value()) {
    expected_etag = EtagOf(*prepared.existing);
  }
  temp_device = prepared.own.device;
  temp_inode = prepared.own.inode;
}

absl::Status SetReplacer::Check(SetEntry& member) {
  if (member.staged != nullptr) {
    absl::StatusOr<PreparedFile> prepared =
        replacer_->Prepare(*member.staged, *member.options);
    if (!prepared.ok()) return prepared.status();
    member.TakePrepared(*std::move(prepared));
    return absl::OkStatus();
  }
  absl::StatusOr<FileInfo> existing =
      replacer_->InspectTarget(member.dir_fd, member.leaf, member.if_match);
  if (!existing.ok()) return existing.status();
  member.result.etag = EtagOf(*existing);
  member.result.replaced_size = existing->size;
  return absl::OkStatus();
}

absl::Status SetReplacer::SyncTempFileContents(FileSystem& fs,
                                               FileReplacer& replacer,
                                               absl::Span<SetEntry> set) {
  for (SetEntry& member : set) {
    if (member.staged == nullptr) continue;
    absl::Status synced = fs.SyncFile(member.staged->fd_.get());
    if (!synced.ok()) {
      member.status = Annotate(synced, "cannot flush the new content");
      return member.status;
    }
  }
  absl::Status settled = replacer.SettleSyncDebt();
  if (!settled.ok()) return Annotate(settled, "nothing was published, because");
  return absl::OkStatus();
}

absl::Status SetReplacer::MakeTempFilesDurable(absl::Span<SetEntry> set) {
  absl::Status contents = SyncTempFileContents(*fs_, *replacer_, set);
  if (!contents.ok()) return contents;
  // The temp names must survive a power cut as well as their data: after
  // the commit point recovery finds the content by them.
  for (SetEntry* directory : DistinctDirectories(set)) {
    absl::Status synced = replacer_->SyncDirectory(directory->dir_fd);
    if (!synced.ok()) {
      directory->status =
          Annotate(synced, "cannot make the temp files' names durable");
      return directory->status;
    }
  }
  // Nobody may have put another file under a temp name (anyone who may
  // write the directory could): what is published must be what we wrote.
  for (SetEntry& member : set) {
    if (member.staged == nullptr) continue;
    absl::StatusOr<FileInfo> named =
        fs_->LookUp(member.dir_fd, member.staged->temp_name_);
    if (!named.ok() || named->device != member.temp_device ||
        named->inode != member.temp_inode) {
      member.status = absl::AbortedError(
          "the temp file was replaced by another process before the set was "
          "committed; nothing was published");
      return member.status;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> SetReplacer::OpenSetDirectory(int root_fd) {
  const std::string name(kSetDirectoryName);
  absl::StatusOr<UniqueFd> dir = fs_->OpenDirectoryBeneath(root_fd, name);
  bool made = false;
  if (absl::IsNotFound(dir.status())) {
    absl::Status created = fs_->MakeDirectory(root_fd, name);
    if (!created.ok() && !absl::IsAlreadyExists(created)) {
      return Annotate(created, "cannot make the set directory");
    }
    made = created.ok();
    dir = fs_->OpenDirectoryBeneath(root_fd, name);
  }
  if (!dir.ok()) return Annotate(dir.status(), "cannot open the set directory");
  absl::StatusOr<FileInfo> info = fs_->Stat(dir->get());
  if (!info.ok()) return info.status();
  if (!IsTrustedSetDirectory(*info, geteuid())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the root's ", kSetDirectoryName,
        " is not the daemon's own (owner uid ", info->uid, ", mode 0",
        absl::Hex(info->mode & 07777),
        "), so it cannot hold the set's commit record; nothing was published. "
        "An operator should remove it"));
  }
  if (made) {
    // Its entry must be durable before a record in it is.
    absl::Status synced = replacer_->SyncDirectory(root_fd);
    if (!synced.ok()) {
      return Annotate(synced, "cannot make the set directory durable");
    }
  }
  return dir;
}

absl::StatusOr<std::string> SetReplacer::WriteRecord(absl::Span<SetEntry> set,
                                                     int record_dir_fd) {
  SetRecord record;
  for (const SetEntry& member : set) {
    SetRecord::Member recorded;
    recorded.remove = member.staged == nullptr;
    recorded.directory = member.record_path;
    recorded.leaf = member.leaf;
    if (recorded.remove) {
      recorded.etag = member.result.etag;
    } else {
      recorded.temp = member.staged->temp_name_;
      recorded.temp_inode = member.temp_inode;
      recorded.expected_etag = member.expected_etag;
    }
    record.members.push_back(std::move(recorded));
  }
  const std::string name = RandomSetRecordName();
  absl::StatusOr<std::unique_ptr<StagedFile>> staged =
      replacer_->Stage(record_dir_fd, name);
  if (!staged.ok()) {
    return Annotate(staged.status(), "cannot create the set's commit record");
  }
  StagedFile& file = **staged;
  absl::Status status = file.Append(EncodeSetRecord(record));
  if (status.ok()) status = file.Seal(std::nullopt);
  if (status.ok()) status = fs_->SyncFile(file.fd_.get());
  if (status.ok()) {
    status = fs_->Rename(record_dir_fd, file.temp_name_, name,
                         RenameMode::kNoReplace);
  }
  if (!status.ok()) {
    return Annotate(status,
                    "cannot write the set's commit record; nothing was "
                    "published");
  }
  file.needs_cleanup_ = false;  // it is the record now
  // The commit point.
  status = replacer_->SyncDirectory(record_dir_fd);
  if (status.ok()) return name;
  absl::Status undone = fs_->Unlink(record_dir_fd, name);
  absl::Status resynced =
      undone.ok() ? replacer_->SyncDirectory(record_dir_fd) : undone;
  if (resynced.ok()) {
    return Annotate(status,
                    "cannot make the set's commit record durable; nothing was "
                    "published");
  }
  replacer_->AddSyncDebt(record_dir_fd);
  KeepForRecovery(set);
  return absl::UnknownError(absl::StrCat(
      "outcome unknown: cannot make the set's commit record durable (",
      status.message(), ") nor remove it durably (", resynced.message(),
      "); nothing was published yet, and the daemon's next start finishes "
      "the set if the record survived"));
}

absl::Status SetReplacer::PublishMember(SetEntry& member) {
  if (member.staged == nullptr) {
    // Checked again: a process outside the daemon may have replaced it
    // since step 1.
    absl::StatusOr<FileInfo> now = fs_->StatAt(member.dir_fd, member.leaf);
    if (!now.ok()) return now.status();
    if (EtagOf(*now) != member.result.etag) {
      return absl::AbortedError("the file was replaced by another process");
    }
    return fs_->Unlink(member.dir_fd, member.leaf);
  }
  const bool create_only =
      member.expected_etag.empty() &&
      (member.options->if_absent || !member.options->allow_overwrite);
  absl::Status renamed =
      fs_->Rename(member.dir_fd, member.staged->temp_name_, member.leaf,
                  create_only ? RenameMode::kNoReplace : RenameMode::kReplace);
  if (!renamed.ok()) return renamed;
  member.staged->needs_cleanup_ = false;
  // What is published must be what we wrote (the temp name was ours at
  // step 2, but the directory is others' too).
  absl::StatusOr<FileInfo> published = fs_->LookUp(member.dir_fd, member.leaf);
  if (!published.ok()) return published.status();
  if (published->inode != member.temp_inode) {
    return absl::AbortedError(
        "another process put its own file under the temp name before it was "
        "published");
  }
  return absl::OkStatus();
}

absl::Status SetReplacer::Publish(absl::Span<SetEntry> set, int root_fd,
                                  int record_dir_fd,
                                  const std::string& record_name) {
  absl::Status first_error;
  std::string failed_leaf;
  for (SetEntry& member : set) {
    absl::Status status = PublishMember(member);
    if (!status.ok() && first_error.ok()) {
      first_error = status;
      failed_leaf = member.leaf;
    }
  }
  for (SetEntry* directory : DistinctDirectories(set)) {
    absl::Status synced = replacer_->SyncDirectory(directory->dir_fd);
    if (!synced.ok()) {
      replacer_->AddSyncDebt(directory->dir_fd);
      if (first_error.ok()) {
        first_error = synced;
        failed_leaf = directory->leaf;
      }
    }
  }
  if (!first_error.ok()) {
    KeepForRecovery(set);
    // Finishing is the only way left; try once more, as recovery would.
    absl::StatusOr<SetRecovery> finished = RecoverSetRecord(
        *fs_, root_fd, record_dir_fd, record_name, "(set root)");
    if (finished.ok() && finished->lost == 0 && finished->superseded == 0) {
      LogWarning(absl::StrCat("publishing a set failed at first (",
                              first_error.message(), ") but was finished"));
      return absl::OkStatus();
    }
    if (finished.ok()) {
      return absl::DataLossError(absl::StrCat(
          "the set is incomplete: publishing ", EscapeName(failed_leaf),
          " failed (", first_error.message(), ") and ",
          finished->lost + finished->superseded,
          " members were changed by another process meanwhile; the others "
          "were published"));
    }
    LogError(absl::StrCat(
        "set commit record ", record_name, " is kept: publishing ",
        EscapeName(failed_leaf), " failed (", first_error.message(), ", then ",
        finished.status().message(), "); the next start finishes the set"));
    return absl::UnknownError(
        absl::StrCat("outcome unknown: the set was committed, but publishing ",
                     failed_leaf, " failed (", first_error.message(),
                     "); the daemon's next start finishes the set where its "
                     "targets are still as the set found them"));
  }
  absl::Status retired = fs_->Unlink(record_dir_fd, record_name);
  if (retired.ok()) {
    retired = replacer_->SyncDirectory(record_dir_fd);
    if (!retired.ok()) replacer_->AddSyncDebt(record_dir_fd);
  }
  if (!retired.ok()) {
    // Harmless: recovery finds every member done and removes it.
    LogWarning(absl::StrCat("cannot retire set commit record ", record_name,
                            ": ", retired.message()));
  }
  return absl::OkStatus();
}

void SetReplacer::KeepForRecovery(absl::Span<SetEntry> set) {
  for (SetEntry& member : set) {
    if (member.staged != nullptr) member.staged->needs_cleanup_ = false;
  }
}

absl::Status SetReplacer::Commit(absl::Span<SetEntry> set, int root_fd) {
  for (SetEntry& member : set) {
    absl::Status checked = Check(member);
    if (!checked.ok()) {
      member.status = checked;
      return checked;
    }
  }
  absl::Status durable = MakeTempFilesDurable(set);
  if (!durable.ok()) return durable;
  absl::StatusOr<UniqueFd> record_dir = OpenSetDirectory(root_fd);
  if (!record_dir.ok()) return record_dir.status();
  absl::StatusOr<std::string> record = WriteRecord(set, record_dir->get());
  if (!record.ok()) return record.status();
  return Publish(set, root_fd, record_dir->get(), *record);
}

}  // namespace durable
