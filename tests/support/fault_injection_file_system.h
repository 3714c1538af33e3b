#ifndef DURABLED_TESTS_SUPPORT_FAULT_INJECTION_FILE_SYSTEM_H_
#define DURABLED_TESTS_SUPPORT_FAULT_INJECTION_FILE_SYSTEM_H_

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/engine/file_system.h"
#include "tests/support/file_system_overrides.h"

namespace durable {

// A FileSystem for tests that forwards every call to another FileSystem
// (usually PosixFileSystem) and can be told to fail chosen calls.
//
// Contract:
//  - Every call is recorded, in the order the calls began, in the call log
//    (operation and name operands), whether it was forwarded or failed.
//  - FailNext(op, error, skip) arms one fault: the call of `op` that comes
//    after `skip` further calls of `op` fails with `error` instead of
//    reaching the wrapped FileSystem; nothing of it happens on disk. Each
//    fault fires once. Faults armed for the same operation fire in the order
//    they were armed, each counting its own `skip`.
//  - FailNextAppend(bytes_written, error, skip) is FailNext for Append, except
//    that the failing call first forwards the first `bytes_written` bytes of
//    its data (a short write), then fails.
//  - Failing a call that returns a value (an fd, a FileInfo) returns only the
//    error. `error` must not be OK; build it with SyscallError(EIO, "...")
//    so that it carries an errno as real errors do.
//  - The hook, if set, runs after every call (forwarded or failed), outside
//    the lock, with the call's log entry; tests use it to inspect the disk
//    between two steps of a protocol.
//  - All methods are thread-safe. Calls to the wrapped FileSystem are made
//    without holding the lock, so concurrent calls stay concurrent.
//
// Every call funnels through one place (Begin), so that simulating power
// loss (tracking which files and directories were synced and dropping the
// rest) can be added later without changing this interface.
class FaultInjectionFileSystem : public FileSystem {
 public:
  enum class Operation {
    kOpenDirectoryBeneath,
    kCreateExclusive,
    kAppend,
    kSetPermissions,
    kSetOwner,
    kSyncFile,
    kStat,
    kStatAt,
    kRename,
    kSyncDirectory,
    kUnlink,
    kMakeDirectory,
    kRemoveDirectory,
    kListDirectory,
    kReadFileAt,
    kSetModificationTime,
    kSyncFilesystem,
    kWriteBehind,
    kLink,
    kMakeSymlink,
    kReadSymlink,
  };

  // One call as the log records it.
  struct Call {
    Operation operation = Operation::kOpenDirectoryBeneath;
    // The name operand: the path of OpenDirectoryBeneath, the name of
    // CreateExclusive, StatAt, Unlink, MakeSymlink and ReadSymlink, the
    // source of Rename and Link. Empty for calls on an fd.
    std::string name;
    // The destination of Rename and Link, the target of MakeSymlink, else
    // empty.
    std::string to;
    // The mode of Rename, else kReplace.
    RenameMode rename_mode = RenameMode::kReplace;
    // True if the call failed by injection.
    bool injected = false;
  };

  using Hook = std::function<void(const Call&)>;

  // `base` must outlive this object.
  explicit FaultInjectionFileSystem(FileSystem* base) : base_(base) {}

  void FailNext(Operation operation, absl::Status error, int skip = 0);
  void FailNextAppend(size_t bytes_written, absl::Status error, int skip = 0);

  // Disarms every fault that has not fired.
  void ClearFaults();
  // Number of armed faults that have not fired yet.
  int PendingFaults() const;

  std::vector<Call> CallLog() const;
  // The operations of CallLog(), in order.
  std::vector<Operation> Operations() const;
  void ClearCallLog();

  void SetHook(Hook hook);

  // FileSystem:
  DURABLE_FILE_SYSTEM_OVERRIDES;

 private:
  struct Fault {
    Operation operation;
    int skip;
    absl::Status error;
    size_t append_bytes;  // Append only: bytes forwarded before failing
  };

  // What a call is to do, decided when it begins.
  struct Decision {
    absl::Status error;  // OK: forward the call
    size_t append_bytes = 0;
    Call call;
    Hook hook;
  };

  // Logs `call` and consumes the fault, if any, that fires for it.
  Decision Begin(Call call);
  // Runs the hook of `decision`, if any.
  static void End(const Decision& decision);
  // Begin, then `forward()` unless a fault fired, then End. Returns what
  // `forward` returned or the injected error.
  template <typename Forward>
  auto Run(Call call, Forward forward);

  FileSystem* const base_;
  mutable absl::Mutex mutex_;
  std::vector<Fault> faults_ ABSL_GUARDED_BY(mutex_);
  std::vector<Call> log_ ABSL_GUARDED_BY(mutex_);
  Hook hook_ ABSL_GUARDED_BY(mutex_);
};

// "CreateExclusive", "Rename", ... for test messages.
absl::string_view OperationName(FaultInjectionFileSystem::Operation operation);
std::ostream& operator<<(std::ostream& out,
                         FaultInjectionFileSystem::Operation operation);

}  // namespace durable

#endif  // DURABLED_TESTS_SUPPORT_FAULT_INJECTION_FILE_SYSTEM_H_
