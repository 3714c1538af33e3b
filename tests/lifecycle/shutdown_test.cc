// SIGTERM (`systemctl stop durabled`): durabled stops accepting, lets calls
// in flight finish, and exits 0. Every write it acknowledged is on disk.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

// Content that differs per writer, per write, and in size (some of it large
// enough to go as a stream).
std::string ContentFor(int writer, int index) {
  const size_t size = (index % 7 == 3) ? (200 << 10) + index : 64 + index * 13;
  std::string content = absl::StrCat("writer ", writer, " write ", index, "\n");
  while (content.size() < size) {
    content.push_back(
        static_cast<char>('a' + (writer * 31 + content.size()) % 26));
  }
  content.resize(size);
  return content;
}

void ExpectExitedZero(TestDaemon& daemon) {
  std::optional<int> status = daemon.WaitForExit(absl::Seconds(90));
  ASSERT_TRUE(status.has_value()) << "durabled still running 90s after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << DescribeWaitStatus(*status) << "\n"
      << daemon.Log();
}

TEST(ShutdownTest, SigtermDuringABurstLosesNoAcknowledgedWriteAndExitsZero) {
  auto started = TestDaemon::Start();
  ASSERT_TRUE(started.ok()) << started.status();
  TestDaemon& daemon = **started;

  constexpr int kWriters = 4;
  constexpr int kMaxWritesPerWriter =
      3000;  // bounds the test if SIGTERM is lost
  std::mutex mu;
  std::map<std::string, std::string> acknowledged;  // path -> content
  std::vector<std::string> first_errors;
  std::atomic<int> acknowledged_count{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      ClientOptions options;
      options.stream_threshold = 64 << 10;  // the large ones go as streams
      options.chunk_size = 32 << 10;
      auto client = daemon.NewClient(options);
      for (int i = 0; i < kMaxWritesPerWriter; ++i) {
        const std::string path = absl::StrCat(daemon.data(), "/w", w, "-", i);
        const std::string content = ContentFor(w, i);
        absl::StatusOr<WriteResult> result = client->Write(path, content);
        std::lock_guard<std::mutex> lock(mu);
        if (!result.ok()) {
          // The daemon is going away; later writes would fail the same way.
          first_errors.push_back(result.status().ToString());
          return;
        }
        acknowledged[path] = content;
        ++acknowledged_count;
      }
    });
  }

  // Stop in the middle of the burst.
  const bool busy =
      WaitFor([&] { return acknowledged_count >= 40; }, absl::Seconds(60));
  daemon.Signal(SIGTERM);
  ExpectExitedZero(daemon);
  for (std::thread& t : writers) t.join();
  ASSERT_TRUE(busy) << "fewer than 40 writes in 60s before SIGTERM";

  EXPECT_EQ(first_errors.size(), static_cast<size_t>(kWriters))
      << "a writer finished all its writes: SIGTERM came too late to test "
         "anything";
  for (const std::string& error : first_errors) {
    // What a caller sees after the stop: the daemon is unreachable (or the
    // call was cut by the drain deadline), never a wrong answer.
    EXPECT_TRUE(absl::StrContains(error, "UNAVAILABLE") ||
                absl::StrContains(error, "CANCELLED"))
        << error;
  }
  std::cout << acknowledged.size() << " writes acknowledged; after SIGTERM: "
            << (first_errors.empty() ? "" : first_errors.front()) << "\n";
  int checked = 0;
  for (const auto& [path, content] : acknowledged) {
    absl::StatusOr<std::string> on_disk = ReadFile(path);
    ASSERT_TRUE(on_disk.ok()) << "acknowledged write lost: " << path;
    ASSERT_TRUE(*on_disk == content)
        << "acknowledged write has other content: " << path;
    ++checked;
  }
  EXPECT_GE(checked, 40);
  EXPECT_TRUE(TempFilesIn(daemon.data()).empty())
      << "temp files left behind after a clean stop";
  const std::string log = daemon.Log();
  EXPECT_TRUE(absl::StrContains(log, "stopping")) << log;
  EXPECT_TRUE(absl::StrContains(log, "stopped")) << log;
}

TEST(ShutdownTest, SigtermLetsAStreamInFlightFinishButRefusesNewCallers) {
  auto started = TestDaemon::Start();
  ASSERT_TRUE(started.ok()) << started.status();
  TestDaemon& daemon = **started;

  HeldStream held(std::string(128 << 10, 'x'), std::string(128 << 10, 'y'));
  ClientOptions options;
  options.chunk_size = 128 << 10;
  auto client = daemon.NewClient(options);
  const std::string target = daemon.data() + "/draining";
  absl::StatusOr<WriteResult> result = absl::UnknownError("not finished");
  std::thread writer([&] {
    result = client->WriteStream(target, held.Source(), held.total_size());
  });
  ASSERT_TRUE(held.WaitUntilFirstSent(absl::Seconds(30)));
  const bool begun = WaitFor(
      [&] { return !TempFilesIn(daemon.data()).empty(); }, absl::Seconds(30));
  if (!begun) held.Release();
  ASSERT_TRUE(begun) << daemon.Log();

  daemon.Signal(SIGTERM);
  const bool stopping = daemon.WaitForLog("stopping");
  // The listener is closed: a new caller is not served.
  const bool refused = WaitFor(
      [&] { return !CanConnect(daemon.socket_path()); }, absl::Seconds(30));
  held.Release();
  writer.join();
  ASSERT_TRUE(stopping) << daemon.Log();
  EXPECT_TRUE(refused) << "still accepting connections after SIGTERM";

  ASSERT_TRUE(result.ok()) << "the write in flight at SIGTERM failed: "
                           << result.status() << "\n"
                           << daemon.Log();
  auto content = ReadFile(target);
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_TRUE(*content == held.content()) << "content differs";
  ExpectExitedZero(daemon);
}

}  // namespace
}  // namespace durable::test
