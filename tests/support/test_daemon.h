#ifndef DURABLED_TESTS_SUPPORT_TEST_DAEMON_H_
#define DURABLED_TESTS_SUPPORT_TEST_DAEMON_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/client.h"

namespace durable::test {

// A real durabled process on a private socket, with its own scratch tree:
//
//   <base>/            0755, removed on destruction
//   <base>/data/       the default rule's root (the test's uid may write)
//   <base>/outside/    under no root
//   <base>/durabled.sock, <base>/durabled.conf, <base>/durabled.log
//
// The config is `config_body` with "{base}" replaced by the base path and
// "{uid}" by the test's uid; the default body has one rule for data/ and a
// socket of mode 0666 (so tests can connect as other uids).
class TestDaemon {
 public:
  static constexpr char kDefaultConfig[] =
      "socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
      "rule { root: \"{base}/data\" allow_uid: {uid} }\n";

  // Creates the scratch tree plus `extra_dirs` (relative to base, mode
  // 0755), starts the daemon and waits until it accepts connections.
  static absl::StatusOr<std::unique_ptr<TestDaemon>> Start(
      const std::string& config_body = kDefaultConfig,
      const std::vector<std::string>& extra_dirs = {});

  // Sends SIGTERM, waits, and removes the scratch tree.
  ~TestDaemon();

  const std::string& base() const { return base_; }
  std::string data() const { return base_ + "/data"; }
  std::string outside() const { return base_ + "/outside"; }
  std::string socket_path() const { return base_ + "/durabled.sock"; }
  pid_t pid() const { return pid_; }

  // Everything the daemon wrote to stderr so far.
  std::string Log() const;

  // A new client (own connection) for this daemon.
  std::unique_ptr<Client> NewClient() const;

  // Sends `signal_number` and waits for the daemon to exit; returns its exit
  // status as from waitpid. The destructor then only cleans up.
  int StopWith(int signal_number);

  // Starts the daemon again on the same scratch tree and config (after
  // StopWith), appending to the same log, and waits until it accepts
  // connections.
  absl::Status Restart();

 private:
  TestDaemon() = default;
  absl::Status Launch(bool append_log);
  std::string base_;
  pid_t pid_ = -1;
};

// Reads a whole file; nullopt-like empty result is distinguished by the
// status (NOT_FOUND if absent).
absl::StatusOr<std::string> ReadFile(const std::string& path);
void WriteFileOrDie(const std::string& path, const std::string& content);
bool PathExists(const std::string& path);
// Names in directory `dir` (without "." and "..").
std::vector<std::string> ListDirectory(const std::string& dir);

}  // namespace durable::test

#endif  // DURABLED_TESTS_SUPPORT_TEST_DAEMON_H_
