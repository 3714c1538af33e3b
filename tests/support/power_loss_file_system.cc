#include "tests/support/power_loss_file_system.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "server/base/errno_status.h"

namespace durable {
namespace {

constexpr uint64_t kRootInode = 1;

const char* RenameModeName(RenameMode mode) {
  switch (mode) {
    case RenameMode::kReplace:
      return "replace";
    case RenameMode::kNoReplace:
      return "noreplace";
    case RenameMode::kExchange:
      return "exchange";
  }
  return "?";
}

std::vector<std::string> Components(const std::string& path) {
  std::vector<std::string> components;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part != ".") components.emplace_back(part);
  }
  return components;
}

// readlink's EINVAL ("not a symlink") as PosixFileSystem reports it:
// FAILED_PRECONDITION, with the errno.
absl::Status NotASymlink(const std::string& what) {
  const absl::Status error =
      SyscallError(EINVAL, absl::StrCat(what, ": not a symlink"));
  absl::Status status(absl::StatusCode::kFailedPrecondition, error.message());
  error.ForEachPayload(
      [&](absl::string_view type_url, const absl::Cord& payload) {
        status.SetPayload(type_url, payload);
      });
  return status;
}

// Splits "a/b/c" into ("a/b", "c").
std::pair<std::string, std::string> SplitParent(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

}  // namespace

PowerLossFileSystem::PowerLossFileSystem() {
  absl::MutexLock lock(&mu_);
  Inode root;
  root.kind = Kind::kDirectory;
  root.live.permissions = 0755;
  root.live.uid = geteuid();
  root.live.gid = getegid();
  root.durable = root.live;
  inodes_[kRootInode] = std::move(root);
}

PowerLossFileSystem::~PowerLossFileSystem() = default;

// --- Handles -----------------------------------------------------------------

absl::StatusOr<UniqueFd> PowerLossFileSystem::NewHandle(uint64_t inode) {
  UniqueFd fd(memfd_create("power-loss-fs-handle", MFD_CLOEXEC));
  if (!fd.valid()) return SyscallError(errno, "memfd_create");
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return SyscallError(errno, "fstat(memfd)");
  memfd_device_ = st.st_dev;
  // A closed handle's memfd inode number may be reused; the new handle
  // takes the slot.
  handles_[st.st_ino] = Handle{inode, boot_};
  return fd;
}

absl::StatusOr<uint64_t> PowerLossFileSystem::InodeOf(int fd) const {
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    return SyscallError(EBADF, absl::StrCat("fd ", fd));
  }
  for (const auto& [device, inode] : real_roots_) {
    if (st.st_dev == device && st.st_ino == inode) return kRootInode;
  }
  if (st.st_dev != memfd_device_) {
    return SyscallError(EBADF, absl::StrCat("fd ", fd));
  }
  auto it = handles_.find(st.st_ino);
  if (it == handles_.end() || it->second.boot != boot_) {
    return SyscallError(EBADF, absl::StrCat("fd ", fd,
                                            " (opened before the "
                                            "power cut)"));
  }
  return it->second.inode;
}

absl::StatusOr<uint64_t> PowerLossFileSystem::DirectoryOf(int fd) const {
  absl::StatusOr<uint64_t> inode = InodeOf(fd);
  if (!inode.ok()) return inode;
  if (!inodes_.at(*inode).is_directory()) {
    return SyscallError(ENOTDIR, absl::StrCat("fd ", fd));
  }
  return inode;
}

absl::StatusOr<uint64_t> PowerLossFileSystem::FileOf(int fd) const {
  absl::StatusOr<uint64_t> inode = InodeOf(fd);
  if (!inode.ok()) return inode;
  if (inodes_.at(*inode).is_directory()) {
    return SyscallError(EISDIR, absl::StrCat("fd ", fd));
  }
  return inode;
}

// --- Inodes ------------------------------------------------------------------

uint64_t PowerLossFileSystem::NewInode(Kind kind, mode_t permissions) {
  const uint64_t id = next_inode_++;
  Inode inode;
  inode.kind = kind;
  inode.live.permissions = permissions & 07777;
  inode.live.uid = geteuid();
  inode.live.gid = getegid();
  // Never synced: a crash leaves it empty (if anything names it durably).
  inode.durable = inode.live;
  inode.mtime_ns = clock_++;
  inodes_[id] = std::move(inode);
  return id;
}

void PowerLossFileSystem::Touch(uint64_t inode) {
  inodes_.at(inode).mtime_ns = clock_++;
}

uint64_t PowerLossFileSystem::LinkCount(uint64_t inode) const {
  uint64_t links = 0;
  for (const auto& [id, candidate] : inodes_) {
    if (!candidate.is_directory()) continue;
    for (const auto& [name, child] : candidate.live.entries) {
      links += child == inode;
    }
  }
  return links;
}

FileInfo PowerLossFileSystem::InfoOf(uint64_t id) const {
  const Inode& inode = inodes_.at(id);
  FileInfo info;
  info.device = kDevice;
  info.inode = id;
  switch (inode.kind) {
    case Kind::kRegular:
      info.mode = S_IFREG | inode.live.permissions;
      info.size = inode.live.content.size();
      break;
    case Kind::kDirectory:
      info.mode = S_IFDIR | inode.live.permissions;
      info.size = inode.live.entries.size();
      break;
    case Kind::kSymlink:
      // As lstat on Linux: a symlink's size is its target's length.
      info.mode = S_IFLNK | inode.live.permissions;
      info.size = inode.target.size();
      break;
  }
  info.uid = inode.live.uid;
  info.gid = inode.live.gid;
  info.mtime_ns = inode.mtime_ns;
  info.link_count = LinkCount(id);
  return info;
}

std::optional<uint64_t> PowerLossFileSystem::Lookup(
    const std::string& path) const {
  uint64_t current = kRootInode;
  for (const std::string& component : Components(path)) {
    const Inode& dir = inodes_.at(current);
    if (!dir.is_directory()) return std::nullopt;
    auto it = dir.live.entries.find(component);
    if (it == dir.live.entries.end()) return std::nullopt;
    current = it->second;
  }
  return current;
}

std::optional<bool> PowerLossFileSystem::TakeSyncFault(SyncKind kind) {
  for (auto it = sync_faults_.begin(); it != sync_faults_.end(); ++it) {
    if (it->kind != SyncKind::kAny && it->kind != kind) continue;
    if (it->skip > 0) {
      --it->skip;
      continue;
    }
    const bool persisted = it->persisted;
    sync_faults_.erase(it);
    return persisted;
  }
  return std::nullopt;
}

void PowerLossFileSystem::SyncOutcome(Inode& inode, bool persisted) {
  if (persisted) {
    const std::string kept_content = inode.durable.content;
    inode.durable = inode.live;
    if (inode.writeback_lost) inode.durable.content = kept_content;
  } else if (inode.is_regular()) {
    inode.writeback_lost = true;
  }
}

absl::Status PowerLossFileSystem::Sync(uint64_t id, SyncKind kind) {
  const std::optional<bool> failed_persisted = TakeSyncFault(kind);
  SyncOutcome(inodes_.at(id), failed_persisted.value_or(true));
  if (failed_persisted.has_value()) {
    return SyscallError(
        EIO, kind == SyncKind::kDirectory ? "fsync(directory)" : "fsync");
  }
  return absl::OkStatus();
}

// --- Set-up and inspection ---------------------------------------------------

UniqueFd PowerLossFileSystem::OpenRoot() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<UniqueFd> fd = NewHandle(kRootInode);
  if (!fd.ok()) return UniqueFd();
  return *std::move(fd);
}

void PowerLossFileSystem::MapRealDirectoryToRoot(int real_fd) {
  absl::MutexLock lock(&mu_);
  struct stat st;
  if (fstat(real_fd, &st) == 0) real_roots_.push_back({st.st_dev, st.st_ino});
}

absl::Status PowerLossFileSystem::PlantDirectory(const std::string& path,
                                                 mode_t permissions) {
  return Plant(path, Kind::kDirectory, "", permissions);
}

absl::Status PowerLossFileSystem::PlantFile(const std::string& path,
                                            absl::string_view content,
                                            mode_t permissions) {
  return Plant(path, Kind::kRegular, content, permissions);
}

absl::Status PowerLossFileSystem::PlantSymlink(const std::string& path,
                                               const std::string& target) {
  return Plant(path, Kind::kSymlink, target, 0777);
}

absl::Status PowerLossFileSystem::Plant(const std::string& path, Kind kind,
                                        absl::string_view content,
                                        mode_t permissions) {
  absl::MutexLock lock(&mu_);
  auto [parent_path, name] = SplitParent(path);
  std::optional<uint64_t> parent = Lookup(parent_path);
  if (!parent.has_value() || !inodes_.at(*parent).is_directory()) {
    return absl::NotFoundError(absl::StrCat("no directory ", parent_path));
  }
  if (inodes_.at(*parent).live.entries.count(name) > 0) {
    return absl::AlreadyExistsError(path);
  }
  const uint64_t id = NewInode(kind, permissions);
  if (kind == Kind::kRegular) {
    Inode& file = inodes_.at(id);
    file.live.content = std::string(content);
    file.durable = file.live;
  } else if (kind == Kind::kSymlink) {
    inodes_.at(id).target = std::string(content);
  }
  Inode& dir = inodes_.at(*parent);
  dir.live.entries[name] = id;
  dir.durable.entries[name] = id;
  return absl::OkStatus();
}

std::optional<std::string> PowerLossFileSystem::ReadFile(
    const std::string& path) const {
  absl::MutexLock lock(&mu_);
  std::optional<uint64_t> id = Lookup(path);
  if (!id.has_value()) return std::nullopt;
  const Inode& inode = inodes_.at(*id);
  if (inode.is_directory()) return "<directory>";
  if (inode.is_symlink()) return "<symlink>";
  return inode.live.content;
}

std::optional<std::string> PowerLossFileSystem::ReadLink(
    const std::string& path) const {
  absl::MutexLock lock(&mu_);
  std::optional<uint64_t> id = Lookup(path);
  if (!id.has_value() || !inodes_.at(*id).is_symlink()) return std::nullopt;
  return inodes_.at(*id).target;
}

std::optional<FileInfo> PowerLossFileSystem::StatPath(
    const std::string& path) const {
  absl::MutexLock lock(&mu_);
  std::optional<uint64_t> id = Lookup(path);
  if (!id.has_value()) return std::nullopt;
  return InfoOf(*id);
}

std::vector<std::string> PowerLossFileSystem::List(
    const std::string& path) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> names;
  std::optional<uint64_t> id = Lookup(path);
  if (!id.has_value() || !inodes_.at(*id).is_directory()) return names;
  for (const auto& [name, child] : inodes_.at(*id).live.entries) {
    names.push_back(name);
  }
  return names;
}

std::vector<std::string> PowerLossFileSystem::Walk() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> paths;
  std::vector<std::pair<std::string, uint64_t>> pending = {{"", kRootInode}};
  while (!pending.empty()) {
    auto [prefix, id] = pending.back();
    pending.pop_back();
    for (const auto& [name, child] : inodes_.at(id).live.entries) {
      std::string path =
          prefix.empty() ? name : absl::StrCat(prefix, "/", name);
      paths.push_back(path);
      if (inodes_.at(child).is_directory()) pending.push_back({path, child});
    }
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

// --- Power -------------------------------------------------------------------

void PowerLossFileSystem::CutPowerAfterCalls(int calls) {
  absl::MutexLock lock(&mu_);
  calls_until_cut_ = calls;
}

void PowerLossFileSystem::CutPower() {
  absl::MutexLock lock(&mu_);
  power_on_ = false;
  calls_until_cut_.reset();
}

bool PowerLossFileSystem::power_on() const {
  absl::MutexLock lock(&mu_);
  return power_on_;
}

void PowerLossFileSystem::Recover(UnsyncedData unsynced) {
  absl::MutexLock lock(&mu_);
  for (auto& [id, inode] : inodes_) {
    std::string content = inode.live.content;
    inode.live = inode.durable;
    if (inode.is_regular() && unsynced == UnsyncedData::kZeroFilled &&
        content != inode.durable.content) {
      // The size made it to disk, the data did not.
      std::string zeroed(content.size(), '\0');
      const std::string& kept = inode.durable.content;
      for (size_t i = 0; i < zeroed.size() && i < kept.size(); ++i) {
        if (kept[i] == content[i]) zeroed[i] = kept[i];
      }
      inode.live.content = std::move(zeroed);
      inode.durable.content = inode.live.content;
    }
    inode.writeback_lost = false;
  }
  ++boot_;
  power_on_ = true;
  calls_until_cut_.reset();
  sync_faults_.clear();
}

// --- Options, faults, log ----------------------------------------------------

void PowerLossFileSystem::set_rename_exchange_supported(bool supported) {
  absl::MutexLock lock(&mu_);
  rename_exchange_supported_ = supported;
}

void PowerLossFileSystem::set_directory_sync_supported(bool supported) {
  absl::MutexLock lock(&mu_);
  directory_sync_supported_ = supported;
}

void PowerLossFileSystem::FailNextSync(SyncKind kind, bool persisted,
                                       int skip) {
  absl::MutexLock lock(&mu_);
  sync_faults_.push_back(SyncFault{kind, persisted, skip});
}

std::vector<std::string> PowerLossFileSystem::CallLog() const {
  absl::MutexLock lock(&mu_);
  return log_;
}

void PowerLossFileSystem::ClearCallLog() {
  absl::MutexLock lock(&mu_);
  log_.clear();
}

void PowerLossFileSystem::SetHooks(Hook before, Hook after) {
  absl::MutexLock lock(&mu_);
  before_ = std::move(before);
  after_ = std::move(after);
}

bool PowerLossFileSystem::BeginCall(const std::string& description) {
  log_.push_back(description);
  if (!power_on_) return false;
  if (calls_until_cut_.has_value()) {
    if (*calls_until_cut_ == 0) {
      power_on_ = false;
      calls_until_cut_.reset();
      return false;
    }
    --*calls_until_cut_;
  }
  return true;
}

template <typename Body>
auto PowerLossFileSystem::Run(std::string description, Body body) {
  Hook before;
  Hook after;
  {
    absl::MutexLock lock(&mu_);
    before = before_;
    after = after_;
  }
  if (before) before(description);
  using Result = decltype(body());
  std::optional<Result> result;
  {
    absl::MutexLock lock(&mu_);
    if (BeginCall(description)) {
      result.emplace(body());
    } else {
      result.emplace(
          SyscallError(EIO, absl::StrCat(description, ": the power is off")));
    }
  }
  if (after) after(description);
  return std::move(*result);
}

// --- FileSystem --------------------------------------------------------------

absl::StatusOr<UniqueFd> PowerLossFileSystem::OpenDirectoryBeneath(
    int root_fd, const std::string& relative_path) {
  return Run(absl::StrCat("OpenDirectoryBeneath(", relative_path, ")"),
             [&]() -> absl::StatusOr<UniqueFd> {
               const std::string what =
                   absl::StrCat("openat2(", relative_path, ")");
               absl::StatusOr<uint64_t> current = DirectoryOf(root_fd);
               if (!current.ok()) return current.status();
               for (const std::string& component : Components(relative_path)) {
                 if (component == "..") return SyscallError(EXDEV, what);
                 const Inode& dir = inodes_.at(*current);
                 auto it = dir.live.entries.find(component);
                 if (it == dir.live.entries.end()) {
                   return SyscallError(ENOENT, what);
                 }
                 const Inode& child = inodes_.at(it->second);
                 // As openat2 with RESOLVE_NO_SYMLINKS: ELOOP for a
                 // symlink, wherever in the path.
                 if (child.is_symlink()) return SyscallError(ELOOP, what);
                 if (!child.is_directory()) {
                   return SyscallError(ENOTDIR, what);
                 }
                 *current = it->second;
               }
               return NewHandle(*current);
             });
}

absl::StatusOr<UniqueFd> PowerLossFileSystem::CreateExclusive(
    int dir_fd, const std::string& name) {
  return Run(absl::StrCat("CreateExclusive(", name, ")"),
             [&]() -> absl::StatusOr<UniqueFd> {
               absl::StatusOr<uint64_t> dir = DirectoryOf(dir_fd);
               if (!dir.ok()) return dir.status();
               if (inodes_.at(*dir).live.entries.count(name) > 0) {
                 return SyscallError(EEXIST,
                                     absl::StrCat("create(", name, ")"));
               }
               const uint64_t id = NewInode(Kind::kRegular, 0600);
               inodes_.at(*dir).live.entries[name] = id;
               Touch(*dir);
               return NewHandle(id);
             });
}

absl::Status PowerLossFileSystem::Append(int fd, absl::string_view data) {
  return Run(absl::StrCat("Append(", data.size(), " bytes)"),
             [&]() -> absl::Status {
               absl::StatusOr<uint64_t> file = FileOf(fd);
               if (!file.ok()) return file.status();
               inodes_.at(*file).live.content.append(data.data(), data.size());
               Touch(*file);
               return absl::OkStatus();
             });
}

absl::Status PowerLossFileSystem::SetPermissions(int fd, mode_t permissions) {
  return Run(absl::StrFormat("SetPermissions(0%o)", permissions),
             [&]() -> absl::Status {
               absl::StatusOr<uint64_t> inode = InodeOf(fd);
               if (!inode.ok()) return inode.status();
               inodes_.at(*inode).live.permissions = permissions & 07777;
               return absl::OkStatus();
             });
}

absl::Status PowerLossFileSystem::SetModificationTime(int fd,
                                                      int64_t mtime_ns) {
  // The value is left out: it derives from the wall clock, and replays of
  // a scenario must describe their calls alike.
  return Run("SetModificationTime", [&]() -> absl::Status {
    absl::StatusOr<uint64_t> inode = InodeOf(fd);
    if (!inode.ok()) return inode.status();
    inodes_.at(*inode).mtime_ns = mtime_ns;
    return absl::OkStatus();
  });
}

absl::Status PowerLossFileSystem::SetOwner(int fd, uid_t uid, gid_t gid) {
  return Run(absl::StrCat("SetOwner(", uid, ":", gid, ")"),
             [&]() -> absl::Status {
               absl::StatusOr<uint64_t> inode = InodeOf(fd);
               if (!inode.ok()) return inode.status();
               inodes_.at(*inode).live.uid = uid;
               inodes_.at(*inode).live.gid = gid;
               return absl::OkStatus();
             });
}

absl::Status PowerLossFileSystem::SyncFile(int fd) {
  return Run("SyncFile", [&]() -> absl::Status {
    absl::StatusOr<uint64_t> inode = InodeOf(fd);
    if (!inode.ok()) return inode.status();
    return Sync(*inode, inodes_.at(*inode).is_directory() ? SyncKind::kDirectory
                                                          : SyncKind::kFile);
  });
}

absl::Status PowerLossFileSystem::SyncFilesystem(int fd) {
  return Run("SyncFilesystem", [&]() -> absl::Status {
    absl::StatusOr<uint64_t> inode = InodeOf(fd);
    if (!inode.ok()) return inode.status();
    const std::optional<bool> failed_persisted =
        TakeSyncFault(SyncKind::kFilesystem);
    for (auto& [id, each] : inodes_) {
      SyncOutcome(each, failed_persisted.value_or(true));
    }
    if (failed_persisted.has_value()) return SyscallError(EIO, "syncfs");
    return absl::OkStatus();
  });
}

absl::Status PowerLossFileSystem::WriteBehind(int fd, uint64_t /*offset*/,
                                              uint64_t /*length*/,
                                              bool /*wait*/) {
  return Run("WriteBehind", [&]() -> absl::Status {
    absl::StatusOr<uint64_t> inode = FileOf(fd);
    return inode.ok() ? absl::OkStatus() : inode.status();
  });
}

absl::StatusOr<FileInfo> PowerLossFileSystem::Stat(int fd) {
  return Run("Stat", [&]() -> absl::StatusOr<FileInfo> {
    absl::StatusOr<uint64_t> inode = InodeOf(fd);
    if (!inode.ok()) return inode.status();
    return InfoOf(*inode);
  });
}

// The model has no inode generations: a look-up is a StatAt.
absl::StatusOr<FileInfo> PowerLossFileSystem::LookUp(int dir_fd,
                                                     const std::string& name) {
  return StatAt(dir_fd, name);
}

absl::StatusOr<FileInfo> PowerLossFileSystem::StatAt(int dir_fd,
                                                     const std::string& name) {
  return Run(absl::StrCat("StatAt(", name, ")"),
             [&]() -> absl::StatusOr<FileInfo> {
               absl::StatusOr<uint64_t> dir = DirectoryOf(dir_fd);
               if (!dir.ok()) return dir.status();
               const auto& entries = inodes_.at(*dir).live.entries;
               auto it = entries.find(name);
               if (it == entries.end()) {
                 return SyscallError(ENOENT, absl::StrCat("stat(", name, ")"));
               }
               return InfoOf(it->second);
             });
}

absl::Status PowerLossFileSystem::MakeDirectory(int dir_fd,
                                                const std::string& name) {
  return Run(absl::StrCat("MakeDirectory(", name, ")"), [&]() -> absl::Status {
    absl::StatusOr<uint64_t> dir = DirectoryOf(dir_fd);
    if (!dir.ok()) return dir.status();
    if (inodes_.at(*dir).live.entries.count(name) > 0) {
      return SyscallError(EEXIST, absl::StrCat("mkdir(", name, ")"));
    }
    const uint64_t id = NewInode(Kind::kDirectory, 0700);
    inodes_.at(*dir).live.entries[name] = id;
    Touch(*dir);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::string> PowerLossFileSystem::ReadFileAt(
    int dir_fd, const std::string& name, size_t max_bytes) {
  return Run(absl::StrCat("ReadFileAt(", name, ")"),
             [&]() -> absl::StatusOr<std::string> {
               const std::string what = absl::StrCat("read(", name, ")");
               absl::StatusOr<uint64_t> dir = DirectoryOf(dir_fd);
               if (!dir.ok()) return dir.status();
               const auto& entries = inodes_.at(*dir).live.entries;
               auto it = entries.find(name);
               if (it == entries.end()) return SyscallError(ENOENT, what);
               const Inode& file = inodes_.at(it->second);
               if (!file.is_regular()) {
                 return absl::FailedPreconditionError(
                     absl::StrCat(what, ": not a regular file"));
               }
               if (file.live.content.size() > max_bytes) {
                 return absl::ResourceExhaustedError(
                     absl::StrCat(what, ": more than ", max_bytes, " bytes"));
               }
               return file.live.content;
             });
}

absl::StatusOr<std::vector<DirectoryEntry>> PowerLossFileSystem::ListDirectory(
    int dir_fd) {
  return Run("ListDirectory",
             [&]() -> absl::StatusOr<std::vector<DirectoryEntry>> {
               absl::StatusOr<uint64_t> dir = DirectoryOf(dir_fd);
               if (!dir.ok()) return dir.status();
               std::vector<DirectoryEntry> listing;
               for (const auto& [name, child] : inodes_.at(*dir).live.entries) {
                 DirectoryEntry entry;
                 entry.name = name;
                 entry.is_directory = inodes_.at(child).is_directory();
                 entry.is_regular = inodes_.at(child).is_regular();
                 listing.push_back(std::move(entry));
               }
               return listing;
             });
}

absl::Status PowerLossFileSystem::RemoveDirectory(int dir_fd,
                                                  const std::string& name) {
  return Run(absl::StrCat("RemoveDirectory(", name, ")"),
             [&]() -> absl::Status {
               const std::string what = absl::StrCat("rmdir(", name, ")");
               absl::StatusOr<uint64_t> dir = DirectoryOf(dir_fd);
               if (!dir.ok()) return dir.status();
               auto& entries = inodes_.at(*dir).live.entries;
               auto it = entries.find(name);
               if (it == entries.end()) return SyscallError(ENOENT, what);
               const Inode& child = inodes_.at(it->second);
               if (!child.is_directory()) return SyscallError(ENOTDIR, what);
               if (!child.live.entries.empty()) {
                 return SyscallError(ENOTEMPTY, what);
               }
               entries.erase(it);
               Touch(*dir);
               return absl::OkStatus();
             });
}

absl::Status PowerLossFileSystem::Rename(int dir_fd, const std::string& from,
                                         const std::string& to,
                                         RenameMode mode) {
  return Run(
      absl::StrCat("Rename(", from, " -> ", to, ", ", RenameModeName(mode),
                   ")"),
      [&]() -> absl::Status {
        const std::string what = absl::StrCat("rename(", from, " -> ", to, ")");
        absl::StatusOr<uint64_t> dir = DirectoryOf(dir_fd);
        if (!dir.ok()) return dir.status();
        if (mode == RenameMode::kExchange && !rename_exchange_supported_) {
          return SyscallError(EINVAL, what);
        }
        auto& entries = inodes_.at(*dir).live.entries;
        auto source = entries.find(from);
        if (source == entries.end()) return SyscallError(ENOENT, what);
        auto destination = entries.find(to);
        if (mode == RenameMode::kExchange) {
          if (destination == entries.end()) return SyscallError(ENOENT, what);
          std::swap(source->second, destination->second);
          Touch(*dir);
          return absl::OkStatus();
        }
        if (destination != entries.end()) {
          if (mode == RenameMode::kNoReplace) {
            return SyscallError(EEXIST, what);
          }
          if (from == to) return absl::OkStatus();
          const Inode& moved = inodes_.at(source->second);
          const Inode& replaced = inodes_.at(destination->second);
          if (moved.is_directory() && !replaced.is_directory()) {
            return SyscallError(ENOTDIR, what);
          }
          if (!moved.is_directory() && replaced.is_directory()) {
            return SyscallError(EISDIR, what);
          }
          if (replaced.is_directory() && !replaced.live.entries.empty()) {
            return SyscallError(ENOTEMPTY, what);
          }
        }
        const uint64_t inode = source->second;
        entries.erase(source);
        entries[to] = inode;
        Touch(*dir);
        return absl::OkStatus();
      });
}

absl::Status PowerLossFileSystem::SyncDirectory(int dir_fd) {
  return Run("SyncDirectory", [&]() -> absl::Status {
    absl::StatusOr<uint64_t> dir = DirectoryOf(dir_fd);
    if (!dir.ok()) return dir.status();
    if (!directory_sync_supported_) {
      return absl::UnimplementedError(
          "fsync of a directory is not supported by this filesystem");
    }
    return Sync(*dir, SyncKind::kDirectory);
  });
}

absl::Status PowerLossFileSystem::Unlink(int dir_fd, const std::string& name) {
  return Run(absl::StrCat("Unlink(", name, ")"), [&]() -> absl::Status {
    const std::string what = absl::StrCat("unlink(", name, ")");
    absl::StatusOr<uint64_t> dir = DirectoryOf(dir_fd);
    if (!dir.ok()) return dir.status();
    auto& entries = inodes_.at(*dir).live.entries;
    auto it = entries.find(name);
    if (it == entries.end()) return SyscallError(ENOENT, what);
    if (inodes_.at(it->second).is_directory()) {
      return SyscallError(EISDIR, what);
    }
    entries.erase(it);
    Touch(*dir);
    return absl::OkStatus();
  });
}

absl::Status PowerLossFileSystem::Link(int from_dir_fd, const std::string& from,
                                       int to_dir_fd, const std::string& to) {
  return Run(
      absl::StrCat("Link(", from, " -> ", to, ")"), [&]() -> absl::Status {
        const std::string what = absl::StrCat("link(", from, " -> ", to, ")");
        absl::StatusOr<uint64_t> from_dir = DirectoryOf(from_dir_fd);
        if (!from_dir.ok()) return from_dir.status();
        absl::StatusOr<uint64_t> to_dir = DirectoryOf(to_dir_fd);
        if (!to_dir.ok()) return to_dir.status();
        // In linkat's order: the source, the new name, then the
        // source's kind.
        const auto& sources = inodes_.at(*from_dir).live.entries;
        auto source = sources.find(from);
        if (source == sources.end()) return SyscallError(ENOENT, what);
        auto& entries = inodes_.at(*to_dir).live.entries;
        if (entries.count(to) > 0) return SyscallError(EEXIST, what);
        // No hard links to directories; a symlink is linked itself.
        if (inodes_.at(source->second).is_directory()) {
          return SyscallError(EPERM, what);
        }
        entries[to] = source->second;
        Touch(*to_dir);
        return absl::OkStatus();
      });
}

absl::Status PowerLossFileSystem::MakeSymlink(int dir_fd,
                                              const std::string& name,
                                              const std::string& target) {
  return Run(absl::StrCat("MakeSymlink(", name, " -> ", target, ")"),
             [&]() -> absl::Status {
               const std::string what =
                   absl::StrCat("symlink(", name, " -> ", target, ")");
               absl::StatusOr<uint64_t> dir = DirectoryOf(dir_fd);
               if (!dir.ok()) return dir.status();
               // symlinkat refuses an empty target with ENOENT.
               if (target.empty()) return SyscallError(ENOENT, what);
               auto& entries = inodes_.at(*dir).live.entries;
               if (entries.count(name) > 0) return SyscallError(EEXIST, what);
               const uint64_t id = NewInode(Kind::kSymlink, 0777);
               inodes_.at(id).target = target;
               entries[name] = id;
               Touch(*dir);
               return absl::OkStatus();
             });
}

absl::StatusOr<std::string> PowerLossFileSystem::ReadSymlink(
    int dir_fd, const std::string& name) {
  return Run(absl::StrCat("ReadSymlink(", name, ")"),
             [&]() -> absl::StatusOr<std::string> {
               const std::string what = absl::StrCat("readlink(", name, ")");
               absl::StatusOr<uint64_t> dir = DirectoryOf(dir_fd);
               if (!dir.ok()) return dir.status();
               const auto& entries = inodes_.at(*dir).live.entries;
               auto it = entries.find(name);
               if (it == entries.end()) return SyscallError(ENOENT, what);
               const Inode& link = inodes_.at(it->second);
               if (!link.is_symlink()) return NotASymlink(what);
               return link.target;
             });
}

std::ostream& operator<<(std::ostream& out,
                         PowerLossFileSystem::UnsyncedData unsynced) {
  return out << (unsynced == PowerLossFileSystem::UnsyncedData::kLost
                     ? "unsynced data lost"
                     : "unsynced data zero-filled");
}

}  // namespace durable
