// Socket activation as durabled.socket does it, with systemd's own test tool:
// systemd-socket-activate binds and listens, starts durabled on the first
// connection with LISTEN_FDS/LISTEN_PID, and durabled serves on the passed
// socket instead of binding the config's socket.path.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/lifecycle/lifecycle_util.h"
#include "tests/support/held_stream.h"
#include "tests/support/test_daemon.h"

namespace durable::test {
namespace {

std::string SocketActivateTool() {
  return FindExecutable({"/usr/bin/systemd-socket-activate",
                         "/bin/systemd-socket-activate",
                         "/lib/systemd/systemd-socket-activate",
                         "/usr/lib/systemd/systemd-socket-activate"});
}

TEST(SocketActivationTest, WriteSucceedsThroughThePassedSocket) {
  const std::string tool = SocketActivateTool();
  if (tool.empty()) {
    GTEST_SKIP() << "systemd-socket-activate not found (Debian package "
                    "systemd); cannot test socket activation";
  }
  TestDaemonOptions options;
  // The config's own socket must stay unused: the passed one wins.
  options.config =
      "socket { path: \"{base}/configured.sock\" mode: 0600 }\n"
      "rule { root: \"{base}/data\" allow_uid: {uid} }\n";
  options.wrapper = {tool, "--listen={base}/activated.sock"};
  options.wait_for_socket = "{base}/activated.sock";
  auto daemon = TestDaemon::Start(options);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  const std::string activated = (*daemon)->Path("activated.sock");

  ClientOptions client_options;
  client_options.socket_path = activated;
  auto client = (*daemon)->NewClient(client_options);
  const std::string target = (*daemon)->data() + "/activated.txt";
  auto written = client->Write(target, "through the passed socket\n");
  ASSERT_TRUE(written.ok()) << written.status() << "\n" << (*daemon)->Log();
  EXPECT_TRUE(written->created);
  auto content = ReadFile(target);
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_EQ(*content, "through the passed socket\n");

  // A second connection goes to the same daemon: the listener stays with it.
  auto second = (*daemon)->NewClient(client_options);
  auto identity = second->WhoAmI();
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(identity->uid, getuid());

  const std::string log = (*daemon)->Log();
  EXPECT_TRUE(absl::StrContains(log, "socket passed by systemd")) << log;
  EXPECT_FALSE(PathExists((*daemon)->Path("configured.sock")))
      << "durabled bound the config's socket although one was passed";

  (*daemon)->Signal(SIGTERM);
  std::optional<int> status = (*daemon)->WaitForExit(absl::Seconds(60));
  ASSERT_TRUE(status.has_value()) << "durabled still running 60s after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << DescribeWaitStatus(*status) << "\n"
      << (*daemon)->Log();
  // The socket belongs to the service manager (RemoveOnStop= decides).
  EXPECT_TRUE(PathExists(activated))
      << "durabled removed a socket it did not create";
}

}  // namespace
}  // namespace durable::test
