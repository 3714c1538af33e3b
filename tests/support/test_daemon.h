#ifndef DURABLED_TESTS_SUPPORT_TEST_DAEMON_H_
#define DURABLED_TESTS_SUPPORT_TEST_DAEMON_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "durable/client.h"

namespace durable::test {

// The config of a TestDaemon unless a test brings its own: one rule for
// data/ and a socket of mode 0666 (so tests can connect as other uids).
inline constexpr char kDefaultDaemonConfig[] =
    "socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
    "rule { root: \"{base}/data\" allow_uid: {uid} }\n";

struct TestDaemonOptions {
  // Config body; "{base}" becomes the scratch directory, "{uid}" our uid.
  std::string config = kDefaultDaemonConfig;
  // Directories made under the scratch directory (mode 0755) besides data/
  // and outside/.
  std::vector<std::string> extra_dirs;
  // argv before the daemon's (e.g. strace, setpriv or
  // systemd-socket-activate -l PATH).
  std::vector<std::string> wrapper;
  // Flags after --config.
  std::vector<std::string> flags;
  // "NAME=value" added to the inherited environment.
  std::vector<std::string> environment;
  // Socket to wait for (connectable) before Start returns; "" waits for
  // nothing (the test waits itself, e.g. for READY=1). "{base}" and
  // "{uid}" are replaced in wrapper, flags, environment and this.
  std::string wait_for_socket = "{base}/durabled.sock";
  absl::Duration start_timeout = absl::Seconds(30);
};

// A real durabled process with its own scratch tree:
//
//   <base>/            0755, removed on destruction
//   <base>/data/       the default rule's root (the test's uid may write)
//   <base>/outside/    under no root
//   <base>/durabled.sock, <base>/durabled.conf, <base>/durabled.log (stderr)
//
// The destructor stops it if the test did not (SIGTERM, which must exit 0;
// SIGKILL after 30 s), checks the log for sanitizer reports and removes the
// scratch tree.
class TestDaemon {
 public:
  static constexpr const char* kDefaultConfig = kDefaultDaemonConfig;

  static absl::StatusOr<std::unique_ptr<TestDaemon>> Start(
      const TestDaemonOptions& options);
  // The common case: `config_body` and `extra_dirs` as in TestDaemonOptions.
  static absl::StatusOr<std::unique_ptr<TestDaemon>> Start(
      const std::string& config_body = kDefaultDaemonConfig,
      const std::vector<std::string>& extra_dirs = {});

  ~TestDaemon();

  const std::string& base() const { return base_; }
  std::string Path(const std::string& relative) const {
    return base_ + "/" + relative;
  }
  std::string data() const { return Path("data"); }
  std::string outside() const { return Path("outside"); }
  std::string socket_path() const { return Path("durabled.sock"); }
  std::string config_path() const { return Path("durabled.conf"); }
  std::string log_path() const { return Path("durabled.log"); }
  pid_t pid() const { return pid_; }

  // `text` with "{base}" and "{uid}" substituted ("${uid}", the daemon's
  // per-caller placeholder, is left alone).
  std::string Expand(const std::string& text) const;

  // Replaces the config file atomically (write beside, rename over), so a
  // reload never reads half a file.
  void WriteConfig(const std::string& body) const;

  // Everything the daemon wrote to stderr so far.
  std::string Log() const;
  // Occurrences of `needle` in the log.
  int CountInLog(const std::string& needle) const;
  // Waits until `needle` occurs at least `count` times in the log.
  bool WaitForLog(const std::string& needle, int count = 1,
                  absl::Duration timeout = absl::Seconds(30)) const;

  // A new client (own connection) for this daemon: `options` with this
  // daemon's socket unless it names another, and a 60 s timeout.
  std::unique_ptr<Client> NewClient(ClientOptions options = {}) const;

  // Sends `signal_number` unless the process has exited.
  void Signal(int signal_number) const;
  // Whether the process has exited (reaps it if so).
  bool Exited();
  // Waits up to `timeout` for the process to exit; its waitpid status, or
  // nullopt if it is still running.
  std::optional<int> WaitForExit(absl::Duration timeout);

  // Sends `signal_number` and waits for the daemon to exit (SIGKILL and a
  // test failure after 60 s); returns its exit status as from waitpid. The
  // destructor then only cleans up.
  int StopWith(int signal_number);

  // Starts the daemon again on the same scratch tree and options (after it
  // exited), appending to the same log, and waits as Start does.
  absl::Status Restart();

 private:
  TestDaemon() = default;
  absl::Status Launch(bool append_log);

  TestDaemonOptions options_;
  std::string base_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// Reads a whole file; NOT_FOUND if it cannot be opened.
absl::StatusOr<std::string> ReadFile(const std::string& path);
void WriteFileOrDie(const std::string& path, const std::string& content);
bool PathExists(const std::string& path);
// Names in directory `dir` (without "." and ".."), sorted.
std::vector<std::string> ListDirectory(const std::string& dir);
// Names in `dir` that are durabled temp files.
std::vector<std::string> TempFilesIn(const std::string& dir);

}  // namespace durable::test

#endif  // DURABLED_TESTS_SUPPORT_TEST_DAEMON_H_
