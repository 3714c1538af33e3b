// A private durabled for the benchmark: the binary CMake built, one rule
// (the caller's uid may write under `root`), its own socket and log.
#ifndef DURABLED_TESTS_BENCH_DAEMON_PROCESS_H_
#define DURABLED_TESTS_BENCH_DAEMON_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "durable/client.h"

namespace durable::bench {

struct DaemonSetup {
  std::string config_path;  // written by Start
  std::string socket_path;
  std::string root;      // the one directory the daemon may write under
  std::string log_path;  // the daemon's stderr (appended to)
  uint64_t max_file_size = 0;
  // Passed to durabled after --config (e.g. "--flush_strategy=syncfs").
  std::vector<std::string> extra_flags;
};

class DaemonProcess {
 public:
  // Writes the config, starts durabled and returns once it answers WhoAmI.
  static absl::StatusOr<std::unique_ptr<DaemonProcess>> Start(
      const DaemonSetup& setup);

  // Kills the daemon if Stop() was not called.
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  pid_t pid() const { return pid_; }
  // From just before the fork to the first answered WhoAmI.
  absl::Duration time_to_ready() const { return time_to_ready_; }
  // For a durable::Client of this daemon: its socket, 1 MiB stream chunks.
  ClientOptions client_options() const;

  // SIGTERM; fails unless the daemon exits 0.
  absl::Status Stop();

 private:
  DaemonProcess(DaemonSetup setup, pid_t pid)
      : setup_(std::move(setup)), pid_(pid) {}
  absl::Status WaitUntilAnswering(absl::Time started);
  // Waits for the daemon's exit and returns its waitpid status.
  int Reap(int options);
  std::string LogTail() const;

  const DaemonSetup setup_;
  const pid_t pid_;
  bool reaped_ = false;
  absl::Duration time_to_ready_;
};

}  // namespace durable::bench

#endif  // DURABLED_TESTS_BENCH_DAEMON_PROCESS_H_
