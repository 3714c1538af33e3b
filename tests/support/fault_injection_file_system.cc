#include "tests/support/fault_injection_file_system.h"

#include <utility>

namespace durable {

using Operation = FaultInjectionFileSystem::Operation;
using Call = FaultInjectionFileSystem::Call;

namespace {

Call MakeCall(Operation operation, std::string name = "", std::string to = "",
              RenameMode rename_mode = RenameMode::kReplace) {
  Call call;
  call.operation = operation;
  call.name = std::move(name);
  call.to = std::move(to);
  call.rename_mode = rename_mode;
  return call;
}

}  // namespace

void FaultInjectionFileSystem::FailNext(Operation operation, absl::Status error,
                                        int skip) {
  absl::MutexLock lock(&mutex_);
  faults_.push_back(Fault{operation, skip, std::move(error), 0});
}

void FaultInjectionFileSystem::FailNextAppend(size_t bytes_written,
                                              absl::Status error, int skip) {
  absl::MutexLock lock(&mutex_);
  faults_.push_back(
      Fault{Operation::kAppend, skip, std::move(error), bytes_written});
}

void FaultInjectionFileSystem::ClearFaults() {
  absl::MutexLock lock(&mutex_);
  faults_.clear();
}

int FaultInjectionFileSystem::PendingFaults() const {
  absl::MutexLock lock(&mutex_);
  return static_cast<int>(faults_.size());
}

std::vector<FaultInjectionFileSystem::Call> FaultInjectionFileSystem::CallLog()
    const {
  absl::MutexLock lock(&mutex_);
  return log_;
}

std::vector<Operation> FaultInjectionFileSystem::Operations() const {
  absl::MutexLock lock(&mutex_);
  std::vector<Operation> operations;
  operations.reserve(log_.size());
  for (const Call& call : log_) operations.push_back(call.operation);
  return operations;
}

void FaultInjectionFileSystem::ClearCallLog() {
  absl::MutexLock lock(&mutex_);
  log_.clear();
}

void FaultInjectionFileSystem::SetHook(Hook hook) {
  absl::MutexLock lock(&mutex_);
  hook_ = std::move(hook);
}

FaultInjectionFileSystem::Decision FaultInjectionFileSystem::Begin(Call call) {
  absl::MutexLock lock(&mutex_);
  Decision decision;
  bool fired = false;
  for (auto it = faults_.begin(); it != faults_.end();) {
    if (it->operation != call.operation) {
      ++it;
    } else if (it->skip > 0) {
      --it->skip;
      ++it;
    } else if (!fired) {
      fired = true;
      decision.error = std::move(it->error);
      decision.append_bytes = it->append_bytes;
      it = faults_.erase(it);
    } else {
      ++it;  // due as well; fires at the next call
    }
  }
  call.injected = fired;
  log_.push_back(call);
  decision.call = std::move(call);
  decision.hook = hook_;
  return decision;
}

void FaultInjectionFileSystem::End(const Decision& decision) {
  if (decision.hook) decision.hook(decision.call);
}

template <typename Forward>
auto FaultInjectionFileSystem::Run(Call call, Forward forward) {
  Decision decision = Begin(std::move(call));
  using Result = decltype(forward());
  Result result = decision.error.ok() ? forward() : Result(decision.error);
  End(decision);
  return result;
}

absl::StatusOr<UniqueFd> FaultInjectionFileSystem::OpenDirectoryBeneath(
    int root_fd, const std::string& relative_path) {
  return Run(MakeCall(Operation::kOpenDirectoryBeneath, relative_path), [&] {
    return base_->OpenDirectoryBeneath(root_fd, relative_path);
  });
}

absl::StatusOr<UniqueFd> FaultInjectionFileSystem::CreateExclusive(
    int dir_fd, const std::string& name) {
  return Run(MakeCall(Operation::kCreateExclusive, name),
             [&] { return base_->CreateExclusive(dir_fd, name); });
}

absl::Status FaultInjectionFileSystem::Append(int fd, absl::string_view data) {
  Decision decision = Begin(MakeCall(Operation::kAppend));
  absl::Status result = decision.error;
  if (result.ok()) {
    result = base_->Append(fd, data);
  } else if (decision.append_bytes > 0) {
    // A short write: a prefix reaches the file, then the error.
    absl::Status partial =
        base_->Append(fd, data.substr(0, decision.append_bytes));
    if (!partial.ok()) result = partial;
  }
  End(decision);
  return result;
}

absl::Status FaultInjectionFileSystem::SetPermissions(int fd,
                                                      mode_t permissions) {
  return Run(MakeCall(Operation::kSetPermissions),
             [&] { return base_->SetPermissions(fd, permissions); });
}

absl::Status FaultInjectionFileSystem::SetModificationTime(int fd,
                                                           int64_t mtime_ns) {
  return Run(MakeCall(Operation::kSetModificationTime),
             [&] { return base_->SetModificationTime(fd, mtime_ns); });
}

absl::Status FaultInjectionFileSystem::SetOwner(int fd, uid_t uid, gid_t gid) {
  return Run(MakeCall(Operation::kSetOwner),
             [&] { return base_->SetOwner(fd, uid, gid); });
}

absl::Status FaultInjectionFileSystem::SyncFile(int fd) {
  return Run(MakeCall(Operation::kSyncFile),
             [&] { return base_->SyncFile(fd); });
}

absl::Status FaultInjectionFileSystem::SyncFilesystem(int fd) {
  return Run(MakeCall(Operation::kSyncFilesystem),
             [&] { return base_->SyncFilesystem(fd); });
}

absl::Status FaultInjectionFileSystem::WriteBehind(int fd, uint64_t offset,
                                                   uint64_t length, bool wait) {
  return Run(MakeCall(Operation::kWriteBehind),
             [&] { return base_->WriteBehind(fd, offset, length, wait); });
}

absl::StatusOr<FileInfo> FaultInjectionFileSystem::Stat(int fd) {
  return Run(MakeCall(Operation::kStat), [&] { return base_->Stat(fd); });
}

absl::StatusOr<FileInfo> FaultInjectionFileSystem::StatAt(
    int dir_fd, const std::string& name) {
  return Run(MakeCall(Operation::kStatAt, name),
             [&] { return base_->StatAt(dir_fd, name); });
}

// Counted and failed as a StatAt: to the protocol it is the same step.
absl::StatusOr<FileInfo> FaultInjectionFileSystem::LookUp(
    int dir_fd, const std::string& name) {
  return Run(MakeCall(Operation::kStatAt, name),
             [&] { return base_->LookUp(dir_fd, name); });
}

absl::Status FaultInjectionFileSystem::Rename(int dir_fd,
                                              const std::string& from,
                                              const std::string& to,
                                              RenameMode mode) {
  return Run(MakeCall(Operation::kRename, from, to, mode),
             [&] { return base_->Rename(dir_fd, from, to, mode); });
}

absl::Status FaultInjectionFileSystem::SyncDirectory(int dir_fd) {
  return Run(MakeCall(Operation::kSyncDirectory),
             [&] { return base_->SyncDirectory(dir_fd); });
}

absl::Status FaultInjectionFileSystem::Unlink(int dir_fd,
                                              const std::string& name) {
  return Run(MakeCall(Operation::kUnlink, name),
             [&] { return base_->Unlink(dir_fd, name); });
}

absl::Status FaultInjectionFileSystem::MakeDirectory(int dir_fd,
                                                     const std::string& name) {
  return Run(MakeCall(Operation::kMakeDirectory, name),
             [&] { return base_->MakeDirectory(dir_fd, name); });
}

absl::Status FaultInjectionFileSystem::RemoveDirectory(
    int dir_fd, const std::string& name) {
  return Run(MakeCall(Operation::kRemoveDirectory, name),
             [&] { return base_->RemoveDirectory(dir_fd, name); });
}

absl::StatusOr<std::vector<DirectoryEntry>>
FaultInjectionFileSystem::ListDirectory(int dir_fd) {
  return Run(MakeCall(Operation::kListDirectory),
             [&] { return base_->ListDirectory(dir_fd); });
}

absl::StatusOr<std::string> FaultInjectionFileSystem::ReadFileAt(
    int dir_fd, const std::string& name, size_t max_bytes) {
  return Run(MakeCall(Operation::kReadFileAt, name),
             [&] { return base_->ReadFileAt(dir_fd, name, max_bytes); });
}

absl::Status FaultInjectionFileSystem::Link(int from_dir_fd,
                                            const std::string& from,
                                            int to_dir_fd,
                                            const std::string& to) {
  return Run(MakeCall(Operation::kLink, from, to),
             [&] { return base_->Link(from_dir_fd, from, to_dir_fd, to); });
}

absl::Status FaultInjectionFileSystem::MakeSymlink(int dir_fd,
                                                   const std::string& name,
                                                   const std::string& target) {
  return Run(MakeCall(Operation::kMakeSymlink, name, target),
             [&] { return base_->MakeSymlink(dir_fd, name, target); });
}

absl::StatusOr<std::string> FaultInjectionFileSystem::ReadSymlink(
    int dir_fd, const std::string& name) {
  return Run(MakeCall(Operation::kReadSymlink, name),
             [&] { return base_->ReadSymlink(dir_fd, name); });
}

absl::string_view OperationName(Operation operation) {
  switch (operation) {
    case Operation::kOpenDirectoryBeneath:
      return "OpenDirectoryBeneath";
    case Operation::kCreateExclusive:
      return "CreateExclusive";
    case Operation::kAppend:
      return "Append";
    case Operation::kSetPermissions:
      return "SetPermissions";
    case Operation::kSetOwner:
      return "SetOwner";
    case Operation::kSyncFile:
      return "SyncFile";
    case Operation::kStat:
      return "Stat";
    case Operation::kStatAt:
      return "StatAt";
    case Operation::kRename:
      return "Rename";
    case Operation::kSyncDirectory:
      return "SyncDirectory";
    case Operation::kUnlink:
      return "Unlink";
    case Operation::kMakeDirectory:
      return "MakeDirectory";
    case Operation::kRemoveDirectory:
      return "RemoveDirectory";
    case Operation::kListDirectory:
      return "ListDirectory";
    case Operation::kReadFileAt:
      return "ReadFileAt";
    case Operation::kSetModificationTime:
      return "SetModificationTime";
    case Operation::kSyncFilesystem:
      return "SyncFilesystem";
    case Operation::kWriteBehind:
      return "WriteBehind";
    case Operation::kLink:
      return "Link";
    case Operation::kMakeSymlink:
      return "MakeSymlink";
    case Operation::kReadSymlink:
      return "ReadSymlink";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& out, Operation operation) {
  return out << OperationName(operation);
}

}  // namespace durable
