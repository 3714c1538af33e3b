// One daemon per root: a second durabled whose root overlaps a running
// daemon's (the same root, one beneath it, one above it, or the same
// directory reached through a bind mount) refuses to start, so its
// start-up sweep can never delete the first daemon's live temp files. An
// in-flight stream of the first daemon proves it: its temp file survives
// the attempt and the write is published afterwards.
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "durable/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/held_stream.h"
#include "tests/support/spawn.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_daemon.h"

namespace durable {

using test::IsOk;

namespace {

using test::Command;
using test::CommandResult;
using test::HeldStream;
using test::ReadFile;
using test::RunCommand;
using test::TempFilesIn;
using test::TestDaemon;
using test::WriteFileOrDie;
using testing::HasSubstr;

// Runs a second daemon with one rule for `root` on its own socket under
// `dir`; returns how it ended (it is killed by the timeout if it starts).
CommandResult RunSecondDaemon(const std::string& dir, const std::string& root) {
  const std::string config = dir + "/second.conf";
  WriteFileOrDie(config,
                 absl::StrCat("socket { path: \"", dir,
                              "/second.sock\" }\n"
                              "rule { root: \"",
                              root, "\" allow_uid: ", getuid(), " }\n"));
  Command command;
  // `timeout` ends a daemon that wrongly started; it then exits 124.
  command.argv = {"/usr/bin/timeout", "5", DURABLED_BINARY,
                  "--config=" + config};
  return RunCommand(command);
}

class RootLockTest : public testing::Test {
 protected:
  void SetUp() override {
    auto daemon = TestDaemon::Start(TestDaemon::kDefaultConfig, {"data/sub"});
    ASSERT_THAT(daemon, IsOk());
    daemon_ = *std::move(daemon);
    ASSERT_EQ(mkdir((daemon_->base() + "/second").c_str(), 0755), 0);
  }
  std::string SecondDir() const { return daemon_->base() + "/second"; }

  std::unique_ptr<TestDaemon> daemon_;
};

TEST_F(RootLockTest, OverlappingRootsAreRefusedWithAClearMessage) {
  // The same directory under another path: a bind mount (root only).
  const std::string alias = daemon_->base() + "/alias";
  ASSERT_EQ(mkdir(alias.c_str(), 0755), 0);
  const bool bound = mount(daemon_->data().c_str(), alias.c_str(), nullptr,
                           MS_BIND, nullptr) == 0;
  std::vector<std::string> overlapping = {
      daemon_->data(),           // the same root
      daemon_->data() + "/sub",  // beneath it
      daemon_->base(),           // above it
  };
  if (bound) overlapping.push_back(alias + "/sub");  // beneath, via a bind
  for (const std::string& root : overlapping) {
    SCOPED_TRACE(root);
    CommandResult second = RunSecondDaemon(SecondDir(), root);
    EXPECT_EQ(second.exit_code, 1) << second.err;
    EXPECT_THAT(second.err, HasSubstr("another running durabled"))
        << second.err;
    EXPECT_THAT(second.err, HasSubstr("cannot start"));
  }
  // A root beside the first daemon's is fine: the second one starts (and
  // is ended by the timeout).
  ASSERT_EQ(mkdir((daemon_->base() + "/beside").c_str(), 0755), 0);
  CommandResult beside =
      RunSecondDaemon(SecondDir(), daemon_->base() + "/beside");
  EXPECT_EQ(beside.exit_code, 124) << beside.err;
  EXPECT_THAT(beside.err, HasSubstr("listening"));
  if (bound) umount2(alias.c_str(), MNT_DETACH);
}

TEST_F(RootLockTest, SecondDaemonDoesNotSweepALiveTempFile) {
  auto client = daemon_->NewClient();
  HeldStream held(std::string(64 << 10, 'a'), std::string(64 << 10, 'b'));
  const std::string target = daemon_->data() + "/sub/in-flight";
  absl::StatusOr<WriteResult> result = absl::UnknownError("not finished");
  std::thread writer([&] {
    result = client->WriteStream(target, held.Source(), held.total_size());
  });
  ASSERT_TRUE(held.WaitUntilFirstSent(absl::Seconds(30)));
  const std::string dir = daemon_->data() + "/sub";
  bool staged = false;
  for (int i = 0; i < 3000 && !staged; ++i) {
    staged = !TempFilesIn(dir).empty();
    if (!staged) absl::SleepFor(absl::Milliseconds(10));
  }
  if (!staged) held.Release();
  ASSERT_TRUE(staged);

  CommandResult second = RunSecondDaemon(SecondDir(), dir);
  EXPECT_EQ(second.exit_code, 1) << second.err;
  EXPECT_FALSE(TempFilesIn(dir).empty()) << "the live temp file was swept";
  held.Release();
  writer.join();
  ASSERT_THAT(result, IsOk()) << result.status() << "\n" << daemon_->Log();
  EXPECT_EQ(*ReadFile(target), held.content());
}

TEST_F(RootLockTest, ReloadOntoAnOverlappingRootIsRefused) {
  // A second daemon serves a root of its own; the first daemon's reload
  // that adds that root is refused, and the old policy stays in force.
  ASSERT_EQ(mkdir((daemon_->base() + "/other").c_str(), 0755), 0);
  auto other = TestDaemon::Start(
      absl::StrCat("socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
                   "rule { root: \"",
                   daemon_->base(), "/other\" allow_uid: {uid} }\n"));
  ASSERT_THAT(other, IsOk());
  WriteFileOrDie(daemon_->base() + "/durabled.conf",
                 absl::StrCat("socket { path: \"", daemon_->socket_path(),
                              "\" mode: 0666 }\n"
                              "rule { root: \"",
                              daemon_->data(), "\" allow_uid: ", getuid(),
                              " }\n"
                              "rule { root: \"",
                              daemon_->base(),
                              "/other/x\" allow_uid: ", getuid(), " }\n"));
  ASSERT_EQ(mkdir((daemon_->base() + "/other/x").c_str(), 0755), 0);
  kill(daemon_->pid(), SIGHUP);
  bool refused = false;
  for (int i = 0; i < 1000 && !refused; ++i) {
    refused = absl::StrContains(daemon_->Log(), "reload refused");
    if (!refused) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(refused) << daemon_->Log();
  EXPECT_THAT(daemon_->Log(), HasSubstr("another running durabled"));
  // Still serving under the old policy.
  auto client = daemon_->NewClient();
  EXPECT_THAT(client->Write(daemon_->data() + "/after", "x"), IsOk());
  EXPECT_FALSE(client->Write(daemon_->base() + "/other/x/f", "x").ok());
}

}  // namespace
}  // namespace durable
