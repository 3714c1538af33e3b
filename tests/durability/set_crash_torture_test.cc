// Set crash torture: client threads send overlapping WriteSets of 2-10
// members (writes, sometimes removes) mixed with single writes and removes,
// all on one shared pool of targets under one root, while the real daemon
// is killed with SIGKILL at random moments and restarted on the same root.
//
// Every content names the operation that wrote it, its target and its
// member index, and ends with the SHA-256 of everything before it, so a
// torn or mixed file is detected and every file's content is traced to
// exactly one operation.
//
// Time: one global counter, read before each call (start) and after each
// answered OK (done). A call that was not answered OK may still take
// effect, but only while its daemon lives or in the start-up recovery of
// the next one, which runs before the next round's first call: its done
// is the counter read after its round (kill, clients joined). Operation X
// is definitely older than Y, X < Y, if done(X) < start(Y): X took effect,
// if at all, before Y began. The initial state (absent) is older than all.
//
// After every restart (the start-up recovery has run: one call was
// answered) and at the end, with P(T) the operation whose content target
// T holds:
//  (a) no temp file (.durabled-tmp.*) or commit record (.durabled-set.*)
//      anywhere under the root, and no file that is not a target;
//  (b) every file is one whole content (header, payload, checksum) naming
//      its own target, of an operation that wrote that target;
//  (c) nothing refused is visible: a call answered NOT_FOUND (a remove
//      member missing) published nothing;
//  (d) never older than acknowledged: for every operation O answered OK
//      that touched T, P(T) is not older than O (not P(T) < O). An absent
//      T needs a remove R of T with not R < O (or no O at all);
//  (e) no torn set: if some target holds set S's content, S was published
//      (or is being rolled forward), so each other member M of S holds S's
//      state (S's content; absent for S's remove) or that of an operation
//      not older than S. Holding the content of an operation answered OK
//      before S even started, or being absent with no remove of M that is
//      not older than S, means that member of S was lost.
// (d) makes every acknowledged set whole; (e) catches sets that were cut
// off after their commit point, acknowledged or not.
//
// DURABLED_SET_TORTURE_KILLS sets the number of kills under load (default
// 300; 100 under AddressSanitizer, where a start takes several times
// longer); DURABLED_SET_TORTURE_SEED fixes the random seed (printed).
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "durable/client.h"
#include "gtest/gtest.h"
#include "server/engine/file_replacer.h"
#include "server/engine/set_record.h"
#include "server/engine/sha256.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_daemon.h"
#include "tests/support/torture_support.h"

namespace durable {

using test::IsOk;

namespace {

using test::EnvInt;
using test::ListDirectory;
using test::MakeMemberContent;
using test::OpId;
using test::ParsedMember;
using test::ParseMemberContent;
using test::ReadFile;
using test::SweptTempFiles;
using test::TestDaemon;
using test::WaitUntilServing;

#ifdef DURABLED_TEST_UNDER_ASAN
constexpr int kDefaultKills = 100;
#else
constexpr int kDefaultKills = 300;
#endif
constexpr int kThreads = 8;
constexpr int kTargets = 24;
constexpr int kMinMembers = 2;
constexpr int kMaxMembers = 10;
constexpr char kHeaderPrefix[] = "durabled-set-torture op=";

// Target i: eight in the root, eight in a/, eight in b/c/.
std::string TargetName(int i) {
  const char* dir = i % 3 == 0 ? "" : i % 3 == 1 ? "a/" : "b/c/";
  return absl::StrCat(dir, "t", i);
}

std::string MakeContent(OpId id, const std::string& target, int member,
                        int members, size_t size) {
  return MakeMemberContent(kHeaderPrefix, id, target, member, members, size);
}

using Parsed = ParsedMember;

// Checks `content` is one whole content; returns what its header names.
absl::StatusOr<Parsed> ParseContent(const std::string& content) {
  return ParseMemberContent(kHeaderPrefix, content);
}

struct Member {
  int target = 0;
  bool remove = false;
};

// One call, as its client saw it.
struct Op {
  bool set = false;  // WriteSet, else a single Write or Remove
  std::vector<Member> members;
  int64_t start = 0;  // the clock before the call
  // The clock after OK; for any other outcome the clock after its round.
  int64_t done = 0;
  bool acknowledged = false;
  // Answered NOT_FOUND (a remove of a missing file): nothing published.
  bool refused = false;
  int round = 0;
};

struct Totals {
  std::atomic<uint64_t> sets_acknowledged{0};
  std::atomic<uint64_t> singles_acknowledged{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> unknown{0};  // UNKNOWN: committed, finished later
  std::mutex mu;
  std::map<absl::StatusCode, uint64_t> failures_by_code;  // guarded by mu
  std::string example_failure;                            // guarded by mu
};

struct Shared {
  std::atomic<int64_t> clock{1};
  // Whether each target probably exists (last acknowledged operation
  // wrote it): only to keep removes of missing files rare.
  std::atomic<bool> exists[kTargets] = {};
};

// One client thread for one round: random operations until `stop`,
// recorded in `log` (thread `thread`'s, only it appends while it runs).
void ClientLoop(const std::string& socket, const std::string& data_root,
                int thread, int round, std::vector<Op>* log, uint64_t seed,
                const std::atomic<bool>& stop, Shared& shared, Totals& totals) {
  ClientOptions options;
  options.socket_path = socket;
  options.timeout = absl::Seconds(20);
  options.stream_threshold = 32 << 10;
  options.chunk_size = 16 << 10;
  Client client(options);
  std::mt19937_64 random(seed);
  std::vector<int> pool(kTargets);
  for (int i = 0; i < kTargets; ++i) pool[i] = i;
  auto path_of = [&](int target) {
    return absl::StrCat(data_root, "/", TargetName(target));
  };
  auto size = [&]() -> size_t {
    const int kind = random() % 32;
    return kind < 24   ? random() % 1024
           : kind < 31 ? random() % (16 << 10)
                       : (16 << 10) + random() % (96 << 10);
  };
  while (!stop.load()) {
    Op op;
    op.round = round;
    const int kind = random() % 10;
    std::shuffle(pool.begin(), pool.end(), random);
    if (kind < 6) {
      op.set = true;
      const int n = kMinMembers + random() % (kMaxMembers - kMinMembers + 1);
      bool any_write = false;
      for (int i = 0; i < n; ++i) {
        Member member{pool[i],
                      shared.exists[pool[i]].load() && random() % 6 == 0};
        any_write |= !member.remove;
        op.members.push_back(member);
      }
      // A set of removes only shows nowhere whether it was published.
      if (!any_write) op.members[0].remove = false;
    } else {
      op.members.push_back(
          {pool[0], kind == 9 && shared.exists[pool[0]].load()});
    }
    const OpId id{thread, static_cast<int>(log->size())};
    std::vector<std::string> contents;
    for (size_t i = 0; i < op.members.size(); ++i) {
      contents.push_back(op.members[i].remove
                             ? ""
                             : MakeContent(id, TargetName(op.members[i].target),
                                           static_cast<int>(i),
                                           static_cast<int>(op.members.size()),
                                           size()));
    }
    op.start = shared.clock++;
    log->push_back(op);
    absl::Status status;
    if (op.set) {
      WriteSetBuilder builder;
      for (size_t i = 0; i < op.members.size(); ++i) {
        if (op.members[i].remove) {
          builder.Remove(path_of(op.members[i].target));
        } else {
          builder.Write(path_of(op.members[i].target), std::move(contents[i]));
        }
      }
      status = client.WriteSet(builder).status();
    } else if (op.members[0].remove) {
      status = client.Remove(path_of(op.members[0].target)).status();
    } else {
      status =
          client.Write(path_of(op.members[0].target), contents[0]).status();
    }
    Op& recorded = log->back();
    if (status.ok()) {
      recorded.done = shared.clock++;
      recorded.acknowledged = true;
      ++(op.set ? totals.sets_acknowledged : totals.singles_acknowledged);
      for (const Member& member : op.members) {
        shared.exists[member.target] = !member.remove;
      }
      continue;
    }
    if (absl::IsNotFound(status)) {
      recorded.refused = true;
      ++totals.refused;
      continue;
    }
    ++totals.failed;
    if (absl::IsUnknown(status)) ++totals.unknown;
    {
      std::lock_guard<std::mutex> lock(totals.mu);
      if (totals.failures_by_code[status.code()]++ == 0 &&
          !absl::IsUnavailable(status)) {
        totals.example_failure = status.ToString();
      }
    }
    // The daemon is most likely gone; do not spin.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// The state of one target as found on disk.
struct Found {
  bool present = false;
  const Op* op = nullptr;  // present: the operation whose content it is
  OpId id;
};

class SetCrashTortureTest : public testing::Test {
 protected:
  void SetUp() override {
    char root[] = "/tmp/durabled-set-torture.XXXXXX";
    ASSERT_NE(mkdtemp(root), nullptr);
    root_ = root;
    chmod(root_.c_str(), 0755);
    data_ = root_ + "/data";
    for (const std::string& dir :
         {data_, data_ + "/a", data_ + "/b", data_ + "/b/c"}) {
      ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << dir;
    }
    for (int i = 0; i < kTargets; ++i) names_[TargetName(i)] = i;
    logs_.resize(kThreads);
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

  static std::string Describe(OpId id, const Op& op) {
    std::string members;
    for (const Member& member : op.members) {
      absl::StrAppend(&members, members.empty() ? "" : ",",
                      member.remove ? "-" : "", TargetName(member.target));
    }
    return absl::StrCat(op.set ? "set " : "single ", id.thread, ".", id.index,
                        " [", members, "] round ", op.round, " start ",
                        op.start, " done ", op.done,
                        op.acknowledged ? " (OK)"
                        : op.refused    ? " (NOT_FOUND)"
                                        : " (not answered OK)");
  }

  // (a): every entry under `dir` (relative `rel`) is a target or one of
  // our directories.
  void CheckTree(const std::string& dir, const std::string& rel,
                 const std::string& when) {
    for (const std::string& name : ListDirectory(dir)) {
      const std::string path = absl::StrCat(dir, "/", name);
      const std::string relative = rel.empty() ? name : rel + "/" + name;
      EXPECT_FALSE(IsTempFileName(name))
          << when << ": temp file " << relative << " remains after restart";
      EXPECT_FALSE(IsSetRecordName(name))
          << when << ": commit record " << relative << " remains after restart";
      struct stat st;
      ASSERT_EQ(lstat(path.c_str(), &st), 0) << path;
      if (S_ISDIR(st.st_mode)) {
        EXPECT_TRUE(relative == "a" || relative == "b" || relative == "b/c" ||
                    relative == ".durabled-sets")
            << when << ": unexpected directory " << relative;
        CheckTree(path, relative, when);
      } else if (!IsTempFileName(name) && !IsSetRecordName(name)) {
        EXPECT_TRUE(S_ISREG(st.st_mode) && names_.count(relative) == 1)
            << when << ": unexpected file " << relative;
      }
    }
  }

  // Checks (a)-(e) against everything the clients recorded; every round
  // so far must be over (its operations' done set).
  void Verify(const std::string& when) {
    CheckTree(data_, "", when);
    // Per target: the latest start of an operation answered OK that
    // touched it, and the latest done of a remove of it that may have
    // taken effect (-1: none).
    std::vector<int64_t> latest_acked_start(kTargets, -1);
    std::vector<int64_t> latest_remove_done(kTargets, -1);
    for (const std::vector<Op>& log : logs_) {
      for (const Op& op : log) {
        for (const Member& member : op.members) {
          if (op.acknowledged) {
            latest_acked_start[member.target] =
                std::max(latest_acked_start[member.target], op.start);
          }
          if (member.remove && !op.refused) {
            latest_remove_done[member.target] =
                std::max(latest_remove_done[member.target], op.done);
          }
        }
      }
    }
    std::vector<Found> found(kTargets);
    for (int t = 0; t < kTargets; ++t) {
      const std::string name = TargetName(t);
      absl::StatusOr<std::string> content =
          ReadFile(absl::StrCat(data_, "/", name));
      if (!content.ok()) {
        // (d) for an absent target.
        EXPECT_TRUE(latest_acked_start[t] < 0 ||
                    latest_remove_done[t] > latest_acked_start[t])
            << when << ": " << name
            << " is missing, but an operation on it that started at "
            << latest_acked_start[t]
            << " was acknowledged and no remove of it may have come later";
        continue;
      }
      // (b)
      absl::StatusOr<Parsed> parsed = ParseContent(*content);
      ASSERT_TRUE(parsed.ok())
          << when << ": " << name << " is " << parsed.status().message() << " ("
          << content->size() << " bytes): \""
          << absl::CEscape(content->substr(0, 120)) << "\"";
      ASSERT_EQ(parsed->target, name) << when << ": content of another file";
      ASSERT_TRUE(parsed->id.thread >= 0 && parsed->id.thread < kThreads &&
                  parsed->id.index >= 0 &&
                  parsed->id.index <
                      static_cast<int>(logs_[parsed->id.thread].size()))
          << when << ": " << name << " holds an operation never sent";
      const Op& op = logs_[parsed->id.thread][parsed->id.index];
      ASSERT_TRUE(parsed->member >= 0 &&
                  parsed->member < static_cast<int>(op.members.size()) &&
                  parsed->members == static_cast<int>(op.members.size()) &&
                  op.members[parsed->member].target == t &&
                  !op.members[parsed->member].remove)
          << when << ": " << name << " holds content its operation did not "
          << "write there: " << Describe(parsed->id, op);
      // (c)
      EXPECT_FALSE(op.refused)
          << when << ": " << name << " holds the content of a refused "
          << Describe(parsed->id, op);
      // (d)
      EXPECT_GT(op.done, latest_acked_start[t])
          << when << ": " << name << " went back: it holds "
          << Describe(parsed->id, op)
          << ", but an operation on it that started at "
          << latest_acked_start[t] << " was acknowledged";
      found[t] = {true, &op, parsed->id};
    }
    // (e), once per set seen
    std::set<const Op*> checked;
    for (int t = 0; t < kTargets; ++t) {
      if (!found[t].present || !found[t].op->set) continue;
      const Op& set = *found[t].op;
      if (!checked.insert(&set).second) continue;
      std::string lost;
      for (const Member& member : set.members) {
        const Found& other = found[member.target];
        if (!other.present) {
          if (!member.remove &&
              latest_remove_done[member.target] <= set.start) {
            absl::StrAppend(&lost, "\n  ", TargetName(member.target),
                            " is missing, and no remove of it is as recent");
          }
        } else if (other.op != &set && other.op->done < set.start) {
          absl::StrAppend(&lost, "\n  ", TargetName(member.target),
                          " holds the older ", Describe(other.id, *other.op));
        }
      }
      EXPECT_TRUE(lost.empty())
          << when << ": torn set " << Describe(found[t].id, set) << ": "
          << TargetName(t) << " holds its content, but (older = done before "
          << "the set started):" << lost;
    }
  }

  // Marks the end of a round: every operation not answered OK took effect
  // (if at all) before now.
  void EndRound(int64_t now) {
    for (std::vector<Op>& log : logs_) {
      for (Op& op : log) {
        if (op.done == 0) op.done = now;
      }
    }
  }

  std::string root_;
  std::string data_;
  std::string config_;
  std::map<std::string, int> names_;
  std::vector<std::vector<Op>> logs_;
};

TEST_F(SetCrashTortureTest, KillDuringOverlappingSetsNeverTearsASet) {
  const int kills = EnvInt("DURABLED_SET_TORTURE_KILLS", kDefaultKills);
  const uint64_t seed =
      EnvInt("DURABLED_SET_TORTURE_SEED",
             static_cast<int>(absl::ToUnixMicros(absl::Now()) & 0x7fffffff));
  std::printf("[ set torture ] %d kills under load, seed %llu\n", kills,
              static_cast<unsigned long long>(seed));
  std::mt19937_64 random(seed);
  Shared shared;
  Totals totals;
  uint64_t swept = 0;
  uint64_t sets_finished = 0;  // rolled forward by start-up recovery
  int load_kills = 0;
  int early_kills = 0;
  int confirmed = 0;
  const absl::Time start = absl::Now();

  for (int round = 0; load_kills < kills; ++round) {
    absl::StatusOr<std::unique_ptr<TestDaemon>> daemon =
        TestDaemon::Start(config_);
    ASSERT_THAT(daemon, IsOk())
        << "restart " << round << ": " << daemon.status();
    if (random() % 10 == 0) {
      // Now and then a kill during start-up, perhaps in the middle of
      // recovery; the next start must finish the job.
      std::this_thread::sleep_for(std::chrono::microseconds(random() % 3000));
      const int status = (*daemon)->StopWith(SIGKILL);
      confirmed += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
      ++early_kills;
      const std::string log = (*daemon)->Log();
      swept += SweptTempFiles(log);
      sets_finished += (*daemon)->CountInLog("finished the set of");
      continue;
    }
    // The daemon serves only after its start-up recovery and sweep: one
    // answered call means both are done.
    ASSERT_TRUE(WaitUntilServing(**daemon)) << "restart " << round;
    Verify(absl::StrCat("after restart ", round, " (seed ", seed, ")"));
    if (HasFatalFailure() || HasFailure()) return;

    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int thread = 0; thread < kThreads; ++thread) {
      clients.emplace_back(ClientLoop, (*daemon)->socket_path(), data_, thread,
                           round, &logs_[thread], random(), std::cref(stop),
                           std::ref(shared), std::ref(totals));
    }
    // A random moment: mostly while sets are in full swing, sometimes
    // right at the start.
    const int delay_us =
        random() % 8 == 0 ? random() % 4000 : 4000 + random() % 120000;
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
    const int status = (*daemon)->StopWith(SIGKILL);
    confirmed += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    ++load_kills;
    stop = true;
    for (std::thread& client : clients) client.join();
    EndRound(shared.clock++);
    swept += SweptTempFiles((*daemon)->Log());
    sets_finished += (*daemon)->CountInLog("finished the set of");
  }

  // A last restart: the state after the final kill, then one set over
  // every target, which must land whole, and a clean stop.
  absl::StatusOr<std::unique_ptr<TestDaemon>> daemon =
      TestDaemon::Start(config_);
  ASSERT_THAT(daemon, IsOk());
  ASSERT_TRUE(WaitUntilServing(**daemon));
  swept += SweptTempFiles((*daemon)->Log());
  sets_finished += (*daemon)->CountInLog("finished the set of");
  Verify(absl::StrCat("after the last restart (seed ", seed, ")"));
  {
    Op op;
    op.set = true;
    op.round = -1;
    WriteSetBuilder builder;
    const OpId id{0, static_cast<int>(logs_[0].size())};
    for (int t = 0; t < kTargets; ++t) {
      op.members.push_back({t, false});
      builder.Write(absl::StrCat(data_, "/", TargetName(t)),
                    MakeContent(id, TargetName(t), t, kTargets, 100 + t));
    }
    op.start = shared.clock++;
    ASSERT_THAT((*daemon)->NewClient()->WriteSet(builder), IsOk());
    op.done = shared.clock++;
    op.acknowledged = true;
    logs_[0].push_back(op);
  }
  Verify("after the final set over every target");
  for (int t = 0; t < kTargets; ++t) {
    EXPECT_EQ(ReadFile(absl::StrCat(data_, "/", TargetName(t))).value_or(""),
              MakeContent({0, static_cast<int>(logs_[0].size()) - 1},
                          TargetName(t), t, kTargets, 100 + t));
  }
  EXPECT_EQ((*daemon)->StopWith(SIGTERM), 0);

  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  uint64_t sets_sent = 0;
  uint64_t set_members = 0;
  for (const std::vector<Op>& log : logs_) {
    for (const Op& op : log) {
      if (!op.set) continue;
      ++sets_sent;
      set_members += op.members.size();
    }
  }
  std::printf(
      "[ set torture ] %d SIGKILLs under load + %d during start-up (%d "
      "confirmed) in %.1f s; %llu sets sent (%.1f members on average), %llu "
      "acknowledged; %llu single writes/removes acknowledged; %llu refused "
      "(NOT_FOUND), %llu failed (in flight at a kill; %llu UNKNOWN); "
      "start-up recovery finished %llu sets and removed %llu temp files\n",
      load_kills, early_kills, confirmed, seconds,
      static_cast<unsigned long long>(sets_sent),
      sets_sent == 0 ? 0.0 : static_cast<double>(set_members) / sets_sent,
      static_cast<unsigned long long>(totals.sets_acknowledged.load()),
      static_cast<unsigned long long>(totals.singles_acknowledged.load()),
      static_cast<unsigned long long>(totals.refused.load()),
      static_cast<unsigned long long>(totals.failed.load()),
      static_cast<unsigned long long>(totals.unknown.load()),
      static_cast<unsigned long long>(sets_finished),
      static_cast<unsigned long long>(swept));
  std::string codes;
  for (const auto& [code, count] : totals.failures_by_code) {
    absl::StrAppend(&codes, codes.empty() ? "" : ", ",
                    absl::StatusCodeToString(code), " ", count);
  }
  std::printf(
      "[ set torture ] failed calls by code: %s%s\n", codes.c_str(),
      totals.example_failure.empty()
          ? ""
          : absl::StrCat(" (e.g. ", totals.example_failure, ")").c_str());
  RecordProperty("kills", load_kills + early_kills);
  RecordProperty("sets_acknowledged",
                 static_cast<int>(totals.sets_acknowledged));
  EXPECT_EQ(confirmed, load_kills + early_kills);
  EXPECT_GE(load_kills, kills);
  EXPECT_GT(totals.sets_acknowledged.load(), 0u);
}

}  // namespace
}  // namespace durable
