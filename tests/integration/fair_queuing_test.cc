// Fair queuing across callers, against the real daemon over its socket: one
// uid's flood of writes cannot starve another uid's writes.
//
// uid A (the test's own) floods the daemon from kConnections connections,
// each carrying kThreadsPerConnection calls at a time, far more writes in
// progress than the daemon has workers or batch slots. uid B (kNobody, a
// separate process) then makes kBWrites sequential writes over one
// connection. The test counts, never times: how many of A's writes
// completed between B's start and B's end. With the worker pool taking
// tenants in turn and batches taking targets round-robin across tenants,
// each of B's writes waits for at most about one task per other tenant
// (the workers' current tasks) and the batch being committed, so A
// completes at most about workers + two batches per B write. A FIFO pool
// makes each of B's writes wait behind A's whole backlog instead.
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "durable/client.h"
#include "gtest/gtest.h"
#include "tests/adversarial/adversarial_support.h"
#include "tests/support/spawn.h"
#include "tests/support/test_daemon.h"

namespace durable::test {
namespace {

using adversarial::HelperProcess;
using adversarial::kNobody;

constexpr int kConnections = 32;
constexpr int kThreadsPerConnection = 8;
constexpr int kWritesPerThread = 60;
constexpr int kAWritesTotal =
    kConnections * kThreadsPerConnection * kWritesPerThread;
// A's completions before B starts: the flood is in full swing.
constexpr int kWarmUp = 2 * kConnections * kThreadsPerConnection;
constexpr int kBWrites = 20;
// The daemon's worker threads (its default), and the batch size and
// committers it is configured with: every worker may be drafted into
// committing, so while they flush, A's backlog waits in the worker pool,
// where fairness has to come from.
constexpr int kWorkers = 8;
constexpr int kMaxBatch = 16;
// A's completions per B write, at most, on average: the tasks the workers
// are running when B's task arrives, the batch being committed when B's
// write is ready, and B's own batch. A FIFO pool would add A's whole
// backlog (about kConnections * kThreadsPerConnection).
constexpr int kMaxAPerBWrite = kWorkers + 2 * kMaxBatch;

// Room for all of A's writes at once, and B's uid next to A's.
TestDaemonOptions DaemonOptions() {
  TestDaemonOptions options;
  options.config = absl::StrCat(
      "socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
      "limits { max_concurrent_writes: 1024 "
      "max_concurrent_writes_per_uid: 1024 max_connections_per_uid: 128 }\n"
      "commit { max_batch: ",
      kMaxBatch, " committers: ", kWorkers,
      " }\n"
      "rule { root: \"{base}/data\" allow_uid: {uid} allow_uid: ",
      kNobody, " }\n");
  options.flags = {absl::StrCat("--worker_threads=", kWorkers)};
  return options;
}

constexpr char kHelperOp[] = "sequential-writes";

// The helper (uid B): connects, prints "state=ready", waits until its stdin
// closes, prints "state=start", makes --count writes of --prefix<i> one
// after another (printing "done=<i>" or "error=<status>" after each), then
// prints "state=end".
int SequentialWrites(const adversarial::helper::Flags& flags) {
  ClientOptions options;
  options.socket_path = flags.Get("socket");
  Client client(options);
  absl::StatusOr<CallerInfo> me = client.WhoAmI();
  if (!me.ok()) {
    adversarial::helper::Emit("error", me.status().ToString());
    return 1;
  }
  adversarial::helper::Emit("state", "ready");
  char byte;
  while (read(STDIN_FILENO, &byte, 1) > 0) {
  }
  adversarial::helper::Emit("state", "start");
  const int count = static_cast<int>(flags.Int("count", kBWrites));
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<WriteResult> written =
        client.Write(absl::StrCat(flags.Get("prefix"), i), "written by B\n");
    if (written.ok()) {
      adversarial::helper::Emit("done", i);
    } else {
      adversarial::helper::Emit("error", written.status().ToString());
    }
  }
  adversarial::helper::Emit("state", "end");
  return 0;
}

class FairQueuingTest : public testing::Test {
 protected:
  void SetUp() override {
    if (!adversarial::IsRoot()) {
      GTEST_SKIP() << "needs root: the second caller runs under uid "
                   << kNobody;
    }
    absl::StatusOr<std::unique_ptr<TestDaemon>> daemon =
        TestDaemon::Start(DaemonOptions());
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
  }

  std::unique_ptr<TestDaemon> daemon_;
};

TEST_F(FairQueuingTest, AFloodOfOneUidDoesNotStarveAnother) {
  std::unique_ptr<HelperProcess> b = HelperProcess::Spawn(
      adversarial::CredentialsOf(kNobody),
      {kHelperOp, absl::StrCat("--socket=", daemon_->socket_path()),
       absl::StrCat("--prefix=", daemon_->data(), "/b-"),
       absl::StrCat("--count=", kBWrites)});
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(b->WaitForLine("state=ready", absl::Seconds(30)))
      << b->result().out << b->result().err;

  // uid A's flood: every thread writes its own file again and again.
  std::atomic<int> a_ok{0};
  std::atomic<int> a_failed{0};
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<std::thread> flood;
  for (int c = 0; c < kConnections; ++c) {
    clients.push_back(daemon_->NewClient());
    for (int t = 0; t < kThreadsPerConnection; ++t) {
      flood.emplace_back([&, client = clients.back().get(), c, t] {
        const std::string path =
            absl::StrCat(daemon_->data(), "/a-", c, "-", t);
        const std::string content(4096, 'A');
        for (int i = 0; i < kWritesPerThread; ++i) {
          absl::StatusOr<WriteResult> written = client->Write(path, content);
          (written.ok() ? a_ok : a_failed).fetch_add(1);
        }
      });
    }
  }
  const bool warm =
      WaitFor([&] { return a_ok.load() >= kWarmUp; }, absl::Seconds(120));

  const int a_at_start = a_ok.load();
  b->CloseStdin();
  const bool ended = b->WaitForLine("state=end", absl::Seconds(300));
  const int a_at_end = a_ok.load();
  for (std::thread& thread : flood) thread.join();
  const adversarial::HelperResult& result = b->Wait();

  ASSERT_TRUE(warm) << "A's flood did not get going";
  ASSERT_TRUE(ended) << result.Describe();
  EXPECT_EQ(a_failed.load(), 0);
  EXPECT_EQ(a_ok.load(), kAWritesTotal);
  EXPECT_EQ(result.All("done").size(), size_t{kBWrites}) << result.Describe();
  EXPECT_TRUE(result.All("error").empty()) << result.Describe();

  const int a_during_b = a_at_end - a_at_start;
  std::printf(
      "[ fair    ] A completed %d writes while B made %d (%.1f per B write; "
      "at most %d allowed), %d of %d before B ended\n",
      a_during_b, kBWrites, static_cast<double>(a_during_b) / kBWrites,
      kMaxAPerBWrite, a_at_end, kAWritesTotal);
  EXPECT_LE(a_during_b, kMaxAPerBWrite * kBWrites);
  EXPECT_LT(a_at_end, kAWritesTotal / 2)
      << "B finished only after most of A's flood";
}

}  // namespace
}  // namespace durable::test

int main(int argc, char** argv) {
  return durable::test::adversarial::AdversarialMain(
      argc, argv, [](const durable::test::adversarial::helper::Flags& flags) {
        if (flags.op == durable::test::kHelperOp) {
          return durable::test::SequentialWrites(flags);
        }
        durable::test::adversarial::helper::Emit("error", "unknown operation");
        return 2;
      });
}
