// SIGHUP reloads the config (`systemctl reload durabled`): a good config
// changes what is allowed at once while writes in flight finish under the
// policy they started with; a bad one is refused with file:line and the old
// policy stays in force.
#include <signal.h>

#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/lifecycle/lifecycle_util.h"
#include "tests/support/held_stream.h"
#include "tests/support/test_daemon.h"

namespace durable::test {
namespace {

constexpr char kDataConfig[] =
    "socket { path: \"{base}/durabled.sock\" mode: 0600 }\n"
    "rule { root: \"{base}/data\" allow_uid: {uid} }\n";
constexpr char kOtherConfig[] =
    "socket { path: \"{base}/durabled.sock\" mode: 0600 }\n"
    "rule { root: \"{base}/other\" allow_uid: {uid} }\n";

class ReloadTest : public testing::Test {
 protected:
  void SetUp() override {
    TestDaemonOptions options;
    options.config = kDataConfig;
    options.extra_dirs = {"other"};
    auto daemon = TestDaemon::Start(options);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    client_ = daemon_->NewClient();
  }

  // Writes `config`, sends SIGHUP and waits for the daemon to log that it
  // took (`outcome` "reloaded ") or refused ("reload refused") it.
  void Reload(const std::string& config, const std::string& outcome) {
    const int before = daemon_->CountInLog(outcome);
    daemon_->WriteConfig(config);
    daemon_->Signal(SIGHUP);
    ASSERT_TRUE(daemon_->WaitForLog(outcome, before + 1))
        << "no \"" << outcome << "\" in the log 30s after SIGHUP:\n"
        << daemon_->Log();
  }

  absl::Status WriteStatus(const std::string& relative) {
    return client_->Write(daemon_->Path(relative), relative).status();
  }

  // data/ allowed and other/ denied (kDataConfig), or the reverse.
  void ExpectDataPolicy(const std::string& tag) {
    EXPECT_TRUE(WriteStatus("data/" + tag).ok()) << WriteStatus("data/" + tag);
    EXPECT_TRUE(absl::IsPermissionDenied(WriteStatus("other/" + tag)))
        << WriteStatus("other/" + tag);
  }
  void ExpectOtherPolicy(const std::string& tag) {
    EXPECT_TRUE(WriteStatus("other/" + tag).ok())
        << WriteStatus("other/" + tag);
    EXPECT_TRUE(absl::IsPermissionDenied(WriteStatus("data/" + tag)))
        << WriteStatus("data/" + tag);
  }

  std::unique_ptr<TestDaemon> daemon_;
  std::unique_ptr<Client> client_;
};

TEST_F(ReloadTest,
       ChangedConfigTakesEffectAndInFlightWriteFinishesUnderOldPolicy) {
  ExpectDataPolicy("before");

  // A streamed write under data/, held open after its first chunk.
  HeldStream held(std::string(256 << 10, 'a'), std::string(256 << 10, 'b'));
  ClientOptions stream_options;
  stream_options.chunk_size = 256 << 10;
  auto stream_client = daemon_->NewClient(stream_options);
  const std::string in_flight = daemon_->data() + "/in-flight";
  absl::StatusOr<WriteResult> stream_result =
      absl::UnknownError("not finished");
  std::thread writer([&] {
    stream_result =
        stream_client->WriteStream(in_flight, held.Source(), held.total_size());
  });

  // The daemon has begun the write once its temp file exists in data/.
  ASSERT_TRUE(held.WaitUntilFirstSent(absl::Seconds(30)));
  const bool begun = WaitFor(
      [&] { return !TempFilesIn(daemon_->data()).empty(); }, absl::Seconds(30));
  if (!begun) held.Release();
  ASSERT_TRUE(begun) << "the streamed write never started in the daemon:\n"
                     << daemon_->Log();

  Reload(kOtherConfig, "reloaded ");
  // New calls see the new policy at once, both ways.
  ExpectOtherPolicy("after");

  held.Release();
  writer.join();
  ASSERT_TRUE(stream_result.ok())
      << "the write in flight across the reload failed: "
      << stream_result.status() << "\n"
      << daemon_->Log();
  EXPECT_EQ(stream_result->size, held.total_size());
  auto content = ReadFile(in_flight);
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_TRUE(*content == held.content()) << "content differs";
  EXPECT_TRUE(TempFilesIn(daemon_->data()).empty());

  // And back.
  Reload(kDataConfig, "reloaded ");
  ExpectDataPolicy("again");
}

TEST_F(ReloadTest, BrokenConfigIsRefusedWithFileAndLineAndOldPolicyStays) {
  struct Broken {
    std::string what;
    std::string config;
    std::string expected_in_log;  // besides "reload refused"
  };
  const std::vector<Broken> broken = {
      {"a syntax error on line 3",
       "socket { path: \"{base}/durabled.sock\" mode: 0600 }\n"
       "rule { root: \"{base}/other\" allow_uid: {uid} }\n"
       "rule { root: \"{base}/data\" allow_uid: }\n",
       daemon_->config_path() + ":3:"},
      {"an invalid rule on line 3",
       "socket { path: \"{base}/durabled.sock\" mode: 0600 }\n"
       "rule { root: \"{base}/other\" allow_uid: {uid} }\n"
       "rule { root: \"relative/dir\" allow_uid: {uid} }\n",
       daemon_->config_path() + ":3:"},
      {"an unknown field on line 2",
       "socket { path: \"{base}/durabled.sock\" mode: 0600 }\n"
       "rule { root: \"{base}/other\" allow_uids: {uid} }\n",
       daemon_->config_path() + ":2:"},
      {"a root that does not exist",
       "socket { path: \"{base}/durabled.sock\" mode: 0600 }\n"
       "rule { root: \"{base}/missing\" allow_uid: {uid} }\n",
       daemon_->Path("missing")},
  };
  for (const Broken& b : broken) {
    SCOPED_TRACE(b.what);
    const int logged_before = daemon_->CountInLog(b.expected_in_log);
    Reload(b.config, "reload refused");
    // The reason, with its place in the file, is in the log as an error.
    EXPECT_GT(daemon_->CountInLog(b.expected_in_log), logged_before)
        << daemon_->Log();
    EXPECT_GT(daemon_->CountInLog("<3>reload refused"), 0) << daemon_->Log();
    // The old policy is still in force, and the daemon still serves.
    ExpectDataPolicy("after-refused");
  }

  // A good config after the refused ones is taken.
  Reload(kOtherConfig, "reloaded ");
  ExpectOtherPolicy("after-good");
}

}  // namespace
}  // namespace durable::test
