#include "tests/support/fault_injection_file_system.h"

#include <utility>

namespace durable {

using Operation = FaultInjectionFileSystem::Operation;

void FaultInjectionFileSystem::FailNext(Operation operation,
                                        absl::Status error, int skip) {
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

absl::StatusOr<UniqueFd> FaultInjectionFileSystem::OpenDirectoryBeneath(
    int root_fd, const std::string& relative_path) {
  Decision decision =
      Begin(Call{Operation::kOpenDirectoryBeneath, relative_path});
  absl::StatusOr<UniqueFd> result = decision.error;
  if (decision.error.ok()) {
    result = base_->OpenDirectoryBeneath(root_fd, relative_path);
  }
  End(decision);
  return result;
}

absl::StatusOr<UniqueFd> FaultInjectionFileSystem::CreateExclusive(
    int dir_fd, const std::string& name) {
  Decision decision = Begin(Call{Operation::kCreateExclusive, name});
  absl::StatusOr<UniqueFd> result = decision.error;
  if (decision.error.ok()) result = base_->CreateExclusive(dir_fd, name);
  End(decision);
  return result;
}

absl::Status FaultInjectionFileSystem::Append(int fd, absl::string_view data) {
  Decision decision = Begin(Call{Operation::kAppend, ""});
  absl::Status result = decision.error;
  if (decision.error.ok()) {
    result = base_->Append(fd, data);
  } else if (decision.append_bytes > 0) {
    // A short write: a prefix reaches the file, then the error.
    absl::Status partial = base_->Append(fd, data.substr(0, decision.append_bytes));
    if (!partial.ok()) result = partial;
  }
  End(decision);
  return result;
}

absl::Status FaultInjectionFileSystem::SetPermissions(int fd,
                                                      mode_t permissions) {
  Decision decision = Begin(Call{Operation::kSetPermissions, ""});
  absl::Status result = decision.error;
  if (decision.error.ok()) result = base_->SetPermissions(fd, permissions);
  End(decision);
  return result;
}

absl::Status FaultInjectionFileSystem::SetOwner(int fd, uid_t uid, gid_t gid) {
  Decision decision = Begin(Call{Operation::kSetOwner, ""});
  absl::Status result = decision.error;
  if (decision.error.ok()) result = base_->SetOwner(fd, uid, gid);
  End(decision);
  return result;
}

absl::Status FaultInjectionFileSystem::SyncFile(int fd) {
  Decision decision = Begin(Call{Operation::kSyncFile, ""});
  absl::Status result = decision.error;
  if (decision.error.ok()) result = base_->SyncFile(fd);
  End(decision);
  return result;
}

absl::StatusOr<FileInfo> FaultInjectionFileSystem::Stat(int fd) {
  Decision decision = Begin(Call{Operation::kStat, ""});
  absl::StatusOr<FileInfo> result = decision.error;
  if (decision.error.ok()) result = base_->Stat(fd);
  End(decision);
  return result;
}

absl::StatusOr<FileInfo> FaultInjectionFileSystem::StatAt(
    int dir_fd, const std::string& name) {
  Decision decision = Begin(Call{Operation::kStatAt, name});
  absl::StatusOr<FileInfo> result = decision.error;
  if (decision.error.ok()) result = base_->StatAt(dir_fd, name);
  End(decision);
  return result;
}

absl::Status FaultInjectionFileSystem::Rename(int dir_fd,
                                              const std::string& from,
                                              const std::string& to,
                                              RenameMode mode) {
  Decision decision = Begin(Call{Operation::kRename, from, to, mode});
  absl::Status result = decision.error;
  if (decision.error.ok()) result = base_->Rename(dir_fd, from, to, mode);
  End(decision);
  return result;
}

absl::Status FaultInjectionFileSystem::SyncDirectory(int dir_fd) {
  Decision decision = Begin(Call{Operation::kSyncDirectory, ""});
  absl::Status result = decision.error;
  if (decision.error.ok()) result = base_->SyncDirectory(dir_fd);
  End(decision);
  return result;
}

absl::Status FaultInjectionFileSystem::Unlink(int dir_fd,
                                              const std::string& name) {
  Decision decision = Begin(Call{Operation::kUnlink, name});
  absl::Status result = decision.error;
  if (decision.error.ok()) result = base_->Unlink(dir_fd, name);
  End(decision);
  return result;
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
  }
  return "?";
}

std::ostream& operator<<(std::ostream& out, Operation operation) {
  return out << OperationName(operation);
}

}  // namespace durable
