// A write whose caller is gone (cancelled, or its deadline passed) before
// the daemon publishes publishes nothing: the old content stays. The delay
// comes from the real kernel path: every fsync of the daemon is held back
// with strace (`-e inject=fsync:delay_exit=`), so the client's deadline
// passes while the daemon flushes the temp file, before the rename. Skips,
// saying why, where strace cannot attach.
#include <unistd.h>

#include <iostream>
#include <vector>

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "durable/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/engine/file_replacer.h"
#include "tests/support/strace_injector.h"
#include "tests/support/test_daemon.h"

namespace durable::test {
namespace {

using testing::AnyOf;
using testing::IsEmpty;

constexpr char kOldContent[] = "old content\n";
constexpr absl::Duration kClientTimeout = absl::Milliseconds(400);
// Each fsync of the daemon takes this much longer than it would.
constexpr int kFsyncDelayUs = 1500000;

class CallDeadlineTest : public testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    auto daemon = TestDaemon::Start();
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    auto probe = StraceInjector::Attach(daemon_->pid(), {"-e", "trace=none"});
    if (!probe.ok()) GTEST_SKIP() << probe.status().message();
    (*probe)->Detach();
  }

  bool streamed() const { return GetParam(); }

  // The daemon's audit lines for `path`, once there are at least `count`.
  std::vector<std::string> AuditLinesFor(const std::string& path,
                                         size_t count) {
    std::vector<std::string> lines;
    const absl::Time deadline = absl::Now() + absl::Seconds(15);
    do {
      lines.clear();
      std::string log = daemon_->Log();
      for (absl::string_view line : absl::StrSplit(log, '\n')) {
        if (absl::StrContains(line, "audit op=") &&
            absl::StrContains(line, absl::StrCat("path=\"", path, "\""))) {
          lines.emplace_back(line);
        }
      }
      if (lines.size() >= count) break;
      absl::SleepFor(absl::Milliseconds(20));
    } while (absl::Now() < deadline);
    return lines;
  }

  std::unique_ptr<TestDaemon> daemon_;
};

TEST_P(CallDeadlineTest, WriteWhoseDeadlinePassedBeforePublishingKeepsOld) {
  const std::string path = daemon_->data() + "/state";
  {
    auto planted = daemon_->NewClient()->Write(path, kOldContent);
    ASSERT_TRUE(planted.ok()) << planted.status();
  }
  auto injector = StraceInjector::Attach(
      daemon_->pid(),
      {"-e", "trace=fsync", "-e",
       absl::StrCat("inject=fsync:delay_exit=", kFsyncDelayUs)});
  ASSERT_TRUE(injector.ok()) << injector.status();

  ClientOptions options;
  options.socket_path = daemon_->socket_path();
  options.timeout = kClientTimeout;
  if (streamed()) options.stream_threshold = 0;  // always WriteStream
  Client client(options);
  const absl::Time start = absl::Now();
  absl::StatusOr<WriteResult> result = client.Write(path, "new content\n");
  std::cout << "write with a " << kClientTimeout << " deadline returned "
            << result.status() << " after " << absl::Now() - start << "\n";
  EXPECT_THAT(result.status().code(), AnyOf(absl::StatusCode::kDeadlineExceeded,
                                            absl::StatusCode::kCancelled))
      << result.status();

  // The daemon finishes its (delayed) fsync, then must not publish.
  std::vector<std::string> audit = AuditLinesFor(path, 2);
  ASSERT_EQ(audit.size(), 2u) << daemon_->Log();
  std::cout << "daemon: " << audit[1] << "\n";
  EXPECT_TRUE(absl::StrContains(audit[1], "result=CANCELLED")) << audit[1];
  (*injector)->Detach();
  EXPECT_EQ(*ReadFile(path), kOldContent) << daemon_->Log();
  std::vector<std::string> temps;
  for (const std::string& name : ListDirectory(daemon_->data())) {
    if (absl::StartsWith(name, kTempFilePrefix)) temps.push_back(name);
  }
  EXPECT_THAT(temps, IsEmpty());
  // The daemon still serves.
  auto next = daemon_->NewClient()->Write(path, "later\n");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*ReadFile(path), "later\n");
}

INSTANTIATE_TEST_SUITE_P(UnaryAndStreamed, CallDeadlineTest, testing::Bool(),
                         [](const testing::TestParamInfo<bool>& info) {
                           return info.param ? "WriteStream" : "Write";
                         });

}  // namespace
}  // namespace durable::test
