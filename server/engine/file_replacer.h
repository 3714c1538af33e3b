#ifndef DURABLED_SERVER_ENGINE_FILE_REPLACER_H_
#define DURABLED_SERVER_ENGINE_FILE_REPLACER_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "server/engine/directory_sync_debt.h"
#include "server/engine/file_system.h"
#include "server/engine/sha256.h"

namespace durable {

// Every temporary file durabled creates is named kTempFilePrefix followed by
// 16 random hex digits. Nothing else may use that prefix inside a root.
inline constexpr absl::string_view kTempFilePrefix = ".durabled-tmp.";

// True if `name` is a temp file name of durabled's own making.
bool IsTempFileName(absl::string_view name);

// How a staged file is published over its target.
struct CommitOptions {
  // Permission bits of the file if it is created and none are requested.
  mode_t create_permissions = 0644;
  // Permission bits for the file whether created or replaced; nullopt keeps
  // a replaced file's bits (and uses create_permissions for a new file).
  std::optional<mode_t> requested_permissions;
  // Owner of the file if it is created; nullopt leaves the daemon's. A
  // replaced file keeps its owner.
  std::optional<Owner> create_owner;
  // Fail with ALREADY_EXISTS if the target exists.
  bool if_absent = false;
  // Fail with PERMISSION_DENIED instead of replacing an existing target.
  bool allow_overwrite = true;
  // Non-empty: fail with ABORTED unless the target exists with this etag.
  std::string if_match;
  // Set: fail with DATA_LOSS, publishing nothing, unless the staged content
  // has this SHA-256 (32 raw bytes).
  std::optional<std::string> expected_sha256;
  // Set: asked once, just before publishing; if it returns true (the call
  // was cancelled or its deadline passed), Commit fails with CANCELLED,
  // publishing nothing and leaving no temp file.
  std::function<bool()> abandon;
};

struct CommitResult {
  uint64_t size = 0;
  std::string sha256;  // 32 raw bytes
  std::string etag;
  bool created = false;
  // Size of the content the write replaced (0 if it created the file).
  uint64_t replaced_size = 0;
  // Never published: a newer write of the same target was, in its place
  // (set by CommitQueue; `etag` is then the newer version's).
  bool superseded = false;
};

// How a batch's new content is made durable before it is published.
enum class FlushStrategy {
  // fsync each temp file in turn.
  kFsyncEach,
  // One syncfs per filesystem for the whole batch (where the kernel reports
  // writeback errors through it; else as kFsyncEach). Flushes everything
  // dirty on that filesystem, not only the batch.
  kSyncfs,
  // syncfs for a filesystem with at least kAutoSyncfsMinimum files in the
  // batch, fsync for fewer.
  kAuto,
};
inline constexpr size_t kAutoSyncfsMinimum = 2;

// Content larger than this is flushed as it is written (write-behind) and
// once more when staging ends, so that a batch's flush does not wait for it.
inline constexpr uint64_t kWriteBehindBytes = 8 << 20;
// Windows of kWriteBehindBytes a large file may have in writeback or dirty.
inline constexpr uint64_t kWriteBehindDepth = 4;

class FileReplacer;
class SetReplacer;
class VersionedSetReplacer;

// New content on its way to a target: a temp file beside the target that
// collects data. Destroying a StagedFile that was not committed removes the
// temp file, so an abandoned write leaves nothing behind.
class StagedFile {
 public:
  ~StagedFile();
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;

  // Appends `data` to the temp file. Past kWriteBehindBytes the file's
  // earlier content is written back while more arrives.
  absl::Status Append(absl::string_view data);

  // The content is complete: flushes the data of a large file now (off the
  // commit path), and checks the digest. DATA_LOSS unless the content has
  // `expected_sha256` (32 raw bytes), if set. Call once, before Commit or
  // CommitQueue::Submit; appending afterwards is an error.
  absl::Status Seal(const std::optional<std::string>& expected_sha256);

  uint64_t size() const { return size_; }
  // SHA-256 of the content (32 raw bytes); only after Seal.
  const std::string& sha256() const { return sha256_; }
  const std::string& temp_name() const { return temp_name_; }

 private:
  friend class FileReplacer;
  friend class SetReplacer;
  friend class VersionedSetReplacer;
  StagedFile(FileSystem* fs, int dir_fd, std::string leaf,
             std::string temp_name, UniqueFd fd, uint64_t sequence);

  // Closes and unlinks the temp file unless it is no longer ours to remove
  // (published, or kept for the operator). The one cleanup path, used by
  // the destructor and by a failed commit.
  void Discard();

  FileSystem* const fs_;
  const int dir_fd_;
  const std::string leaf_;
  const std::string temp_name_;
  UniqueFd fd_;
  // Order of creation among this FileReplacer's staged files (the earliest
  // fd of a batch is the one whose syncfs reports every error since).
  const uint64_t sequence_;
  Sha256 hasher_;
  std::string sha256_;  // set by Seal
  bool sealed_ = false;
  uint64_t size_ = 0;
  uint64_t written_back_ = 0;  // bytes handed to WriteBehind
  bool needs_cleanup_ = true;
  bool failed_ = false;
};

// A staged file made ready to publish (FileReplacer::Prepare).
struct PreparedFile {
  // What Commit would answer if it published now.
  CommitResult result;
  // The temp file as written, seen through our own fd.
  FileInfo own;
  // The file it would replace (with its generation, so EtagOf works);
  // nullopt if it would create one.
  std::optional<FileInfo> existing;
};

// One write of a batch (FileReplacer::CommitBatch).
struct BatchEntry {
  StagedFile* staged = nullptr;
  const CommitOptions* options = nullptr;
  // The target's directory as (device, inode); entries that share one share
  // its fsync. Both 0: a directory of its own.
  uint64_t directory_device = 0;
  uint64_t directory_inode = 0;
  // Set by CommitBatch.
  absl::StatusOr<CommitResult> result = absl::UnknownError("not committed");
};

// The durable write protocol. For one target `leaf` in directory `dir_fd`:
//
//   1. Stage: create a temp file with a random name beside the target
//      (O_CREAT|O_EXCL|O_NOFOLLOW, so it can never collide with or follow
//      anything), append the content.
//   2. Commit: check the target (absent, or a regular file that may be
//      replaced, with the expected etag), verify the content's digest, set
//      mode and owner, give a replacement an mtime later than the old
//      file's (so consecutive versions never share an etag, even where the
//      filesystem reuses inode numbers and has no inode generation), fsync
//      the temp file, make good earlier failed directory fsyncs (see
//      DirectorySyncDebt), publish it (rename with RENAME_NOREPLACE for a
//      create-only write, RENAME_EXCHANGE for a replace so that the old
//      content can be restored), check that the inode now at the target is
//      the one written and fsynced through our own fd, fsync the directory,
//      then unlink the old content.
//
// The target is never opened or truncated; a hard link planted at it keeps
// its content. If any step fails before the directory fsync succeeded the
// write is rolled back: the target keeps its old content (or stays absent),
// the rollback is fsynced, and the temp file is removed by the time Commit
// returns. A failed fsync is never retried on the same file. If another
// process replaced the temp file before it was published, Commit undoes the
// publish and fails with ABORTED: content the daemon did not write is never
// acknowledged. Where the outcome cannot be known (a rollback or its fsync
// failed; a replace on a filesystem without RENAME_EXCHANGE whose directory
// fsync failed) Commit and Remove fail with UNKNOWN, saying what may be on
// disk; the old content is then possibly left under the temp name for the
// operator (the start-up sweep removes it later). A directory whose fsync
// failed without being made good is fsynced again, successfully, before any
// later Commit or Remove of this FileReplacer succeeds.
//
// The caller must keep `dir_fd` open for the lifetime of a StagedFile and
// must serialise commits of one target (see CommitQueue).
class FileReplacer {
 public:
  explicit FileReplacer(FileSystem* fs) : fs_(fs) {}

  absl::StatusOr<std::unique_ptr<StagedFile>> Stage(int dir_fd,
                                                    const std::string& leaf);

  // Publishes `staged` over its target. Call at most once per StagedFile.
  // Seals `staged` first if the caller has not.
  absl::StatusOr<CommitResult> Commit(StagedFile& staged,
                                      const CommitOptions& options);

  // Commits several staged files, each of a different target, as a group:
  // every entry goes through the steps above, but the data flushes of the
  // whole batch come before any publish (one syncfs per filesystem where
  // `flush` says so) and each directory is fsynced once after all its
  // publishes. Each entry's result is as Commit would have returned it: a
  // failure of a shared step fails every entry that depended on it, and
  // each failed entry is rolled back as Commit would. Every entry must
  // have been sealed. Old content displaced by a replace is removed when
  // its StagedFile is destroyed, so callers can answer first.
  void CommitBatch(absl::Span<BatchEntry> batch, FlushStrategy flush);

  // The steps of Commit before its flush, for callers that publish
  // themselves (SetReplacer): checks the target against `options` (create
  // or replace, if_absent, if_match, allow_overwrite), the content's digest,
  // and gives the temp file its mode, owner and an mtime later than the
  // file it replaces. Nothing is flushed or published; on error the temp
  // file stays for its owner to discard. `staged` must be sealed.
  absl::StatusOr<PreparedFile> Prepare(StagedFile& staged,
                                       const CommitOptions& options);
  // As Prepare, but the file the staged one replaces is its leaf in
  // `replaced_dir_fd` rather than beside it (the current version of a
  // versioned layout); -1: it replaces none.
  absl::StatusOr<PreparedFile> Prepare(StagedFile& staged,
                                       const CommitOptions& options,
                                       int replaced_dir_fd);

  // Makes good every earlier failed directory fsync (see
  // DirectorySyncDebt); nothing more may be published until it succeeds.
  absl::Status SettleSyncDebt() { return sync_debt_.Settle(*fs_); }

  // Fsyncs directory `dir_fd`. UNIMPLEMENTED (the filesystem cannot) is
  // logged once and counts as success. A success pays the directory's
  // entry in the sync debt, if any; a failure is only returned (the caller
  // decides whether it was made good, or records it with AddSyncDebt).
  absl::Status SyncDirectory(int dir_fd);
  void AddSyncDebt(int dir_fd) { sync_debt_.Add(*fs_, dir_fd); }

  // Stage + Append + Commit of a whole content in one call.
  absl::StatusOr<CommitResult> Write(int dir_fd, const std::string& leaf,
                                     absl::string_view data,
                                     const CommitOptions& options);

  // Durably removes the regular file `leaf` from `dir_fd`: renames it to a
  // temp name, fsyncs the directory (renaming it back if that fails), then
  // unlinks it. With a non-empty `if_match`, ABORTED unless the file has
  // that etag. Returns the removed file's etag.
  absl::StatusOr<std::string> Remove(int dir_fd, const std::string& leaf,
                                     const std::string& if_match);

  // The regular file at `leaf` as Commit and Remove see it: NOT_FOUND if
  // absent, FAILED_PRECONDITION for anything but a regular file,
  // PERMISSION_DENIED for a mount point, ABORTED for an etag other than a
  // non-empty `if_match`. Stat RPCs use it too, so all agree.
  absl::StatusOr<FileInfo> InspectTarget(int dir_fd, const std::string& leaf,
                                         const std::string& if_match = "");

 private:
  // InspectTarget, with the inode generation only if `need_etag` (or an
  // `if_match` is to be checked).
  absl::StatusOr<FileInfo> InspectTarget(int dir_fd, const std::string& leaf,
                                         const std::string& if_match,
                                         bool need_etag);

  // One commit in progress, handed from step to step.
  struct Publication;

  // The steps of Commit, in order; each returns the error that ends the
  // commit (the temp file is then discarded by Commit).
  // `need_etag`: read the target's inode generation too, so that
  // EtagOf(p.existing) is its etag.
  absl::Status DecideCreateOrReplace(Publication& p, bool need_etag = false);
  absl::Status VerifyContent(Publication& p);
  absl::Status PrepareTempFile(Publication& p);
  void FlushTempFiles(std::vector<Publication*>& live, FlushStrategy flush);
  absl::Status CheckStillWanted(Publication& p);
  absl::Status Publish(Publication& p);
  absl::Status VerifyPublished(Publication& p);
  void MakePublishesDurable(std::vector<Publication*>& directory);
  // The status of `p` after its directory's fsync failed with `sync_error`:
  // `undone` is how undoing its publish went, `resynced` how the fsync
  // after the undo went.
  absl::Status RolledBack(Publication& p, const absl::Status& sync_error,
                          const absl::Status& undone,
                          const absl::Status& resynced);

  // Sets the mtime of the file at `fd` to max(now, `old_mtime_ns` + 1ns),
  // growing the increment where the filesystem's timestamp granularity
  // swallows it, and returns the file's FileInfo afterwards.
  absl::StatusOr<FileInfo> StampNewerThan(int fd, int64_t old_mtime_ns);

  // Renames whatever is at `leaf` to a fresh temp name (never replacing
  // anything) and returns that name.
  absl::StatusOr<std::string> MoveAside(int dir_fd, const std::string& leaf);

  // Unlinks `aside`, formerly `leaf`; a failure is only logged (the entry
  // is off the target and the start-up sweep removes it).
  void UnlinkAside(int dir_fd, const std::string& aside,
                   const std::string& leaf);

  // Moves whatever is at `leaf` to a fresh temp name and unlinks it.
  absl::Status RemoveFromTarget(int dir_fd, const std::string& leaf);

  // Logs, once per filesystem, that `dir_fd`'s filesystem cannot fsync
  // directories (the write then rests on the filesystem's own ordering).
  void NoteDirectorySyncUnsupported(int dir_fd);

  FileSystem* const fs_;
  DirectorySyncDebt sync_debt_;
  std::atomic<uint64_t> next_sequence_{0};
  absl::Mutex mu_;
  absl::flat_hash_set<uint64_t> devices_without_directory_sync_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace durable

#endif  // DURABLED_SERVER_ENGINE_FILE_REPLACER_H_
