#include "server/engine/file_replacer.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/base/errno_status.h"
#include "server/base/logging.h"
#include "server/engine/etag.h"
#include "server/engine/random_name.h"

namespace durable {
namespace {

constexpr int kTempNameAttempts = 8;

std::string RandomTempName() { return RandomHexName(kTempFilePrefix); }

// DATA_LOSS unless content of `size` bytes with digest `sha256` has the
// `expected` digest, if one is set.
absl::Status CheckDigest(uint64_t size, const std::string& sha256,
                         const std::optional<std::string>& expected) {
  if (!expected.has_value() || *expected == sha256) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(
      "the content received (", size, " bytes, sha256 ",
      absl::BytesToHexString(sha256), ") does not match the expected sha256 ",
      absl::BytesToHexString(*expected)));
}

// `items` in groups of equal key(item), groups in the order of their first
// item, items in their order.
template <typename T, typename KeyOf>
std::vector<std::vector<T*>> GroupBy(const std::vector<T*>& items,
                                     KeyOf key_of) {
  std::vector<std::vector<T*>> groups;
  absl::flat_hash_map<decltype(key_of(items.front())), size_t> index;
  for (T* item : items) {
    auto [it, added] = index.try_emplace(key_of(item), groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(item);
  }
  return groups;
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
  return IsRandomHexName(name, kTempFilePrefix);
}

StagedFile::StagedFile(FileSystem* fs, int dir_fd, std::string leaf,
                       std::string temp_name, UniqueFd fd, uint64_t sequence)
    : fs_(fs),
      dir_fd_(dir_fd),
      leaf_(std::move(leaf)),
      temp_name_(std::move(temp_name)),
      fd_(std::move(fd)),
      sequence_(sequence) {}

StagedFile::~StagedFile() { Discard(); }

void StagedFile::Discard() {
  if (!needs_cleanup_) return;
  needs_cleanup_ = false;
  fd_.reset();
  absl::Status removed = fs_->Unlink(dir_fd_, temp_name_);
  if (!removed.ok()) {
    LogError(absl::StrCat("cannot remove temp file ", EscapeName(temp_name_),
                          ": ", removed.message()));
  }
}

absl::Status StagedFile::Append(absl::string_view data) {
  if (failed_) {
    return absl::FailedPreconditionError("an earlier append failed");
  }
  if (sealed_) {
    return absl::FailedPreconditionError("the content is already complete");
  }
  absl::Status status = fs_->Append(fd_.get(), data);
  if (!status.ok()) {
    failed_ = true;
    return status;
  }
  hasher_.Update(data);
  size_ += data.size();
  // Write-behind: each completed window is handed to writeback, and the one
  // kWriteBehindDepth windows before it waited for, so at most that many
  // windows of a large file are dirty and its final flush has little left
  // to do.
  constexpr uint64_t kLag = kWriteBehindDepth * kWriteBehindBytes;
  while (size_ - written_back_ >= kWriteBehindBytes) {
    if (written_back_ >= kLag) {
      status = fs_->WriteBehind(fd_.get(), written_back_ - kLag,
                                kWriteBehindBytes, /*wait=*/true);
    }
    if (status.ok()) {
      status = fs_->WriteBehind(fd_.get(), written_back_, kWriteBehindBytes,
                                /*wait=*/false);
    }
    if (!status.ok()) {
      failed_ = true;
      return Annotate(status, "cannot write back the new content");
    }
    written_back_ += kWriteBehindBytes;
  }
  return absl::OkStatus();
}

absl::Status StagedFile::Seal(
    const std::optional<std::string>& expected_sha256) {
  if (failed_) {
    return absl::FailedPreconditionError("an earlier append failed");
  }
  if (!sealed_) {
    sealed_ = true;
    sha256_ = hasher_.Finish();
    if (written_back_ > 0) {
      // A large file: its data is written back here, on the caller's
      // thread, so the commit's flush of it is short.
      absl::Status flushed =
          fs_->WriteBehind(fd_.get(), 0, size_, /*wait=*/true);
      if (!flushed.ok()) {
        failed_ = true;
        return Annotate(flushed, "cannot write back the new content");
      }
    }
  }
  return CheckDigest(size_, sha256_, expected_sha256);
}

absl::StatusOr<std::unique_ptr<StagedFile>> FileReplacer::Stage(
    int dir_fd, const std::string& leaf) {
  absl::Status last_error;
  for (int attempt = 0; attempt < kTempNameAttempts; ++attempt) {
    std::string temp_name = RandomTempName();
    absl::StatusOr<UniqueFd> fd = fs_->CreateExclusive(dir_fd, temp_name);
    if (fd.ok()) {
      return std::unique_ptr<StagedFile>(
          new StagedFile(fs_, dir_fd, leaf, std::move(temp_name),
                         std::move(*fd), next_sequence_.fetch_add(1)));
    }
    last_error = fd.status();
    if (!absl::IsAlreadyExists(last_error)) break;
  }
  return Annotate(last_error, "cannot create a temp file");
}

absl::StatusOr<FileInfo> FileReplacer::InspectTarget(
    int dir_fd, const std::string& leaf, const std::string& if_match) {
  return InspectTarget(dir_fd, leaf, if_match, /*need_etag=*/true);
}

absl::StatusOr<FileInfo> FileReplacer::InspectTarget(
    int dir_fd, const std::string& leaf, const std::string& if_match,
    bool need_etag) {
  // Only an etag needs the inode generation, which costs an open.
  absl::StatusOr<FileInfo> existing = need_etag || !if_match.empty()
                                          ? fs_->StatAt(dir_fd, leaf)
                                          : fs_->LookUp(dir_fd, leaf);
  if (!existing.ok()) {
    if (absl::IsNotFound(existing.status())) {
      return absl::NotFoundError("the target does not exist");
    }
    return Annotate(existing.status(), "cannot inspect the target");
  }
  if (!S_ISREG(existing->mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the target is ", DescribeFileType(existing->mode),
                     ", not a regular file"));
  }
  absl::StatusOr<FileInfo> dir = fs_->Stat(dir_fd);
  if (!dir.ok()) return Annotate(dir.status(), "cannot inspect the directory");
  if (existing->mount_id != dir->mount_id) {
    return absl::PermissionDeniedError(
        "the target is a mount point; durabled never writes across mounts");
  }
  if (!if_match.empty()) {
    std::string etag = EtagOf(*existing);
    if (etag != if_match) {
      return absl::AbortedError(absl::StrCat("the target changed: its etag is ",
                                             etag, ", not ", if_match));
    }
  }
  return existing;
}

struct FileReplacer::Publication {
  explicit Publication(BatchEntry& entry)
      : entry(entry),
        staged(*entry.staged),
        options(*entry.options),
        target_dir_fd(staged.dir_fd_) {}

  BatchEntry& entry;
  StagedFile& staged;
  const CommitOptions& options;
  // Where the file it replaces is looked up: the target's directory, or
  // (Prepare's caller) elsewhere; -1: there is none.
  int target_dir_fd;
  // The first failure; the commit of this entry goes on while it is OK.
  absl::Status status;
  // The target before publishing; nullopt when it is absent.
  std::optional<FileInfo> existing;
  mode_t permissions = 0;
  std::optional<Owner> owner;
  // What was written, seen through our own fd (the temp name could be
  // swapped by anyone who may write the directory; our fd cannot).
  FileInfo own;
  // The replace swapped names: the temp name holds the old content.
  bool exchanged = false;
  CommitResult result;

  int dir_fd() const { return staged.dir_fd_; }
  const std::string& leaf() const { return staged.leaf_; }
  const std::string& temp() const { return staged.temp_name_; }
};

absl::StatusOr<CommitResult> FileReplacer::Commit(
    StagedFile& staged, const CommitOptions& options) {
  if (staged.failed_) {
    return absl::FailedPreconditionError("an earlier append failed");
  }
  absl::Status sealed = staged.Seal(options.expected_sha256);
  if (!sealed.ok()) {
    staged.Discard();
    return sealed;
  }
  BatchEntry entry;
  entry.staged = &staged;
  entry.options = &options;
  CommitBatch(absl::MakeSpan(&entry, 1), FlushStrategy::kFsyncEach);
  // After a replace the temp name holds the old content; it goes now.
  if (entry.result.ok()) staged.Discard();
  return std::move(entry.result);
}

void FileReplacer::CommitBatch(absl::Span<BatchEntry> batch,
                               FlushStrategy flush) {
  std::vector<Publication> publications;
  publications.reserve(batch.size());
  for (BatchEntry& entry : batch) publications.emplace_back(entry);
  const auto live = [&publications] {
    std::vector<Publication*> going_on;
    for (Publication& p : publications) {
      if (p.status.ok()) going_on.push_back(&p);
    }
    return going_on;
  };

  // 1.-3. without the flush, entry by entry.
  for (Publication& p : publications) {
    if (p.staged.failed_ || !p.staged.sealed_) {
      p.status = absl::FailedPreconditionError(
          p.staged.failed_ ? "an earlier append failed"
                           : "the content was not sealed");
      continue;
    }
    p.status = DecideCreateOrReplace(p);
    if (p.status.ok()) p.status = VerifyContent(p);
    if (p.status.ok()) p.status = PrepareTempFile(p);
  }
  // 3. The data of the whole batch, before anything is published.
  std::vector<Publication*> flushing = live();
  FlushTempFiles(flushing, flush);
  // 4. Earlier failed directory fsyncs are made good before anything more
  // is published (and so before anything more is acknowledged).
  std::vector<Publication*> publishing = live();
  if (!publishing.empty()) {
    absl::Status settled = sync_debt_.Settle(*fs_);
    if (!settled.ok()) {
      for (Publication* p : publishing) {
        p->status = Annotate(settled, "nothing was published, because");
      }
    }
  }
  // 4.-6. entry by entry.
  for (Publication* p : live()) {
    p->status = CheckStillWanted(*p);
    if (p->status.ok()) p->status = Publish(*p);
    if (p->status.ok()) p->status = VerifyPublished(*p);
  }
  // 7. One fsync per directory covers every publish in it. An entry that
  // does not name its directory is a directory of its own.
  std::vector<std::vector<Publication*>> directories =
      GroupBy(live(), [](Publication* p) {
        const bool unnamed =
            p->entry.directory_device == 0 && p->entry.directory_inode == 0;
        return std::make_tuple(p->entry.directory_device,
                               p->entry.directory_inode, unnamed ? p : nullptr);
      });
  for (std::vector<Publication*>& directory : directories) {
    MakePublishesDurable(directory);
  }

  for (Publication& p : publications) {
    if (p.status.ok()) {
      p.entry.result = std::move(p.result);
    } else {
      // Unless publishing succeeded, the temp file is gone now (or kept on
      // purpose, see needs_cleanup_).
      p.staged.Discard();
      p.entry.result = std::move(p.status);
    }
  }
}

absl::StatusOr<PreparedFile> FileReplacer::Prepare(
    StagedFile& staged, const CommitOptions& options) {
  return Prepare(staged, options, staged.dir_fd_);
}

absl::StatusOr<PreparedFile> FileReplacer::Prepare(StagedFile& staged,
                                                   const CommitOptions& options,
                                                   int replaced_dir_fd) {
  if (staged.failed_ || !staged.sealed_) {
    return absl::FailedPreconditionError(staged.failed_
                                             ? "an earlier append failed"
                                             : "the content was not sealed");
  }
  BatchEntry entry;
  entry.staged = &staged;
  entry.options = &options;
  Publication p(entry);
  p.target_dir_fd = replaced_dir_fd;
  absl::Status status = DecideCreateOrReplace(p, /*need_etag=*/true);
  if (status.ok()) status = VerifyContent(p);
  if (status.ok()) status = PrepareTempFile(p);
  if (!status.ok()) return status;
  return PreparedFile{std::move(p.result), std::move(p.own),
                      std::move(p.existing)};
}

// 1. What is at the target now decides create vs replace, and the mode and
// owner of the new file.
absl::Status FileReplacer::DecideCreateOrReplace(Publication& p,
                                                 bool need_etag) {
  const CommitOptions& options = p.options;
  p.permissions = options.create_permissions & 07777;
  p.owner = options.create_owner;
  absl::StatusOr<FileInfo> existing =
      p.target_dir_fd < 0 ? absl::NotFoundError("no such file")
                          : InspectTarget(p.target_dir_fd, p.leaf(),
                                          options.if_match, need_etag);
  if (existing.ok()) {
    if (options.if_absent) {
      return absl::AlreadyExistsError(
          "the target exists and the write is create-only (if_absent)");
    }
    if (!options.allow_overwrite) {
      return absl::PermissionDeniedError(
          "the target exists and the rule does not allow overwriting");
    }
    // Keep the old bits but never setuid/setgid: new content must not
    // inherit the privilege of the file it replaces (the kernel drops them
    // on a write by anyone else, too).
    p.permissions = existing->mode & 01777;
    p.owner = Owner{existing->uid, existing->gid};
    p.result.replaced_size = existing->size;
    p.existing = *std::move(existing);
  } else if (absl::IsNotFound(existing.status()) && options.if_match.empty()) {
    p.result.created = true;
  } else if (absl::IsNotFound(existing.status())) {
    return absl::AbortedError(
        absl::StrCat("the target does not exist, so it cannot match etag ",
                     options.if_match));
  } else {
    return existing.status();
  }
  if (options.requested_permissions.has_value()) {
    p.permissions = *options.requested_permissions & 07777;
  }
  return absl::OkStatus();
}

// 2. The content must be what the client meant to send.
absl::Status FileReplacer::VerifyContent(Publication& p) {
  p.result.size = p.staged.size_;
  p.result.sha256 = p.staged.sha256_;
  return CheckDigest(p.result.size, p.result.sha256, p.options.expected_sha256);
}

// 3. Metadata of the temp file (its data is flushed with the batch's, by
// FlushTempFiles). A replacement is stamped newer than the version it
// replaces (before the flush, so the stamp is durable too).
absl::Status FileReplacer::PrepareTempFile(Publication& p) {
  const int fd = p.staged.fd_.get();
  absl::Status status = fs_->SetPermissions(fd, p.permissions);
  if (status.ok() && p.owner.has_value()) {
    absl::StatusOr<FileInfo> info = fs_->Stat(fd);
    if (!info.ok()) {
      status = info.status();
    } else if (info->uid != p.owner->uid || info->gid != p.owner->gid) {
      status = fs_->SetOwner(fd, p.owner->uid, p.owner->gid);
    }
  }
  if (!status.ok()) return Annotate(status, "cannot set mode or owner");
  absl::StatusOr<FileInfo> own = p.existing.has_value()
                                     ? StampNewerThan(fd, p.existing->mtime_ns)
                                     : fs_->Stat(fd);
  if (!own.ok()) {
    return Annotate(own.status(), "cannot inspect the new content");
  }
  p.own = *std::move(own);
  // Stat RPCs and if_match compute the etag from the target later; both
  // derive it from the same inode's device, number, generation, mtime and
  // size, so they agree.
  p.result.etag = EtagOf(p.own);
  return absl::OkStatus();
}

// 3. (the flush) Each temp file's data and metadata are made durable: by
// one syncfs per filesystem where the strategy says so (it reports the
// writeback errors of every file opened after the batch's earliest, so it is
// asked through that one), else by an fsync of each. A failed flush is
// never retried: its entries fail.
void FileReplacer::FlushTempFiles(std::vector<Publication*>& live,
                                  FlushStrategy flush) {
  for (std::vector<Publication*>& device :
       GroupBy(live, [](Publication* p) { return p->own.device; })) {
    const bool use_syncfs =
        flush == FlushStrategy::kSyncfs ||
        (flush == FlushStrategy::kAuto && device.size() >= kAutoSyncfsMinimum);
    if (use_syncfs) {
      Publication* earliest = *std::min_element(
          device.begin(), device.end(), [](Publication* a, Publication* b) {
            return a->staged.sequence_ < b->staged.sequence_;
          });
      absl::Status synced = fs_->SyncFilesystem(earliest->staged.fd_.get());
      if (synced.ok()) continue;
      if (!absl::IsUnimplemented(synced)) {
        for (Publication* p : device) {
          p->status = Annotate(synced, "cannot flush the new content");
        }
        continue;
      }
    }
    for (Publication* p : device) {
      absl::Status synced = fs_->SyncFile(p->staged.fd_.get());
      if (!synced.ok()) {
        p->status = Annotate(synced, "cannot flush the new content");
      }
    }
  }
}

// 4. A caller that went away publishes nothing.
absl::Status FileReplacer::CheckStillWanted(Publication& p) {
  if (p.options.abandon && p.options.abandon()) {
    return absl::CancelledError(
        "the call was cancelled or its deadline passed; nothing was "
        "published");
  }
  return absl::OkStatus();
}

// 5. Publish. A replace swaps the names so the old content can be put back
// if the directory cannot be made durable.
absl::Status FileReplacer::Publish(Publication& p) {
  absl::Status status;
  if (p.result.created) {
    RenameMode mode = (p.options.if_absent || !p.options.allow_overwrite)
                          ? RenameMode::kNoReplace
                          : RenameMode::kReplace;
    status = fs_->Rename(p.dir_fd(), p.temp(), p.leaf(), mode);
    if (absl::IsAlreadyExists(status)) {
      return absl::AlreadyExistsError(
          "the target appeared while writing and the write is create-only");
    }
  } else {
    status = fs_->Rename(p.dir_fd(), p.temp(), p.leaf(), RenameMode::kExchange);
    if (absl::IsInvalidArgument(status)) {
      // The filesystem lacks RENAME_EXCHANGE: a plain atomic replace, which
      // cannot be undone if the directory fsync fails.
      status =
          fs_->Rename(p.dir_fd(), p.temp(), p.leaf(), RenameMode::kReplace);
    } else {
      p.exchanged = status.ok();
    }
  }
  if (!status.ok()) return Annotate(status, "cannot publish the new content");
  // From here the temp name holds the old content (exchanged) or nothing.
  p.staged.needs_cleanup_ = p.exchanged;
  return absl::OkStatus();
}

// 6. The target must now be the inode we wrote and flushed. Checked before
// the directory fsync, so that an undo is made durable by it.
absl::Status FileReplacer::VerifyPublished(Publication& p) {
  absl::StatusOr<FileInfo> published = fs_->LookUp(p.dir_fd(), p.leaf());
  if (!published.ok() || published->device != p.own.device ||
      published->inode != p.own.inode) {
    const bool foreign = published.ok();
    absl::Status undone;
    if (p.exchanged) {
      // The old content returns to the target; the temp name then holds
      // what was published there and is removed on return.
      undone =
          fs_->Rename(p.dir_fd(), p.temp(), p.leaf(), RenameMode::kExchange);
      if (!undone.ok()) p.staged.needs_cleanup_ = false;  // the old content
    } else {
      undone = RemoveFromTarget(p.dir_fd(), p.leaf());
    }
    absl::Status synced =
        undone.ok() ? SyncDirectory(p.dir_fd()) : absl::OkStatus();
    if (!synced.ok()) sync_debt_.Add(*fs_, p.dir_fd());
    std::string state;
    if (!undone.ok()) {
      state = absl::StrCat(
          "; undoing the publish failed (", undone.message(),
          "), so the target may hold that file",
          p.exchanged
              ? absl::StrCat(" and the old content is kept as ", p.temp())
              : "");
    } else if (!synced.ok()) {
      state = absl::StrCat(
          "; it was removed from the target again, but the directory "
          "fsync after that failed (",
          synced.message(), "), so after a power loss it may be back");
    } else if (p.exchanged || p.result.created) {
      state = p.exchanged ? "; the old content is back in place"
                          : "; the target is absent again";
    } else {
      state =
          "; the old content could not be restored (this filesystem has no "
          "RENAME_EXCHANGE), the target is absent";
    }
    if (foreign) {
      if (!p.exchanged && undone.ok()) {
        LogWarning(absl::StrCat(
            "a file another process renamed onto temp file ", p.temp(),
            " was published as ", p.leaf(), " and has been removed again"));
      }
      return absl::AbortedError(absl::StrCat(
          "the temp file was replaced by another process before it was "
          "published; nothing of ours was published",
          state));
    }
    if (undone.ok() && synced.ok()) {
      return Annotate(published.status(),
                      absl::StrCat("cannot verify the published file; the "
                                   "write was rolled back",
                                   state));
    }
    return absl::UnknownError(
        absl::StrCat("outcome unknown: cannot verify the published file (",
                     published.status().message(), ")", state));
  }
  return absl::OkStatus();
}

// 7. Make the renames of one directory durable, or undo them and make the
// undo durable.
void FileReplacer::MakePublishesDurable(std::vector<Publication*>& directory) {
  const int dir_fd = directory.front()->dir_fd();
  absl::Status status = SyncDirectory(dir_fd);
  if (status.ok()) return;
  std::vector<absl::Status> undone;
  bool any_undone = false;
  for (Publication* p : directory) {
    if (p->exchanged) {
      // Afterwards the temp name holds the new content again and is removed
      // on return.
      undone.push_back(fs_->Rename(p->dir_fd(), p->temp(), p->leaf(),
                                   RenameMode::kExchange));
    } else if (p->result.created) {
      undone.push_back(fs_->Unlink(p->dir_fd(), p->leaf()));
    } else {
      undone.push_back(absl::UnimplementedError(
          "this filesystem has no RENAME_EXCHANGE, so a replace cannot be "
          "undone"));
    }
    any_undone = any_undone || undone.back().ok();
  }
  const absl::Status resynced =
      any_undone ? SyncDirectory(dir_fd) : absl::OkStatus();
  for (size_t i = 0; i < directory.size(); ++i) {
    directory[i]->status =
        RolledBack(*directory[i], status, undone[i], resynced);
  }
}

absl::Status FileReplacer::RolledBack(Publication& p,
                                      const absl::Status& sync_error,
                                      const absl::Status& undone,
                                      const absl::Status& resynced) {
  if (undone.ok()) {
    if (resynced.ok()) {
      return Annotate(sync_error,
                      "cannot make the directory durable; the write was "
                      "rolled back");
    }
    sync_debt_.Add(*fs_, p.dir_fd());
    return absl::UnknownError(absl::StrCat(
        "outcome unknown: cannot make the directory durable (",
        sync_error.message(),
        "); the write was rolled back, but the directory fsync after the "
        "rollback failed too (",
        resynced.message(),
        "), so after a power loss the target may hold the old or the new "
        "content"));
  }
  sync_debt_.Add(*fs_, p.dir_fd());
  if (p.exchanged) {
    p.staged.needs_cleanup_ = false;
    LogError(absl::StrCat("the old content of ", p.leaf(), " is kept as ",
                          p.temp(), " after a failed directory fsync"));
  }
  return absl::UnknownError(absl::StrCat(
      "outcome unknown: cannot make the directory durable (",
      sync_error.message(), ") and cannot roll back (", undone.message(),
      "); the new content is visible but may not survive a power loss",
      p.exchanged ? absl::StrCat("; the old content is kept as ", p.temp())
                  : ""));
}

absl::StatusOr<FileInfo> FileReplacer::StampNewerThan(int fd,
                                                      int64_t old_mtime_ns) {
  // Increments tried in turn where the filesystem's timestamp granularity
  // rounds a smaller one away (ns on ext4/xfs/tmpfs, up to 2 s on FAT).
  constexpr int64_t kSteps[] = {1, 1000, 1000000, 1000000000, 2000000000};
  int64_t wanted = std::max(absl::ToUnixNanos(absl::Now()), old_mtime_ns + 1);
  absl::StatusOr<FileInfo> info;
  for (int64_t step : kSteps) {
    wanted = std::max(wanted, old_mtime_ns + step);
    absl::Status status = fs_->SetModificationTime(fd, wanted);
    if (!status.ok()) return status;
    info = fs_->Stat(fd);
    if (!info.ok() || info->mtime_ns > old_mtime_ns) return info;
  }
  LogWarning(
      "cannot give a new file an mtime later than the one it replaces; "
      "its etag may repeat an earlier one if an inode number is reused");
  return info;
}

absl::StatusOr<std::string> FileReplacer::MoveAside(int dir_fd,
                                                    const std::string& leaf) {
  absl::Status status;
  for (int attempt = 0; attempt < kTempNameAttempts; ++attempt) {
    std::string aside = RandomTempName();
    status = fs_->Rename(dir_fd, leaf, aside, RenameMode::kNoReplace);
    if (status.ok()) return aside;
    if (!absl::IsAlreadyExists(status)) break;
  }
  return status;
}

void FileReplacer::UnlinkAside(int dir_fd, const std::string& aside,
                               const std::string& leaf) {
  absl::Status removed = fs_->Unlink(dir_fd, aside);
  if (!removed.ok()) {
    // Off the target, which is what matters; the start-up sweep removes it.
    LogError(absl::StrCat("cannot remove ", aside, " (was ", leaf,
                          "): ", removed.message()));
  }
}

absl::Status FileReplacer::RemoveFromTarget(int dir_fd,
                                            const std::string& leaf) {
  absl::StatusOr<std::string> aside = MoveAside(dir_fd, leaf);
  if (!aside.ok()) return aside.status();
  UnlinkAside(dir_fd, *aside, leaf);
  return absl::OkStatus();
}

absl::Status FileReplacer::SyncDirectory(int dir_fd) {
  // Only with a debt outstanding is it worth learning which directory this
  // is; a debt recorded later is not covered by this fsync.
  const bool in_debt = !sync_debt_.empty();
  const uint64_t epoch = sync_debt_.Epoch();
  absl::Status status = fs_->SyncDirectory(dir_fd);
  if (absl::IsUnimplemented(status)) {
    NoteDirectorySyncUnsupported(dir_fd);
    status = absl::OkStatus();
  }
  if (status.ok() && in_debt) {
    absl::StatusOr<FileInfo> dir = fs_->Stat(dir_fd);
    if (dir.ok()) sync_debt_.Synced(dir->device, dir->inode, epoch);
  }
  return status;
}

absl::StatusOr<std::string> FileReplacer::Remove(int dir_fd,
                                                 const std::string& leaf,
                                                 const std::string& if_match) {
  absl::StatusOr<FileInfo> existing = InspectTarget(dir_fd, leaf, if_match);
  if (!existing.ok()) return existing.status();
  const std::string etag = EtagOf(*existing);
  absl::Status status = sync_debt_.Settle(*fs_);
  if (!status.ok()) return Annotate(status, "nothing was removed, because");
  // Move it aside under a fresh temp name, so that a failed directory fsync
  // can put it back.
  absl::StatusOr<std::string> aside = MoveAside(dir_fd, leaf);
  if (!aside.ok()) return Annotate(aside.status(), "cannot remove the target");
  const std::string& temp = *aside;
  status = SyncDirectory(dir_fd);
  if (!status.ok()) {
    absl::Status undone =
        fs_->Rename(dir_fd, temp, leaf, RenameMode::kNoReplace);
    if (undone.ok()) {
      absl::Status resynced = SyncDirectory(dir_fd);
      if (resynced.ok()) {
        return Annotate(status,
                        "cannot make the directory durable; the file was put "
                        "back");
      }
      sync_debt_.Add(*fs_, dir_fd);
      return absl::UnknownError(absl::StrCat(
          "outcome unknown: cannot make the directory durable (",
          status.message(),
          "); the file was put back, but the directory fsync after that "
          "failed too (",
          resynced.message(),
          "), so after a power loss the file may be present or removed"));
    }
    sync_debt_.Add(*fs_, dir_fd);
    return absl::UnknownError(absl::StrCat(
        "outcome unknown: cannot make the directory durable (",
        status.message(), ") and cannot put the file back (", undone.message(),
        "); it is kept as ", temp,
        " and may or may not be gone from the target after a power loss"));
  }
  UnlinkAside(dir_fd, temp, leaf);
  return etag;
}

void FileReplacer::NoteDirectorySyncUnsupported(int dir_fd) {
  absl::StatusOr<FileInfo> dir = fs_->Stat(dir_fd);
  const uint64_t device = dir.ok() ? dir->device : 0;
  {
    absl::MutexLock lock(&mu_);
    if (!devices_without_directory_sync_.insert(device).second) return;
  }
  LogWarning(absl::StrFormat(
      "the filesystem of device %d:%d does not support fsync of a "
      "directory; renames there rest on the filesystem's own ordering "
      "(logged once per filesystem)",
      major(device), minor(device)));
}

absl::StatusOr<CommitResult> FileReplacer::Write(int dir_fd,
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
