#ifndef DURABLED_TESTS_SUPPORT_POWER_LOSS_FILE_SYSTEM_H_
#define DURABLED_TESTS_SUPPORT_POWER_LOSS_FILE_SYSTEM_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/engine/file_system.h"
#include "tests/support/file_system_overrides.h"

namespace durable {

// An in-memory FileSystem for tests that knows, at every moment, what a
// power cut would keep, and can cut the power after any call.
//
// The model (what a crash keeps, and what it rests on):
//  - Every file, directory and symlink is an inode with a live state (what
//    calls see now) and a durable state (what survives a power cut).
//  - SyncFilesystem(fd) is syncfs(2): it makes every inode's current state
//    durable, as if each were fsynced (a failed one that persisted nothing
//    drops every file's dirty data, as a failed fsync does one file's).
//    WriteBehind (sync_file_range) makes nothing durable.
//  - SyncFile(fd) and SyncDirectory(fd) are both fsync(2): they make the
//    inode's current state durable. For a regular file that is its data,
//    size, permissions and owner; for a directory its entries (name ->
//    inode), so every creation (of a file, directory, symlink or link),
//    rename and unlink in it so far. Syncing a
//    directory does not sync the files it names, and syncing a file does not
//    make its name durable (POSIX promises neither; ext4's habit of
//    committing a new file's entry with its fsync is NOT assumed).
//  - Nothing else is durable: there is no implicit ordering (ext4
//    data=ordered and auto_da_alloc are NOT assumed; a rename does not
//    flush the renamed file's data). Worst case: nothing unsynced survives.
//  - A power cut reverts every inode to its durable state. Unsynced data of
//    a file reverts to its last synced content (empty for a file that was
//    never synced); with UnsyncedData::kZeroFilled its unsynced size change
//    survives but the unsynced bytes read as NULs instead (the classic
//    delayed-allocation / data=writeback outcome). Unsynced permission and
//    owner changes are lost. Every directory reverts to its last synced
//    entries, so unsynced creations, renames and unlinks are undone.
//  - A rename is atomic: it changes one directory's entries (the engine
//    only renames within a directory), and a directory's durable entries
//    are one snapshot, so after a crash both names refer to the old inodes
//    or both to the new ones, never neither nor both to one.
//  - A symlink holds its target, set when MakeSymlink creates it and never
//    changed, so it has no state of its own to sync: it is part of the
//    tree once an entry naming it is durable (its directory was synced),
//    like any entry.
//  - Link adds an entry naming an existing inode, possibly in another
//    directory than the first name's. The new entry is durable when that
//    directory is synced; it makes nothing of the file durable. So a file
//    linked into another directory survives a cut there only if that
//    directory was synced (with the link in it) AND the file's content was
//    synced (else it is there, empty). Unlinking one of two names leaves
//    the other.
//  - Synced state survives exactly: no media errors, no torn sectors, the
//    disk honours flushes (no volatile write cache that lies).
//  - The tree after a crash is what is reachable from the root through
//    durable entries (what fsck would keep); an unlinked inode keeps its
//    durable state for as long as a durable entry may still name it. Link
//    counts are not modelled beyond Stat's link_count (live entries).
//  - A failed fsync (FailNextSync) either persisted nothing or everything,
//    as the test chooses. One of a file that persisted nothing also drops
//    the file's dirty data for good, as Linux does (the pages are marked
//    clean): later fsyncs of that file report success but its durable
//    content stays as it was until the next crash. That is the "fsyncgate"
//    behaviour PostgreSQL ran into in 2018; an engine that retried a failed
//    fsync and then published would lose acknowledged data here.
//
// While the power is off (CutPowerAfterCalls ran out, or CutPower), every
// call fails with EIO and changes nothing: the machine is gone, and nothing
// the engine still does reaches the disk. Recover() is the reboot: it
// applies the model, turns the power back on and invalidates every fd
// opened before (EBADF).
//
// Handles: each fd handed out is a real memfd (so UniqueFd may close it and
// fcntl may duplicate it); the memfd's inode number identifies the handle.
// Timestamps are a logical clock that ticks on every change.
//
// All methods are thread-safe; each call runs under one lock. The hooks run
// outside the lock, before and after every FileSystem call (also while the
// power is off), with a description of the call such as
// "Rename(.durabled-tmp.0123 -> target, exchange)".
class PowerLossFileSystem : public FileSystem {
 public:
  enum class UnsyncedData {
    kLost,        // a file's unsynced changes vanish
    kZeroFilled,  // its unsynced size survives, its unsynced bytes are NULs
  };

  // kFilesystem: SyncFilesystem (syncfs).
  enum class SyncKind { kFile, kDirectory, kFilesystem, kAny };

  using Hook = std::function<void(const std::string& call)>;

  // The device number Stat reports for every inode.
  static constexpr uint64_t kDevice = 0xfe01;

  PowerLossFileSystem();
  ~PowerLossFileSystem() override;
  PowerLossFileSystem(const PowerLossFileSystem&) = delete;
  PowerLossFileSystem& operator=(const PowerLossFileSystem&) = delete;

  // --- Set-up and inspection by the test (not counted as calls) ---------

  // A new fd for the root directory.
  UniqueFd OpenRoot();
  // From now on the real directory open at `real_fd` (for example the
  // O_PATH handle RootDirectories holds for a rule's root) stands for the
  // root directory, at every boot, so code that opens its roots itself can
  // run on this model.
  void MapRealDirectoryToRoot(int real_fd);
  // Creates directory `path` ("a/b", relative to the root; parents must
  // exist) and file `path` with `content`, both fully durable.
  absl::Status PlantDirectory(const std::string& path, mode_t permissions);
  absl::Status PlantFile(const std::string& path, absl::string_view content,
                         mode_t permissions);
  // Symlink `path` holding `target`, fully durable (its entry too).
  absl::Status PlantSymlink(const std::string& path, const std::string& target);
  // The live content of regular file `path`; nullopt if there is no entry,
  // "<directory>" for a directory, "<symlink>" for a symlink (ReadLink
  // tells its target). Symlinks are never followed, here or anywhere.
  std::optional<std::string> ReadFile(const std::string& path) const;
  // The target of symlink `path`; nullopt if there is no entry or it is
  // not a symlink.
  std::optional<std::string> ReadLink(const std::string& path) const;
  // The live permission bits, owner of `path`; nullopt if absent.
  std::optional<FileInfo> StatPath(const std::string& path) const;
  // Live names in directory `path`, sorted.
  std::vector<std::string> List(const std::string& path) const;
  // Every live path beneath the root ("a", "a/b", ...), sorted; symlinks
  // are listed, not followed.
  std::vector<std::string> Walk() const;

  // --- Power ---------------------------------------------------------------

  // The next `calls` calls take effect; the power fails before the one after
  // them. 0: the very next call finds the power off.
  void CutPowerAfterCalls(int calls);
  void CutPower();
  bool power_on() const;
  // Reboot: every inode reverts to its durable state (see the model), fds
  // opened before become invalid, the power is on, no cut is armed and no
  // sync failure is pending.
  void Recover(UnsyncedData unsynced = UnsyncedData::kLost);

  // --- Options and faults --------------------------------------------------

  // Without it, Rename(kExchange) fails with EINVAL (INVALID_ARGUMENT).
  void set_rename_exchange_supported(bool supported);
  // Without it, SyncDirectory fails with UNIMPLEMENTED and syncs nothing.
  void set_directory_sync_supported(bool supported);
  // The `skip`+1-th sync of `kind` from now fails with EIO. If `persisted`,
  // it made the inode durable all the same; if not, it made nothing durable
  // and (for a file) the data pending at that moment can never become
  // durable.
  void FailNextSync(SyncKind kind, bool persisted, int skip = 0);

  // --- Call log ---------------------------------------------------------

  // Descriptions of the FileSystem calls made, in order (also the failed
  // ones and those made while the power was off).
  std::vector<std::string> CallLog() const;
  void ClearCallLog();
  void SetHooks(Hook before, Hook after);

  // --- FileSystem -----------------------------------------------------------
  DURABLE_FILE_SYSTEM_OVERRIDES;

 private:
  enum class Kind { kRegular, kDirectory, kSymlink };
  struct InodeState {
    std::string content;                      // regular files
    std::map<std::string, uint64_t> entries;  // directories
    mode_t permissions = 0;
    uid_t uid = 0;
    gid_t gid = 0;
  };
  struct Inode {
    Kind kind = Kind::kRegular;
    bool is_directory() const { return kind == Kind::kDirectory; }
    bool is_regular() const { return kind == Kind::kRegular; }
    bool is_symlink() const { return kind == Kind::kSymlink; }
    // A symlink's target: set at creation, never changed, so never lost.
    std::string target;
    InodeState live;
    InodeState durable;
    int64_t mtime_ns = 0;
    // A failed, unpersisted fsync dropped the dirty data: syncs of this
    // file keep `durable` as it is.
    bool writeback_lost = false;
  };
  struct Handle {
    uint64_t inode = 0;
    uint64_t boot = 0;
  };
  struct SyncFault {
    SyncKind kind;
    bool persisted;
    int skip;
  };

  // Runs `body` as one call named `description`: hooks, log, power check.
  template <typename Body>
  auto Run(std::string description, Body body);
  // Whether the power is on for the call now beginning; counts it.
  bool BeginCall(const std::string& description)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::StatusOr<UniqueFd> NewHandle(uint64_t inode)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The inode `fd` refers to; EBADF unless it is a handle of this boot.
  absl::StatusOr<uint64_t> InodeOf(int fd) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<uint64_t> DirectoryOf(int fd) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<uint64_t> FileOf(int fd) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t NewInode(Kind kind, mode_t permissions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // PlantDirectory, PlantFile and PlantSymlink (`content` is a file's
  // content, a symlink's target, unused for a directory).
  absl::Status Plant(const std::string& path, Kind kind,
                     absl::string_view content, mode_t permissions)
      ABSL_LOCKS_EXCLUDED(mu_);
  FileInfo InfoOf(uint64_t inode) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t LinkCount(uint64_t inode) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The inode at `path` in the live tree, if any.
  std::optional<uint64_t> Lookup(const std::string& path) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Sync(uint64_t inode, SyncKind kind)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The injected outcome of the sync of `kind` now beginning: nullopt if it
  // succeeds, else whether it persisted all the same.
  std::optional<bool> TakeSyncFault(SyncKind kind)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A sync of `inode` that persisted (or not).
  void SyncOutcome(Inode& inode, bool persisted)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Touch(uint64_t inode) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<uint64_t, Inode> inodes_ ABSL_GUARDED_BY(mu_);
  uint64_t next_inode_ ABSL_GUARDED_BY(mu_) = 2;
  int64_t clock_ ABSL_GUARDED_BY(mu_) = 1;
  // Open handles by the inode number of their memfd.
  std::map<uint64_t, Handle> handles_ ABSL_GUARDED_BY(mu_);
  uint64_t memfd_device_ ABSL_GUARDED_BY(mu_) = 0;
  // (device, inode) of real directories that stand for the root.
  std::vector<std::pair<uint64_t, uint64_t>> real_roots_ ABSL_GUARDED_BY(mu_);
  uint64_t boot_ ABSL_GUARDED_BY(mu_) = 1;
  bool power_on_ ABSL_GUARDED_BY(mu_) = true;
  std::optional<int> calls_until_cut_ ABSL_GUARDED_BY(mu_);
  bool rename_exchange_supported_ ABSL_GUARDED_BY(mu_) = true;
  bool directory_sync_supported_ ABSL_GUARDED_BY(mu_) = true;
  std::vector<SyncFault> sync_faults_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> log_ ABSL_GUARDED_BY(mu_);
  Hook before_ ABSL_GUARDED_BY(mu_);
  Hook after_ ABSL_GUARDED_BY(mu_);
};

// "lost" or "zero-filled", for test names and messages.
std::ostream& operator<<(std::ostream& out,
                         PowerLossFileSystem::UnsyncedData unsynced);

}  // namespace durable

#endif  // DURABLED_TESTS_SUPPORT_POWER_LOSS_FILE_SYSTEM_H_
