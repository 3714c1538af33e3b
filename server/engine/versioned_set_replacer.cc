#include "server/engine/versioned_set_replacer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "server/base/errno_status.h"
#include "server/base/logging.h"
#include "server/engine/etag.h"
#include "server/engine/set_record.h"

namespace durable {
namespace {

bool Contains(const std::optional<LayoutVersion>& version,
              const std::string& leaf) {
  if (!version.has_value()) return false;
  for (const std::string& file : version->files) {
    if (file == leaf) return true;
  }
  return false;
}

}  // namespace

absl::Status VersionedSetReplacer::Check(
    SetEntry& member, int dir_fd, const std::optional<LayoutVersion>& current) {
  absl::StatusOr<FileInfo> visible = fs_->LookUp(dir_fd, member.leaf);
  if (visible.ok()) {
    absl::StatusOr<std::string> target =
        S_ISLNK(visible->mode) ? fs_->ReadSymlink(dir_fd, member.leaf)
                               : absl::StatusOr<std::string>("");
    if (!target.ok()) return target.status();
    if (*target != MemberLinkTarget(member.leaf)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "it exists outside the versioned layout (",
          S_ISLNK(visible->mode)   ? "a symlink to elsewhere"
          : S_ISDIR(visible->mode) ? "a directory"
                                   : "a file",
          "), where a link to ", kDataLinkName,
          " belongs; move it away so the layout can take the name"));
    }
  } else if (!absl::IsNotFound(visible.status())) {
    return visible.status();
  }
  const bool present = Contains(current, member.leaf);
  if (member.staged != nullptr) {
    absl::StatusOr<PreparedFile> prepared = replacer_->Prepare(
        *member.staged, *member.options, present ? current->dir.get() : -1);
    if (!prepared.ok()) return prepared.status();
    member.TakePrepared(*std::move(prepared));
    return absl::OkStatus();
  }
  if (!present) {
    return absl::NotFoundError(
        "the versioned layout's current version has no such file");
  }
  absl::StatusOr<FileInfo> existing = replacer_->InspectTarget(
      current->dir.get(), member.leaf, member.if_match);
  if (!existing.ok()) return existing.status();
  member.result.etag = EtagOf(*existing);
  member.result.replaced_size = existing->size;
  return absl::OkStatus();
}

absl::StatusOr<VersionedSetReplacer::BuiltVersion>
VersionedSetReplacer::BuildVersion(absl::Span<SetEntry> set, int dir_fd,
                                   const std::optional<LayoutVersion>& current,
                                   mode_t version_mode) {
  const std::string name = RandomVersionName();
  absl::Status made = fs_->MakeDirectory(dir_fd, name);
  if (!made.ok()) return Annotate(made, "cannot make the new version");
  BuiltVersion built;
  built.name = name;
  bool marked = false;
  auto undo = [&](absl::Status error) -> absl::Status {
    if (marked) {
      Discard(dir_fd, built);
    } else {
      // Not yet marked as a version, so only removed while empty.
      (void)fs_->RemoveDirectory(dir_fd, name);
    }
    return Annotate(error, "nothing was published, because");
  };
  absl::StatusOr<UniqueFd> version = fs_->OpenDirectoryBeneath(dir_fd, name);
  if (!version.ok()) return undo(version.status());
  // Anyone who may write D could have put another directory there.
  absl::StatusOr<FileInfo> info = fs_->Stat(version->get());
  absl::StatusOr<std::vector<DirectoryEntry>> entries =
      info.ok() ? fs_->ListDirectory(version->get())
                : absl::StatusOr<std::vector<DirectoryEntry>>(info.status());
  if (!entries.ok()) return undo(entries.status());
  if (!IsTrustedSetDirectory(*info, geteuid()) || !entries->empty()) {
    return undo(absl::AbortedError(
        "another process replaced the new version directory"));
  }
  absl::Status status =
      fs_->SetPermissions(version->get(), S_IRWXU | kVersionMark);
  if (!status.ok()) {
    return undo(Annotate(status, "cannot mark the new version directory"));
  }
  marked = true;
  absl::flat_hash_set<std::string> members;
  for (const SetEntry& member : set) members.insert(member.leaf);
  if (current.has_value()) {
    for (const std::string& file : current->files) {
      if (members.contains(file)) continue;
      absl::Status linked =
          fs_->Link(current->dir.get(), file, version->get(), file);
      if (!linked.ok()) {
        return undo(
            Annotate(linked, absl::StrCat("cannot carry \"", EscapeName(file),
                                          "\" into the new version")));
      }
    }
  }
  for (SetEntry& member : set) {
    if (member.staged == nullptr) continue;
    absl::Status linked = fs_->Link(dir_fd, member.staged->temp_name_,
                                    version->get(), member.leaf);
    absl::StatusOr<FileInfo> placed =
        linked.ok() ? fs_->LookUp(version->get(), member.leaf)
                    : absl::StatusOr<FileInfo>(linked);
    if (!placed.ok()) {
      member.status = Annotate(placed.status(),
                               "cannot put the new content in the new version");
      return undo(member.status);
    }
    if (placed->device != member.temp_device ||
        placed->inode != member.temp_inode) {
      member.status = absl::AbortedError(
          "the temp file was replaced by another process before the set was "
          "committed");
      return undo(member.status);
    }
  }
  status =
      fs_->SetPermissions(version->get(), (version_mode & 0755) | kVersionMark);
  if (status.ok()) status = replacer_->SyncDirectory(version->get());
  if (!status.ok()) {
    return undo(Annotate(status, "cannot make the new version durable"));
  }
  // New names get their reader link now: it dangles (reads as absent)
  // until ..data names a version that has the file. (An old name's link
  // lost to a crash is made again too.)
  for (const SetEntry& member : set) {
    if (member.staged == nullptr) continue;
    absl::Status linked =
        fs_->MakeSymlink(dir_fd, member.leaf, MemberLinkTarget(member.leaf));
    if (absl::IsAlreadyExists(linked)) continue;  // Check saw it is ours
    if (!linked.ok()) {
      return undo(Annotate(
          linked, absl::StrCat("cannot link \"", EscapeName(member.leaf),
                               "\" to the layout")));
    }
    built.new_links.push_back(member.leaf);
  }
  status = replacer_->SyncDirectory(dir_fd);
  if (!status.ok()) {
    replacer_->AddSyncDebt(dir_fd);
    return undo(Annotate(status, "cannot make the new version durable"));
  }
  return built;
}

void VersionedSetReplacer::Discard(int dir_fd, const BuiltVersion& built) {
  for (const std::string& leaf : built.new_links) {
    (void)fs_->Unlink(dir_fd, leaf);
  }
  absl::Status removed = RemoveVersion(*fs_, dir_fd, built.name);
  if (!removed.ok()) {
    LogWarning(absl::StrCat("cannot remove unpublished version ", built.name,
                            ": ", removed.message(),
                            "; the next start removes it"));
  }
}

absl::Status VersionedSetReplacer::Swap(int dir_fd, const std::string& version,
                                        bool replace) {
  const std::string temp = RandomDataLinkTempName();
  absl::Status status = fs_->MakeSymlink(dir_fd, temp, version);
  if (!status.ok()) return status;
  status = fs_->Rename(dir_fd, temp, std::string(kDataLinkName),
                       replace ? RenameMode::kReplace : RenameMode::kNoReplace);
  if (!status.ok()) (void)fs_->Unlink(dir_fd, temp);
  return status;
}

void VersionedSetReplacer::CleanUp(
    absl::Span<SetEntry> set, int dir_fd,
    const std::optional<LayoutVersion>& current) {
  absl::Status status;
  for (const SetEntry& member : set) {
    if (member.staged != nullptr) continue;
    absl::StatusOr<std::string> target = fs_->ReadSymlink(dir_fd, member.leaf);
    if (target.ok() && *target == MemberLinkTarget(member.leaf)) {
      absl::Status removed = fs_->Unlink(dir_fd, member.leaf);
      if (status.ok()) status = removed;
    }
  }
  if (current.has_value()) {
    absl::Status removed = RemoveVersion(*fs_, dir_fd, current->name);
    if (status.ok()) status = removed;
  }
  absl::Status synced = replacer_->SyncDirectory(dir_fd);
  if (!synced.ok()) replacer_->AddSyncDebt(dir_fd);
  if (status.ok()) status = synced;
  if (!status.ok()) {
    LogWarning(absl::StrCat(
        "a versioned set was published, but tidying after it failed (",
        status.message(), "); the next start finishes the tidying"));
  }
}

absl::Status VersionedSetReplacer::Commit(absl::Span<SetEntry> set, int dir_fd,
                                          mode_t version_mode) {
  absl::StatusOr<std::optional<LayoutVersion>> current =
      OpenCurrentVersion(*fs_, dir_fd);
  if (!current.ok()) return current.status();
  for (SetEntry& member : set) {
    absl::Status checked = Check(member, dir_fd, *current);
    if (!checked.ok()) {
      member.status = checked;
      return checked;
    }
  }
  absl::Status flushed =
      SetReplacer::SyncTempFileContents(*fs_, *replacer_, set);
  if (!flushed.ok()) return flushed;
  absl::StatusOr<BuiltVersion> version =
      BuildVersion(set, dir_fd, *current, version_mode);
  if (!version.ok()) return version.status();
  absl::Status swapped = Swap(dir_fd, version->name, current->has_value());
  if (!swapped.ok()) {
    Discard(dir_fd, *version);
    return Annotate(swapped, absl::StrCat("cannot swap ", kDataLinkName,
                                          "; nothing was published"));
  }
  // The commit point. A directory fsync that failed may be made good by a
  // second one (as DirectorySyncDebt does).
  absl::Status committed = replacer_->SyncDirectory(dir_fd);
  if (!committed.ok()) {
    replacer_->AddSyncDebt(dir_fd);
    absl::Status again = replacer_->SyncDirectory(dir_fd);
    if (!again.ok()) {
      return absl::UnknownError(absl::StrCat(
          "outcome unknown: ", kDataLinkName,
          " now names the new version, but the directory's fsync failed (",
          committed.message(), ", then ", again.message(),
          "), so a power cut may keep the old one; the next start keeps "
          "whichever survived"));
    }
  }
  CleanUp(set, dir_fd, *current);
  return absl::OkStatus();
}

}  // namespace durable
