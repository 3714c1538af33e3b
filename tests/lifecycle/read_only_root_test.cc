// A root that is read-only in the daemon's mount namespace, as a root
// missing from the unit's ReadWritePaths= is under ProtectSystem=strict, is
// reported by name at start (exit 1) and at reload (refused, the old roots
// stay in force), instead of failing every write later.
//
// The daemon runs in a mount namespace of its own (unshare -m) in which a
// bind mount makes the root read-only, as systemd does for the unit; the
// host's view of the directory stays writable.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "durable/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/lifecycle/lifecycle_util.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_daemon.h"

namespace durable::test {
namespace {

using ::testing::HasSubstr;

// Runs the daemon with {base}/ro bind-mounted read-only in a private mount
// namespace.
TestDaemonOptions InNamespaceWithReadOnly(const std::string& config) {
  TestDaemonOptions options;
  options.config = config;
  options.extra_dirs = {"ro"};
  options.wrapper = {
      FindExecutable({"/usr/bin/unshare", "/bin/unshare"}),
      "--mount",
      "--propagation",
      "private",
      "/bin/sh",
      "-c",
      "mount --bind {base}/ro {base}/ro && "
      "mount -o remount,bind,ro {base}/ro && exec \"$0\" \"$@\""};
  return options;
}

class ReadOnlyRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for unshare --mount";
    if (FindExecutable({"/usr/bin/unshare", "/bin/unshare"}).empty()) {
      GTEST_SKIP() << "unshare(1) is not installed";
    }
  }
};

TEST_F(ReadOnlyRootTest, StartIsRefusedNamingTheRoot) {
  TestDaemonOptions options = InNamespaceWithReadOnly(
      "socket { path: \"{base}/durabled.sock\" mode: 0600 }\n"
      "rule { root: \"{base}/data\" allow_uid: {uid} }\n"
      "rule { root: \"{base}/ro\" allow_uid: {uid} }\n");
  options.wait_for_socket = "";
  absl::StatusOr<std::unique_ptr<TestDaemon>> daemon =
      TestDaemon::Start(options);
  ASSERT_THAT(daemon, IsOk());
  std::optional<int> exit_code = (*daemon)->WaitForExit(absl::Seconds(30));
  ASSERT_TRUE(exit_code.has_value()) << "durabled did not exit";
  ASSERT_TRUE(WIFEXITED(*exit_code)) << *exit_code;
  EXPECT_EQ(WEXITSTATUS(*exit_code), 1);
  const std::string log = (*daemon)->Log();
  EXPECT_THAT(log, HasSubstr(absl::StrCat("root ", (*daemon)->Path("ro"),
                                          " is read-only")));
  EXPECT_THAT(log, HasSubstr("ReadWritePaths="));
  // The check mode says the same, in the same namespace.
  options.flags = {"--check"};
  daemon = TestDaemon::Start(options);
  ASSERT_THAT(daemon, IsOk());
  exit_code = (*daemon)->WaitForExit(absl::Seconds(30));
  ASSERT_TRUE(exit_code.has_value());
  ASSERT_TRUE(WIFEXITED(*exit_code)) << *exit_code;
  EXPECT_EQ(WEXITSTATUS(*exit_code), 1);
  EXPECT_THAT((*daemon)->Log(), HasSubstr("is read-only"));
}

TEST_F(ReadOnlyRootTest, ReloadIsRefusedAndTheOldRootStaysWritable) {
  absl::StatusOr<std::unique_ptr<TestDaemon>> started =
      TestDaemon::Start(InNamespaceWithReadOnly(
          "socket { path: \"{base}/durabled.sock\" mode: 0600 }\n"
          "rule { root: \"{base}/data\" allow_uid: {uid} }\n"));
  ASSERT_THAT(started, IsOk());
  TestDaemon& daemon = **started;
  std::unique_ptr<Client> client = daemon.NewClient();
  ASSERT_THAT(client->Write(daemon.Path("data/before"), "1"), IsOk());

  daemon.WriteConfig(
      "socket { path: \"{base}/durabled.sock\" mode: 0600 }\n"
      "rule { root: \"{base}/data\" allow_uid: {uid} }\n"
      "rule { root: \"{base}/ro\" allow_uid: {uid} }\n");
  daemon.Signal(SIGHUP);
  ASSERT_TRUE(daemon.WaitForLog("reload refused")) << daemon.Log();
  EXPECT_THAT(daemon.Log(), HasSubstr(absl::StrCat("root ", daemon.Path("ro"),
                                                   " is read-only")));
  EXPECT_THAT(client->Write(daemon.Path("data/after"), "2"), IsOk());
  // The refused root was never in force.
  EXPECT_EQ(client->Write(daemon.Path("ro/x"), "3").status().code(),
            absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace durable::test
