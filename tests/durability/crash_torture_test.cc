// Crash torture: many concurrent clients write against the real daemon,
// which is killed with SIGKILL at random moments and restarted on the same
// root. After every restart each target must hold its last acknowledged
// content or a later one that was in flight: never older, never empty,
// never torn or mixed; and no temp file may remain (the start-up sweep runs
// before the daemon listens).
//
// Every content names its target and sequence number and ends with the
// SHA-256 of everything before it, so torn or mixed content is detected.
//
// DURABLED_TORTURE_KILLS sets the number of kills (default 20, for CI);
// DURABLED_TORTURE_SEED fixes the random seed (printed otherwise).
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "durable/client.h"
#include "gtest/gtest.h"
#include "server/engine/file_replacer.h"
#include "server/engine/sha256.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_daemon.h"
#include "tests/support/torture_support.h"

namespace durable {

using test::IsOk;

namespace {

using test::EnvInt;
using test::ListDirectory;
using test::ReadFile;
using test::SweptTempFiles;
using test::TestDaemon;
using test::WaitUntilServing;

constexpr int kThreads = 8;
constexpr int kTargetsPerThread = 4;
constexpr char kHeaderPrefix[] = "durabled-torture target=";
constexpr char kTrailerPrefix[] = "\nsha256=";

// The content of version `seq` of `target`: a header naming both, a
// deterministic payload of `size` bytes, and the SHA-256 of all that.
std::string MakeContent(const std::string& target, uint64_t seq, size_t size) {
  std::string content =
      absl::StrCat(kHeaderPrefix, target, " seq=", seq, " size=", size, "\n");
  std::mt19937_64 bytes(std::hash<std::string>()(target) * 1000003 + seq);
  content.reserve(content.size() + size + 80);
  for (size_t i = 0; i < size; ++i) {
    content.push_back(static_cast<char>('a' + bytes() % 26));
  }
  absl::StrAppend(&content, kTrailerPrefix,
                  absl::BytesToHexString(Sha256::Of(content)), "\n");
  return content;
}

struct Parsed {
  std::string target;
  uint64_t seq = 0;
};

// Checks `content` is one whole version; returns what it names.
absl::StatusOr<Parsed> ParseContent(const std::string& content) {
  const size_t trailer = content.rfind(kTrailerPrefix);
  if (content.empty()) return absl::DataLossError("empty");
  if (!absl::StartsWith(content, kHeaderPrefix) ||
      trailer == std::string::npos) {
    return absl::DataLossError("no header or trailer (torn)");
  }
  const std::string body = content.substr(0, trailer);
  const std::string expected = absl::StrCat(
      kTrailerPrefix, absl::BytesToHexString(Sha256::Of(body)), "\n");
  if (content.substr(trailer) != expected) {
    return absl::DataLossError("checksum mismatch (torn or mixed)");
  }
  absl::string_view header = absl::string_view(body).substr(0, body.find('\n'));
  header.remove_prefix(strlen(kHeaderPrefix));
  std::vector<std::string> fields = absl::StrSplit(header, ' ');
  Parsed parsed;
  if (fields.size() != 3 || !absl::StartsWith(fields[1], "seq=") ||
      !absl::SimpleAtoi(fields[1].substr(4), &parsed.seq)) {
    return absl::DataLossError("bad header");
  }
  parsed.target = fields[0];
  return parsed;
}

// What the clients know about one target.
struct TargetLog {
  std::string name;           // "a/t3-1"
  uint64_t acknowledged = 0;  // last seq answered OK (0: none)
  uint64_t attempted = 0;     // last seq sent (acknowledged or not)
};

struct Totals {
  std::atomic<uint64_t> acknowledged{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> streamed{0};
  std::mutex mu;
  std::map<absl::StatusCode, uint64_t> failures_by_code;  // guarded by mu
  std::string example_failure;                            // guarded by mu
};

// One client thread: writes its own targets in turn until `stop`.
void ClientLoop(const std::string& socket, const std::string& data_root,
                std::vector<TargetLog*> targets, uint64_t seed,
                const std::atomic<bool>& stop, Totals& totals) {
  ClientOptions options;
  options.socket_path = socket;
  options.timeout = absl::Seconds(20);
  options.stream_threshold = 32 << 10;  // larger contents go as streams
  options.chunk_size = 16 << 10;
  Client client(options);
  std::mt19937_64 random(seed);
  size_t next = 0;
  while (!stop.load()) {
    TargetLog& target = *targets[next++ % targets.size()];
    // Mostly small, sometimes large enough to stream in many chunks.
    const int kind = random() % 16;
    const size_t size = kind < 10   ? random() % 2048
                        : kind < 14 ? random() % (32 << 10)
                                    : (32 << 10) + random() % (256 << 10);
    const uint64_t seq = target.attempted + 1;
    target.attempted = seq;
    const std::string content = MakeContent(target.name, seq, size);
    absl::StatusOr<WriteResult> result =
        client.Write(absl::StrCat(data_root, "/", target.name), content);
    if (size >= options.stream_threshold) ++totals.streamed;
    if (result.ok()) {
      target.acknowledged = seq;
      ++totals.acknowledged;
    } else {
      ++totals.failed;
      {
        std::lock_guard<std::mutex> lock(totals.mu);
        if (totals.failures_by_code[result.status().code()]++ == 0 &&
            !absl::IsUnavailable(result.status())) {
          totals.example_failure = result.status().ToString();
        }
      }
      // The daemon is most likely gone; do not spin.
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
}

class CrashTortureTest : public testing::Test {
 protected:
  void SetUp() override {
    char root[] = "/tmp/durabled-torture.XXXXXX";
    ASSERT_NE(mkdtemp(root), nullptr);
    root_ = root;
    chmod(root_.c_str(), 0755);
    data_ = root_ + "/data";
    for (const std::string& dir : {data_, data_ + "/a", data_ + "/b"}) {
      ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << dir;
    }
    for (int thread = 0; thread < kThreads; ++thread) {
      for (int i = 0; i < kTargetsPerThread; ++i) {
        auto log = std::make_unique<TargetLog>();
        log->name = absl::StrCat(i % 2 == 0 ? "a" : "b", "/t", thread, "-", i);
        targets_.push_back(std::move(log));
      }
    }
    config_ = absl::StrCat(
        "socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
        "rule { root: \"",
        data_, "\" allow_uid: {uid} }\n");
  }

  void TearDown() override {
    std::string command = absl::StrCat("rm -rf '", root_, "'");
    if (std::system(command.c_str()) != 0) {
      // Best effort.
    }
  }

  // Checks every target against the log and the tree for temp files.
  void Verify(const std::string& when) {
    for (const auto& target : targets_) {
      const std::string path = absl::StrCat(data_, "/", target->name);
      absl::StatusOr<std::string> content = ReadFile(path);
      if (!content.ok()) {
        EXPECT_EQ(target->acknowledged, 0u)
            << when << ": " << target->name << " is missing, but seq "
            << target->acknowledged << " was acknowledged";
        continue;
      }
      absl::StatusOr<Parsed> parsed = ParseContent(*content);
      ASSERT_TRUE(parsed.ok())
          << when << ": " << target->name << " is " << parsed.status().message()
          << " (" << content->size() << " bytes): \""
          << absl::CEscape(content->substr(0, 120)) << "\"";
      EXPECT_EQ(parsed->target, target->name) << when;
      EXPECT_GE(parsed->seq, target->acknowledged)
          << when << ": " << target->name
          << " went back before its last acknowledged write";
      EXPECT_LE(parsed->seq, target->attempted)
          << when << ": " << target->name << " holds a version never sent";
      EXPECT_GE(parsed->seq, 1u);
    }
    for (const std::string& dir : {data_, data_ + "/a", data_ + "/b"}) {
      for (const std::string& name : ListDirectory(dir)) {
        EXPECT_FALSE(IsTempFileName(name))
            << when << ": temp file " << dir << "/" << name
            << " remains after the start-up sweep";
      }
    }
  }

  std::string root_;
  std::string data_;
  std::string config_;
  std::vector<std::unique_ptr<TargetLog>> targets_;
};

TEST_F(CrashTortureTest, KillAtRandomMomentsNeverLosesOrTearsAWrite) {
  const int kills = EnvInt("DURABLED_TORTURE_KILLS", 20);
  const uint64_t seed =
      EnvInt("DURABLED_TORTURE_SEED",
             static_cast<int>(absl::ToUnixMicros(absl::Now()) & 0x7fffffff));
  std::printf("[ torture ] %d kills, seed %llu\n", kills,
              static_cast<unsigned long long>(seed));
  std::mt19937_64 random(seed);
  Totals totals;
  uint64_t swept = 0;
  int killed_by_sigkill = 0;
  int early_kills = 0;
  const absl::Time start = absl::Now();

  for (int round = 0; round < kills; ++round) {
    absl::StatusOr<std::unique_ptr<TestDaemon>> daemon =
        TestDaemon::Start(config_);
    ASSERT_THAT(daemon, IsOk())
        << "restart " << round << ": " << daemon.status();
    if (random() % 10 == 0) {
      // Now and then a kill during start-up, perhaps in the middle of the
      // start-up sweep; the next start must finish the job.
      std::this_thread::sleep_for(std::chrono::milliseconds(random() % 3));
      const int status = (*daemon)->StopWith(SIGKILL);
      killed_by_sigkill += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
      ++early_kills;
      continue;
    }
    // The socket accepts connections from the bind on, but the daemon
    // serves them only after its start-up sweep: one answered call means
    // the sweep is done.
    ASSERT_TRUE(WaitUntilServing(**daemon)) << "restart " << round;
    Verify(absl::StrCat("after restart ", round));
    if (HasFatalFailure()) return;

    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int thread = 0; thread < kThreads; ++thread) {
      std::vector<TargetLog*> own;
      for (int i = 0; i < kTargetsPerThread; ++i) {
        own.push_back(targets_[thread * kTargetsPerThread + i].get());
      }
      clients.emplace_back(ClientLoop, (*daemon)->socket_path(), data_, own,
                           random(), std::cref(stop), std::ref(totals));
    }
    // A random moment: mostly while writes are in full swing, sometimes
    // right at the start.
    const int delay_ms = random() % 8 == 0 ? random() % 5 : random() % 150;
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    const int status = (*daemon)->StopWith(SIGKILL);
    killed_by_sigkill += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    stop = true;
    for (std::thread& client : clients) client.join();
    swept += SweptTempFiles((*daemon)->Log());
  }

  // A last restart: the state after the final kill, then a clean round in
  // which every target gets one more acknowledged write, and a clean stop.
  absl::StatusOr<std::unique_ptr<TestDaemon>> daemon =
      TestDaemon::Start(config_);
  ASSERT_THAT(daemon, IsOk());
  ASSERT_TRUE(WaitUntilServing(**daemon));
  swept += SweptTempFiles((*daemon)->Log());
  Verify("after the last restart");
  std::unique_ptr<Client> client = (*daemon)->NewClient();
  for (const auto& target : targets_) {
    const uint64_t seq = ++target->attempted;
    const std::string content = MakeContent(target->name, seq, 100);
    absl::StatusOr<WriteResult> result =
        client->Write(absl::StrCat(data_, "/", target->name), content);
    ASSERT_THAT(result, IsOk());
    target->acknowledged = seq;
    EXPECT_EQ(ReadFile(absl::StrCat(data_, "/", target->name)).value_or(""),
              content);
  }
  Verify("after the final clean round");

  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf(
      "[ torture ] %d SIGKILLs (%d confirmed) in %.1f s: %llu writes "
      "acknowledged, %llu failed (in flight at a kill), %llu streamed; the "
      "start-up sweep removed %llu leftover temp files\n",
      kills, killed_by_sigkill, seconds,
      static_cast<unsigned long long>(totals.acknowledged.load()),
      static_cast<unsigned long long>(totals.failed.load()),
      static_cast<unsigned long long>(totals.streamed.load()),
      static_cast<unsigned long long>(swept));
  std::string codes;
  for (const auto& [code, count] : totals.failures_by_code) {
    absl::StrAppend(&codes, codes.empty() ? "" : ", ",
                    absl::StatusCodeToString(code), " ", count);
  }
  std::printf(
      "[ torture ] %d kills during start-up; failed writes by code: %s%s\n",
      early_kills, codes.c_str(),
      totals.example_failure.empty()
          ? ""
          : absl::StrCat(" (e.g. ", totals.example_failure, ")").c_str());
  RecordProperty("kills", kills);
  RecordProperty("acknowledged", static_cast<int>(totals.acknowledged));
  EXPECT_EQ(killed_by_sigkill, kills);
  EXPECT_GT(totals.acknowledged.load(), 0u);
}

}  // namespace
}  // namespace durable
