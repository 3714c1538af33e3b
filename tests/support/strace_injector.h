#ifndef DURABLED_TESTS_SUPPORT_STRACE_INJECTOR_H_
#define DURABLED_TESTS_SUPPORT_STRACE_INJECTOR_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace durable::test {

// Injects syscall faults into a running process with strace(1)
// (`-e inject=`), for as long as the object lives.
//
// Attach runs `strace -f -y -o <log> <arguments> -p <pid>`, which follows
// every thread of the process (and the threads it creates), and returns
// once every thread is traced. `arguments` selects and tampers with
// syscalls, for example
//   {"-e", "trace=fsync", "-e", "inject=fsync:error=EIO", "-P", "/dir/file"}
// Note strace's rules: `-P path` limits tracing (and so injection) to
// syscalls on that exact path (for an fd, the path it was opened under);
// `:when=` counts invocations per syscall and per thread.
//
// Errors: UNAVAILABLE when strace is not installed or cannot attach
// (ptrace forbidden: no CAP_SYS_PTRACE, Yama ptrace_scope, seccomp in a
// container); the message says which, so a test can skip with it.
class StraceInjector {
 public:
  static absl::StatusOr<std::unique_ptr<StraceInjector>> Attach(
      pid_t pid, const std::vector<std::string>& arguments);

  // Detaches if still attached.
  ~StraceInjector();

  // Detaches from the process (which keeps running) and returns the trace:
  // one line per traced syscall, with fd paths, injected ones marked
  // "(INJECTED)".
  std::string Detach();

  // The lines of the trace so far that contain `needle`.
  std::vector<std::string> LinesWith(const std::string& needle) const;

  // The strace binary, or "" if there is none.
  static std::string Binary();

 private:
  StraceInjector() = default;
  std::string Trace() const;

  pid_t strace_pid_ = -1;
  std::string directory_;
  std::string trace_;
};

}  // namespace durable::test

#endif  // DURABLED_TESTS_SUPPORT_STRACE_INJECTOR_H_
