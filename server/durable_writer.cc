#include "server/durable_writer.h"

#include <sys/stat.h>

#include <utility>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/etag.h"
#include "server/logging.h"

namespace durable {
namespace {

constexpr int kTempNameAttempts = 8;

std::string RandomTempName() {
  absl::BitGen bits;
  return absl::StrFormat("%s%016x", kTempFilePrefix,
                         absl::Uniform<uint64_t>(bits));
}

absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

const char* DescribeFileType(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

}  // namespace

bool IsTempFileName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, kTempFilePrefix) || name.size() != 16) {
    return false;
  }
  for (char c : name) {
    if (!absl::ascii_isxdigit(c) || absl::ascii_isupper(c)) return false;
  }
  return true;
}

StagedFile::StagedFile(FileSystem* fs, int dir_fd, std::string leaf,
                       std::string temp_name, UniqueFd fd)
    : fs_(fs),
      dir_fd_(dir_fd),
      leaf_(std::move(leaf)),
      temp_name_(std::move(temp_name)),
      fd_(std::move(fd)) {}

StagedFile::~StagedFile() {
  if (needs_cleanup_) {
    fd_.reset();
    absl::Status removed = fs_->Unlink(dir_fd_, temp_name_);
    if (!removed.ok()) {
      LogError(absl::StrCat("cannot remove temp file ", temp_name_, ": ",
                            removed.message()));
    }
  }
}

absl::Status StagedFile::Append(absl::string_view data) {
  if (failed_) {
    return absl::FailedPreconditionError("an earlier append failed");
  }
  absl::Status status = fs_->Append(fd_.get(), data);
  if (!status.ok()) {
    failed_ = true;
    return status;
  }
  hasher_.Update(data);
  size_ += data.size();
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<StagedFile>> DurableWriter::Stage(
    int dir_fd, const std::string& leaf) {
  absl::Status last_error;
  for (int attempt = 0; attempt < kTempNameAttempts; ++attempt) {
    std::string temp_name = RandomTempName();
    absl::StatusOr<UniqueFd> fd = fs_->CreateExclusive(dir_fd, temp_name);
    if (fd.ok()) {
      return std::unique_ptr<StagedFile>(new StagedFile(
          fs_, dir_fd, leaf, std::move(temp_name), std::move(*fd)));
    }
    last_error = fd.status();
    if (!absl::IsAlreadyExists(last_error)) break;
  }
  return Annotate(last_error, "cannot create a temp file");
}

absl::StatusOr<WriteResult> DurableWriter::Commit(
    StagedFile& staged, const CommitOptions& options) {
  const int dir_fd = staged.dir_fd_;
  const std::string& leaf = staged.leaf_;
  const std::string& temp = staged.temp_name_;
  if (staged.failed_) {
    return absl::FailedPreconditionError("an earlier append failed");
  }

  // 1. What is at the target now decides create vs replace.
  WriteResult result;
  mode_t permissions = options.create_permissions & 07777;
  std::optional<Owner> owner = options.create_owner;
  absl::StatusOr<FileInfo> existing = fs_->StatAt(dir_fd, leaf);
  if (existing.ok()) {
    if (!S_ISREG(existing->mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("the target is ", DescribeFileType(existing->mode),
                       ", not a regular file"));
    }
    if (options.if_absent) {
      return absl::AlreadyExistsError(
          "the target exists and the write is create-only (if_absent)");
    }
    if (!options.allow_overwrite) {
      return absl::PermissionDeniedError(
          "the target exists and the rule does not allow overwriting");
    }
    permissions = existing->mode & 07777;
    owner = Owner{existing->uid, existing->gid};
  } else if (absl::IsNotFound(existing.status())) {
    result.created = true;
  } else {
    return Annotate(existing.status(), "cannot inspect the target");
  }

  // 2. Metadata and data of the temp file, made durable before publishing.
  const int fd = staged.fd_.get();
  absl::Status status = fs_->SetPermissions(fd, permissions);
  absl::StatusOr<FileInfo> info;
  if (status.ok() && owner.has_value()) {
    info = fs_->Stat(fd);
    if (!info.ok()) {
      status = info.status();
    } else if (info->uid != owner->uid || info->gid != owner->gid) {
      status = fs_->SetOwner(fd, owner->uid, owner->gid);
    }
  }
  if (!status.ok()) return Annotate(status, "cannot set mode or owner");
  status = fs_->SyncFile(fd);
  if (!status.ok()) return Annotate(status, "cannot flush the new content");
  info = fs_->Stat(fd);
  if (!info.ok()) return Annotate(info.status(), "cannot inspect the temp file");
  result.size = staged.size_;
  result.sha256 = staged.hasher_.Finish();
  result.etag = EtagOf(*info);

  // 3. Publish. A replace swaps the names so the old content can be put
  // back if the directory cannot be made durable.
  bool exchanged = false;
  if (result.created) {
    RenameMode mode = (options.if_absent || !options.allow_overwrite)
                          ? RenameMode::kNoReplace
                          : RenameMode::kReplace;
    status = fs_->Rename(dir_fd, temp, leaf, mode);
    if (absl::IsAlreadyExists(status)) {
      return absl::AlreadyExistsError(
          "the target appeared while writing and the write is create-only");
    }
  } else {
    status = fs_->Rename(dir_fd, temp, leaf, RenameMode::kExchange);
    if (absl::IsInvalidArgument(status)) {
      // The filesystem lacks RENAME_EXCHANGE: a plain atomic replace, which
      // cannot be undone if the directory fsync fails.
      status = fs_->Rename(dir_fd, temp, leaf, RenameMode::kReplace);
    } else {
      exchanged = status.ok();
    }
  }
  if (!status.ok()) return Annotate(status, "cannot publish the new content");
  // From here the temp name holds the old content (exchanged) or nothing.
  staged.needs_cleanup_ = exchanged;

  // 4. Make the rename durable.
  status = fs_->SyncDirectory(dir_fd);
  if (!status.ok() && !absl::IsUnimplemented(status)) {
    absl::Status undone;
    if (exchanged) {
      undone = fs_->Rename(dir_fd, temp, leaf, RenameMode::kExchange);
      // The temp name now holds the new content again; the destructor of
      // `staged` removes it.
    } else if (result.created) {
      undone = fs_->Unlink(dir_fd, leaf);
    } else {
      undone = absl::DataLossError("a plain rename cannot be undone");
    }
    if (undone.ok()) {
      return Annotate(status,
                      "cannot make the directory durable; the write was "
                      "rolled back");
    }
    return Annotate(status, absl::StrCat(
                                "cannot make the directory durable and cannot "
                                "roll back (",
                                undone.message(),
                                "); the new content is visible but may not "
                                "survive a power loss"));
  }

  // 5. Drop the old content. A failure here does not undo a durable write;
  // the leftover carries the temp prefix, so the start-up sweep removes it.
  if (exchanged) {
    staged.needs_cleanup_ = false;
    staged.fd_.reset();
    absl::Status removed = fs_->Unlink(dir_fd, temp);
    if (!removed.ok()) {
      LogError(absl::StrCat("cannot remove the old content of ", leaf,
                            " (now ", temp, "): ", removed.message()));
    }
  }
  return result;
}

absl::StatusOr<WriteResult> DurableWriter::Write(int dir_fd,
                                                 const std::string& leaf,
                                                 absl::string_view data,
                                                 const CommitOptions& options) {
  absl::StatusOr<std::unique_ptr<StagedFile>> staged = Stage(dir_fd, leaf);
  if (!staged.ok()) return staged.status();
  absl::Status appended = (*staged)->Append(data);
  if (!appended.ok()) return Annotate(appended, "cannot write the new content");
  return Commit(**staged, options);
}

}  // namespace durable
