#include "server/engine/versioned_layout.h"

#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "server/base/errno_status.h"
#include "server/base/logging.h"
#include "server/engine/random_name.h"
#include "server/engine/set_record.h"

namespace durable {

bool IsVersionName(absl::string_view name) {
  return IsRandomHexName(name, kVersionPrefix);
}

bool IsVersionDirectory(const FileInfo& info) {
  return IsTrustedSetDirectory(info, geteuid()) && (info.mode & kVersionMark);
}

bool IsDataLinkTempName(absl::string_view name) {
  return IsRandomHexName(name, kDataLinkTempPrefix);
}

std::string RandomVersionName() { return RandomHexName(kVersionPrefix); }

std::string RandomDataLinkTempName() {
  return RandomHexName(kDataLinkTempPrefix);
}

std::string MemberLinkTarget(absl::string_view leaf) {
  return absl::StrCat(kDataLinkName, "/", leaf);
}

absl::StatusOr<std::optional<LayoutVersion>> OpenCurrentVersion(FileSystem& fs,
                                                                int dir_fd) {
  const std::string data_link(kDataLinkName);
  absl::StatusOr<std::string> target = fs.ReadSymlink(dir_fd, data_link);
  if (absl::IsNotFound(target.status())) return std::nullopt;
  if (absl::IsFailedPrecondition(target.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat(kDataLinkName,
                     " exists and is not a symlink, so the directory is not "
                     "a versioned layout of durabled's; move it away first"));
  }
  if (!target.ok()) return target.status();
  if (!IsVersionName(*target)) {
    return absl::FailedPreconditionError(absl::StrCat(
        kDataLinkName, " points to \"", EscapeName(*target),
        "\", not to a version directory of durabled's; the daemon does not "
        "take over a layout another program made"));
  }
  LayoutVersion version;
  version.name = *std::move(target);
  absl::StatusOr<UniqueFd> dir = fs.OpenDirectoryBeneath(dir_fd, version.name);
  if (!dir.ok()) {
    return Annotate(dir.status(),
                    absl::StrCat("cannot open the version ", kDataLinkName,
                                 " names (", version.name, ")"));
  }
  absl::StatusOr<FileInfo> info = fs.Stat(dir->get());
  if (!info.ok()) return info.status();
  if (!IsVersionDirectory(*info)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the current version ", version.name,
        " is not a version directory of the daemon's (owner uid ", info->uid,
        ", mode 0", absl::Hex(info->mode & 07777),
        "; the daemon's have its uid, no group or other write, and the "
        "sticky bit); an operator should inspect it"));
  }
  absl::StatusOr<std::vector<DirectoryEntry>> entries =
      fs.ListDirectory(dir->get());
  if (!entries.ok()) return entries.status();
  for (const DirectoryEntry& entry : *entries) {
    if (!entry.is_regular) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the current version ", version.name, " holds \"",
          EscapeName(entry.name),
          "\", which is not a regular file; an operator should inspect it"));
    }
    version.files.push_back(entry.name);
  }
  version.dir = *std::move(dir);
  return version;
}

absl::Status RemoveVersion(FileSystem& fs, int dir_fd,
                           const std::string& name) {
  absl::StatusOr<UniqueFd> dir = fs.OpenDirectoryBeneath(dir_fd, name);
  if (!dir.ok()) return dir.status();
  absl::StatusOr<FileInfo> info = fs.Stat(dir->get());
  if (!info.ok()) return info.status();
  if (!IsVersionDirectory(*info)) {
    return absl::FailedPreconditionError(
        absl::StrCat(name,
                     " is not a version directory of the daemon's; it is left "
                     "as it is"));
  }
  absl::StatusOr<std::vector<DirectoryEntry>> entries =
      fs.ListDirectory(dir->get());
  if (!entries.ok()) return entries.status();
  for (const DirectoryEntry& entry : *entries) {
    if (entry.is_directory) {
      return absl::FailedPreconditionError(
          absl::StrCat("version directory ", name, " holds directory \"",
                       EscapeName(entry.name), "\"; it is left as it is"));
    }
  }
  for (const DirectoryEntry& entry : *entries) {
    absl::Status removed = fs.Unlink(dir->get(), entry.name);
    if (!removed.ok() && !absl::IsNotFound(removed)) return removed;
  }
  return fs.RemoveDirectory(dir_fd, name);
}

absl::StatusOr<LayoutTidy> TidyVersionedLayout(
    FileSystem& fs, int dir_fd, const std::vector<DirectoryEntry>& entries,
    const std::string& dir_for_log) {
  LayoutTidy tidy;
  bool has_data_link = false;
  bool has_layout_names = false;  // versions or temp ..data links
  for (const DirectoryEntry& entry : entries) {
    if (entry.name == kDataLinkName) has_data_link = true;
    if (IsVersionName(entry.name) || IsDataLinkTempName(entry.name)) {
      has_layout_names = true;
    }
  }
  if (!has_layout_names && !has_data_link) return tidy;
  const std::string where =
      absl::StrCat("versioned layout \"", EscapeName(dir_for_log), "\"");
  absl::StatusOr<std::optional<LayoutVersion>> current =
      OpenCurrentVersion(fs, dir_fd);
  if (!current.ok()) {
    // Not ours (AtomicWriter's, say): nothing here is touched.
    if (has_layout_names) {
      LogWarning(absl::StrCat(
          where, " is left as it is: ", current.status().message()));
    }
    return tidy;
  }
  absl::flat_hash_set<std::string> files;
  if (current->has_value()) {
    files.insert((*current)->files.begin(), (*current)->files.end());
  }
  for (const DirectoryEntry& entry : entries) {
    absl::Status removed;
    if (IsVersionName(entry.name)) {
      if (current->has_value() && entry.name == (*current)->name) continue;
      removed = RemoveVersion(fs, dir_fd, entry.name);
    } else if (IsDataLinkTempName(entry.name)) {
      // Ours are symlinks; anything else of that name is not ours.
      absl::StatusOr<std::string> target = fs.ReadSymlink(dir_fd, entry.name);
      if (!target.ok()) continue;
      removed = fs.Unlink(dir_fd, entry.name);
    } else if (!entry.is_directory && !entry.is_regular) {
      absl::StatusOr<std::string> target = fs.ReadSymlink(dir_fd, entry.name);
      if (!target.ok() || *target != MemberLinkTarget(entry.name) ||
          files.contains(entry.name)) {
        continue;
      }
      removed = fs.Unlink(dir_fd, entry.name);  // a removed member's link
    } else {
      continue;
    }
    if (!removed.ok()) {
      LogWarning(absl::StrCat(where, ": cannot remove \"",
                              EscapeName(entry.name), "\" (", removed.message(),
                              "); left as it is"));
      continue;
    }
    ++tidy.removed;
  }
  for (const std::string& leaf : files) {
    absl::StatusOr<std::string> target = fs.ReadSymlink(dir_fd, leaf);
    if (target.ok() && *target == MemberLinkTarget(leaf)) continue;
    if (!absl::IsNotFound(target.status())) {
      LogWarning(absl::StrCat(
          where, ": \"", EscapeName(leaf), "\" is not the layout's link to ",
          MemberLinkTarget(EscapeName(leaf)), "; left as it is"));
      continue;
    }
    absl::Status linked = fs.MakeSymlink(dir_fd, leaf, MemberLinkTarget(leaf));
    if (!linked.ok()) {
      LogWarning(absl::StrCat(where, ": cannot link \"", EscapeName(leaf),
                              "\" to ", kDataLinkName, " (", linked.message(),
                              "); readers will not find it there"));
      continue;
    }
    ++tidy.linked;
  }
  if (tidy.removed + tidy.linked > 0) {
    absl::Status synced = SyncDirectoryWhereSupported(fs, dir_fd);
    if (!synced.ok()) {
      return Annotate(synced, absl::StrCat("cannot fsync ", where));
    }
    LogNotice(absl::StrCat("tidied ", where, ": removed ", tidy.removed,
                           " leftovers, made ", tidy.linked, " links"));
  }
  return tidy;
}

}  // namespace durable
