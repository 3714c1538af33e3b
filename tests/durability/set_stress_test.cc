// Set stress: many client threads send overlapping WriteSets of 2-10
// members mixed with single writes and removes on a small pool of
// targets, against the real daemon (no crash). Every call has a deadline
// and a watchdog bounds the whole run, so a deadlock of the target locks
// shows as DEADLINE_EXCEEDED or as the watchdog firing.
//
// Two kinds of target:
//  - chained targets: every operation on one is conditional on the version
//    its client just saw (Stat): a write with if_match its etag, or
//    if_absent if it was missing; a remove with if_match. So every
//    acknowledged operation names the exact version it replaced, and a
//    version is replaced by at most one acknowledged operation;
//  - blind targets: unconditional writes only (so single writes of them
//    may be coalesced), in sets and alone.
// ABORTED, ALREADY_EXISTS and NOT_FOUND (a precondition failed, or a
// remove's file was gone) are expected answers; anything else fails.
//
// Every content names its operation, target and member index and ends
// with its SHA-256, so each file is traced to the one operation that
// wrote it. At the end the test checks:
//  (a) no temp file or commit record is left, and every file is whole;
//  (b) no rejected operation's content is visible (all or nothing);
//  (c) the chains are sound: every if_match names a version that an
//      acknowledged operation produced, no etag is produced twice for a
//      target, and no version is replaced by two acknowledged operations;
//  (d) a strict serial order exists: the acknowledged operations can be
//      ordered one by one such that each one's preconditions hold in the
//      state its predecessors leave (if_match = the current version,
//      if_absent = missing), an operation answered before another was
//      sent comes first (real time), and each blind target's last writer
//      is the one whose content it holds. A search constructs that order
//      (see SerialOrderSearch);
//  (e) the final state is that order's: every chained target holds the
//      version (etag and content) the order leaves, or is missing if the
//      order removes it last.
//
// DURABLED_SET_STRESS_OPS sets the operations per thread (default 1000,
// 300 under AddressSanitizer);
// DURABLED_SET_STRESS_SEED fixes the seed (printed).
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
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

constexpr int kThreads = 8;
constexpr int kChained = 16;  // targets 0..15; 16..23 are blind
constexpr int kTargets = 24;
constexpr int kMinMembers = 2;
constexpr int kMaxMembers = 10;
constexpr absl::Duration kCallDeadline = absl::Seconds(20);
constexpr absl::Duration kWatchdog = absl::Seconds(240);
constexpr char kHeaderPrefix[] = "durabled-set-stress op=";

bool IsBlind(int target) { return target >= kChained; }

// Chained c0..c15 and blind b16..b23, spread over the root, x/ and y/z/.
std::string TargetName(int i) {
  const char* dir = i % 3 == 0 ? "" : i % 3 == 1 ? "x/" : "y/z/";
  return absl::StrCat(dir, IsBlind(i) ? "b" : "c", i);
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
  // Chained targets: the version it must replace; empty for a write means
  // if_absent. Unused for blind targets.
  std::string if_match;
  // From the answer: a write's new version, a remove's removed one.
  std::string etag;
};

Member MemberOf(int target) {
  Member member;
  member.target = target;
  return member;
}

enum class Outcome { kPending, kOk, kRejected, kFailed };

struct Op {
  bool set = false;
  std::vector<Member> members;
  int64_t start = 0;  // the clock before the call (after its Stats)
  int64_t done = 0;   // the clock after the answer
  Outcome outcome = Outcome::kPending;
  absl::Status status;      // unless kOk
  bool superseded = false;  // a single blind write answered as superseded
};

std::string Describe(OpId id, const Op& op) {
  std::string members;
  for (const Member& member : op.members) {
    absl::StrAppend(&members, members.empty() ? "" : ", ",
                    member.remove ? "remove " : "", TargetName(member.target));
    if (!IsBlind(member.target)) {
      absl::StrAppend(&members,
                      member.if_match.empty() ? " if_absent" : " if_match ",
                      member.if_match);
    }
    if (!member.etag.empty()) absl::StrAppend(&members, " -> ", member.etag);
  }
  return absl::StrCat(op.set ? "set " : "single ", id.thread, ".", id.index,
                      " [", members, "] start ", op.start, " done ", op.done);
}

struct RunState {
  std::atomic<int64_t> clock{1};
  std::atomic<int> running{0};
  std::atomic<uint64_t> stat_failures{0};
};

// One client thread: `ops` operations, recorded in `log`.
void ClientLoop(const std::string& socket, const std::string& data_root,
                int thread, int ops, uint64_t seed, std::vector<Op>* log,
                RunState& run) {
  ClientOptions options;
  options.socket_path = socket;
  options.timeout = kCallDeadline;
  options.chunk_size = 8 << 10;
  Client client(options);
  std::mt19937_64 random(seed);
  std::vector<int> pool(kTargets);
  for (int i = 0; i < kTargets; ++i) pool[i] = i;
  auto path_of = [&](int target) {
    return absl::StrCat(data_root, "/", TargetName(target));
  };
  for (int n = 0; n < ops; ++n) {
    Op op;
    std::shuffle(pool.begin(), pool.end(), random);
    const int kind = random() % 20;
    if (kind < 12) {
      op.set = true;
      const int members =
          kMinMembers + random() % (kMaxMembers - kMinMembers + 1);
      for (int i = 0; i < members; ++i) op.members.push_back(MemberOf(pool[i]));
    } else {
      // A single write of any target, or (kind >= 17) a remove of a
      // chained one.
      int target = pool[0];
      if (kind >= 17) {
        for (int candidate : pool) {
          if (!IsBlind(candidate)) {
            target = candidate;
            break;
          }
        }
      }
      op.members.push_back(MemberOf(target));
    }
    bool stat_failed = false;
    for (Member& member : op.members) {
      if (IsBlind(member.target)) continue;
      absl::StatusOr<FileStatus> status = client.Stat(path_of(member.target));
      if (status.ok()) {
        member.if_match = status->etag;
        member.remove = op.set ? random() % 6 == 0 : kind >= 17;
      } else if (!absl::IsNotFound(status.status())) {
        stat_failed = true;
      }
    }
    if (stat_failed) {
      ++run.stat_failures;
      continue;
    }
    const OpId id{thread, static_cast<int>(log->size())};
    std::vector<std::string> contents;
    for (size_t i = 0; i < op.members.size(); ++i) {
      const int kind_of_size = random() % 16;
      const size_t size =
          kind_of_size < 14 ? random() % 512 : random() % (24 << 10);
      contents.push_back(op.members[i].remove
                             ? ""
                             : MakeContent(id, TargetName(op.members[i].target),
                                           static_cast<int>(i),
                                           static_cast<int>(op.members.size()),
                                           size));
    }
    auto options_of = [](const Member& member) {
      WriteOptions write;
      if (!IsBlind(member.target)) {
        write.if_match = member.if_match;
        write.if_absent = member.if_match.empty();
      }
      return write;
    };
    op.start = run.clock++;
    absl::Status status;
    if (op.set) {
      WriteSetBuilder builder;
      for (size_t i = 0; i < op.members.size(); ++i) {
        const Member& member = op.members[i];
        if (member.remove) {
          builder.Remove(path_of(member.target), member.if_match);
        } else {
          builder.Write(path_of(member.target), std::move(contents[i]),
                        options_of(member));
        }
      }
      absl::StatusOr<std::vector<SetMemberResult>> results =
          client.WriteSet(builder);
      status = results.status();
      if (results.ok() && results->size() == op.members.size()) {
        for (size_t i = 0; i < op.members.size(); ++i) {
          op.members[i].etag = (*results)[i].etag;
        }
      } else if (results.ok()) {
        status = absl::InternalError("WriteSet answered the wrong members");
      }
    } else if (op.members[0].remove) {
      absl::StatusOr<std::string> removed =
          client.Remove(path_of(op.members[0].target), op.members[0].if_match);
      status = removed.status();
      if (removed.ok()) op.members[0].etag = *removed;
    } else {
      absl::StatusOr<WriteResult> written =
          client.Write(path_of(op.members[0].target), contents[0],
                       options_of(op.members[0]));
      status = written.status();
      if (written.ok()) {
        op.members[0].etag = written->etag;
        op.superseded = written->superseded;
      }
    }
    op.done = run.clock++;
    if (status.ok()) {
      op.outcome = Outcome::kOk;
    } else {
      op.outcome = absl::IsAborted(status) || absl::IsAlreadyExists(status) ||
                           absl::IsNotFound(status)
                       ? Outcome::kRejected
                       : Outcome::kFailed;
      op.status = status;
    }
    log->push_back(std::move(op));
  }
  --run.running;
}

// Looks for a strict serial order of the acknowledged operations `ops`
// (see (d) at the top): repeatedly places an operation that may come next
// (its real-time predecessors placed, its preconditions holding, and, if
// it is a blind target's last writer, that target's other writers
// placed).
//
// Placing an operation X that may come next at once loses nothing (if any
// order exists, one with X next exists) unless X creates a missing
// chained target T while another unplaced creation Y of T was sent before
// X was answered: "missing" recurs (after each remove), so Y might have
// to take this absence and X a later one. Only there the search branches
// (trying the earliest-sent first) and backtracks.
class SerialOrderSearch {
 public:
  SerialOrderSearch(std::vector<const Op*> ops,
                    std::vector<int> last_blind_writer)
      : ops_(std::move(ops)),
        last_blind_writer_(std::move(last_blind_writer)),
        placed_(ops_.size(), false),
        state_(kTargets),
        blind_placed_(kTargets, 0),
        blind_writers_(kTargets, 0),
        creations_(kTargets) {
    std::vector<int64_t> dones;
    for (size_t i = 0; i < ops_.size(); ++i) {
      by_done_.push_back(static_cast<int>(i));
      dones.push_back(ops_[i]->done);
      for (const Member& member : ops_[i]->members) {
        if (IsBlind(member.target)) {
          ++blind_writers_[member.target];
        } else if (!member.remove && member.if_match.empty()) {
          creations_[member.target].push_back(static_cast<int>(i));
        }
      }
    }
    std::sort(by_done_.begin(), by_done_.end(),
              [&](int a, int b) { return ops_[a]->done < ops_[b]->done; });
    std::sort(dones.begin(), dones.end());
    for (const Op* op : ops_) {
      predecessors_.push_back(static_cast<int>(
          std::lower_bound(dones.begin(), dones.end(), op->start) -
          dones.begin()));
    }
  }

  // True if an order was found; then State() is the state it leaves.
  bool Search() { return SearchFrom(); }
  bool exhausted() const { return steps_ > kBudget; }
  // The chained targets' states after the order: etag, or "" if missing.
  const std::vector<std::string>& State() const { return state_; }
  // Where the search got furthest, if it failed.
  const std::string& stuck() const { return stuck_; }
  const std::vector<int>& order() const { return order_; }
  uint64_t branches() const { return branches_; }

  // Operation i's id, for messages.
  std::vector<OpId> ids;

 private:
  static constexpr uint64_t kBudget = 2000000;

  struct Undo {
    int op;
    size_t done_prefix;
    std::vector<std::string> old_state;  // per member
  };

  // Why `i` may not come next, or "" if it may.
  std::string Blocked(int i) const {
    const Op& op = *ops_[i];
    if (done_prefix_ < static_cast<size_t>(predecessors_[i])) {
      return "an operation answered before it was sent is not placed yet";
    }
    for (const Member& member : op.members) {
      const int t = member.target;
      if (IsBlind(t)) {
        if (last_blind_writer_[t] == i &&
            blind_placed_[t] != blind_writers_[t] - 1) {
          return absl::StrCat(TargetName(t),
                              "'s content is its, but other writers of it "
                              "are not placed yet");
        }
      } else if (state_[t] != member.if_match) {
        return absl::StrCat(TargetName(t), " is ",
                            state_[t].empty() ? "missing" : state_[t],
                            " there");
      }
    }
    return "";
  }

  bool Safe(int i) const {
    for (const Member& member : ops_[i]->members) {
      if (IsBlind(member.target) || member.remove || !member.if_match.empty())
        continue;
      for (int other : creations_[member.target]) {
        if (other != i && !placed_[other] &&
            ops_[other]->start < ops_[i]->done) {
          return false;
        }
      }
    }
    return true;
  }

  void Place(int i) {
    Undo undo{i, done_prefix_, {}};
    for (const Member& member : ops_[i]->members) {
      const int t = member.target;
      if (IsBlind(t)) {
        ++blind_placed_[t];
        undo.old_state.emplace_back();
        continue;
      }
      undo.old_state.push_back(state_[t]);
      state_[t] = member.remove ? "" : member.etag;
    }
    placed_[i] = true;
    ++placed_count_;
    order_.push_back(i);
    while (done_prefix_ < by_done_.size() && placed_[by_done_[done_prefix_]]) {
      ++done_prefix_;
    }
    undo_.push_back(std::move(undo));
  }

  void UndoTo(size_t mark) {
    while (undo_.size() > mark) {
      Undo& undo = undo_.back();
      const Op& op = *ops_[undo.op];
      for (size_t m = 0; m < op.members.size(); ++m) {
        const int t = op.members[m].target;
        if (IsBlind(t)) {
          --blind_placed_[t];
        } else {
          state_[t] = undo.old_state[m];
        }
      }
      placed_[undo.op] = false;
      --placed_count_;
      order_.pop_back();
      done_prefix_ = undo.done_prefix;
      undo_.pop_back();
    }
  }

  void NoteStuck() {
    if (placed_count_ < furthest_ && !stuck_.empty()) return;
    furthest_ = placed_count_;
    stuck_ = absl::StrCat("after placing ", placed_count_, " of ", ops_.size(),
                          " operations, none may come next:");
    int shown = 0;
    for (size_t i = 0; i < ops_.size() && shown < 8; ++i) {
      if (placed_[i]) continue;
      const std::string why = Blocked(static_cast<int>(i));
      if (absl::StartsWith(why, "an operation answered")) continue;
      ++shown;
      absl::StrAppend(&stuck_, "\n  ", Describe(ids_of(i), *ops_[i]), ": ",
                      why);
    }
    if (done_prefix_ < by_done_.size()) {
      const int first = by_done_[done_prefix_];
      absl::StrAppend(&stuck_, "\n  first unplaced by answer time: ",
                      Describe(ids_of(first), *ops_[first]), ": ",
                      Blocked(first));
    }
  }

  bool SearchFrom() {
    const size_t mark = undo_.size();
    while (placed_count_ < ops_.size()) {
      if (++steps_ > kBudget) return false;
      std::vector<int> candidates;
      int safe = -1;
      for (size_t i = 0; i < ops_.size(); ++i) {
        if (placed_[i] || !Blocked(static_cast<int>(i)).empty()) continue;
        if (Safe(static_cast<int>(i))) {
          safe = static_cast<int>(i);
          break;
        }
        candidates.push_back(static_cast<int>(i));
      }
      if (safe >= 0) {
        Place(safe);
        continue;
      }
      if (candidates.empty()) {
        NoteStuck();
        UndoTo(mark);
        return false;
      }
      std::sort(candidates.begin(), candidates.end(),
                [&](int a, int b) { return ops_[a]->start < ops_[b]->start; });
      ++branches_;
      for (int candidate : candidates) {
        const size_t before = undo_.size();
        Place(candidate);
        if (SearchFrom()) return true;
        if (exhausted()) return false;
        UndoTo(before);
      }
      UndoTo(mark);
      return false;
    }
    return true;
  }

  OpId ids_of(size_t i) const { return i < ids.size() ? ids[i] : OpId{}; }

  const std::vector<const Op*> ops_;
  const std::vector<int> last_blind_writer_;
  std::vector<bool> placed_;
  size_t placed_count_ = 0;
  std::vector<std::string> state_;
  std::vector<int> blind_placed_;
  std::vector<int> blind_writers_;
  std::vector<std::vector<int>> creations_;  // per target: if_absent ops
  std::vector<int> by_done_;                 // ops by answer time
  std::vector<int> predecessors_;  // ops answered before each was sent
  size_t done_prefix_ = 0;         // leading by_done_ entries placed
  std::vector<Undo> undo_;
  std::vector<int> order_;
  uint64_t steps_ = 0;
  uint64_t branches_ = 0;
  size_t furthest_ = 0;
  std::string stuck_;
};

class SetStressTest : public testing::Test {
 protected:
  void SetUp() override {
    char root[] = "/tmp/durabled-set-stress.XXXXXX";
    ASSERT_NE(mkdtemp(root), nullptr);
    root_ = root;
    chmod(root_.c_str(), 0755);
    data_ = root_ + "/data";
    for (const std::string& dir :
         {data_, data_ + "/x", data_ + "/y", data_ + "/y/z"}) {
      ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << dir;
    }
    for (int i = 0; i < kTargets; ++i) names_[TargetName(i)] = i;
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

  void CheckTree(const std::string& dir, const std::string& rel) {
    for (const std::string& name : ListDirectory(dir)) {
      const std::string path = absl::StrCat(dir, "/", name);
      const std::string relative = rel.empty() ? name : rel + "/" + name;
      EXPECT_FALSE(IsTempFileName(name)) << "temp file " << relative << " left";
      EXPECT_FALSE(IsSetRecordName(name))
          << "commit record " << relative << " left";
      struct stat st;
      ASSERT_EQ(lstat(path.c_str(), &st), 0) << path;
      if (S_ISDIR(st.st_mode)) {
        EXPECT_TRUE(relative == "x" || relative == "y" || relative == "y/z" ||
                    relative == ".durabled-sets")
            << "unexpected directory " << relative;
        CheckTree(path, relative);
      } else if (!IsTempFileName(name) && !IsSetRecordName(name)) {
        EXPECT_TRUE(S_ISREG(st.st_mode) && names_.count(relative) == 1)
            << "unexpected file " << relative;
      }
    }
  }

  std::string root_;
  std::string data_;
  std::string config_;
  std::map<std::string, int> names_;
};

TEST_F(SetStressTest, OverlappingSetsNeitherDeadlockNorLoseSerialOrder) {
#ifdef DURABLED_TEST_UNDER_ASAN
  constexpr int kDefaultOps = 300;
#else
  constexpr int kDefaultOps = 1000;
#endif
  const int ops_per_thread = EnvInt("DURABLED_SET_STRESS_OPS", kDefaultOps);
  const uint64_t seed =
      EnvInt("DURABLED_SET_STRESS_SEED",
             static_cast<int>(absl::ToUnixMicros(absl::Now()) & 0x7fffffff));
  std::printf("[ set stress ] %d threads x %d operations, seed %llu\n",
              kThreads, ops_per_thread, static_cast<unsigned long long>(seed));
  std::mt19937_64 random(seed);
  absl::StatusOr<std::unique_ptr<TestDaemon>> daemon =
      TestDaemon::Start(config_);
  ASSERT_THAT(daemon, IsOk());

  RunState run;
  std::vector<std::vector<Op>> logs(kThreads);
  const absl::Time start = absl::Now();
  run.running = kThreads;
  std::vector<std::thread> clients;
  for (int thread = 0; thread < kThreads; ++thread) {
    clients.emplace_back(ClientLoop, (*daemon)->socket_path(), data_, thread,
                         ops_per_thread, random(), &logs[thread],
                         std::ref(run));
  }
  // The watchdog: should the clients hang past every deadline, end the
  // daemon so that their calls fail and the test can report.
  bool watchdog_fired = false;
  while (run.running.load() > 0) {
    if (absl::Now() - start > kWatchdog) {
      watchdog_fired = true;
      (*daemon)->Signal(SIGKILL);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (std::thread& client : clients) client.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  ASSERT_FALSE(watchdog_fired)
      << "the clients did not finish within " << kWatchdog
      << " (deadlock?); the daemon was killed; seed " << seed;

  // Outcomes.
  std::vector<const Op*> acked;
  std::vector<OpId> acked_ids;
  std::map<const Op*, int> index_of;
  std::map<std::string, uint64_t> rejected_by_code;
  uint64_t sets_acked = 0, singles_acked = 0, sets_sent = 0, superseded = 0;
  uint64_t set_members_acked = 0;
  for (int thread = 0; thread < kThreads; ++thread) {
    for (size_t i = 0; i < logs[thread].size(); ++i) {
      const Op& op = logs[thread][i];
      sets_sent += op.set;
      if (op.outcome == Outcome::kFailed) {
        ADD_FAILURE() << "unexpected answer " << op.status
                      << (absl::IsDeadlineExceeded(op.status)
                              ? " (a deadlock of the target locks?)"
                              : "")
                      << " to " << Describe({thread, static_cast<int>(i)}, op)
                      << "; seed " << seed;
        continue;
      }
      if (op.outcome == Outcome::kRejected) {
        ++rejected_by_code[absl::StatusCodeToString(op.status.code())];
        continue;
      }
      index_of[&op] = static_cast<int>(acked.size());
      acked.push_back(&op);
      acked_ids.push_back({thread, static_cast<int>(i)});
      (op.set ? sets_acked : singles_acked) += 1;
      if (op.set) set_members_acked += op.members.size();
      superseded += op.superseded;
    }
  }
  EXPECT_EQ(run.stat_failures.load(), 0u);
  ASSERT_FALSE(HasFailure());

  // (c) The chains: who produced each chained version, who replaced it.
  std::map<std::pair<int, std::string>, int> producer;
  std::map<std::pair<int, std::string>, int> consumer;
  for (size_t i = 0; i < acked.size(); ++i) {
    for (const Member& member : acked[i]->members) {
      if (IsBlind(member.target) || member.remove) continue;
      const auto [it, inserted] =
          producer.insert({{member.target, member.etag}, static_cast<int>(i)});
      EXPECT_TRUE(inserted)
          << TargetName(member.target) << ": etag " << member.etag
          << " produced twice, by "
          << Describe(acked_ids[it->second], *acked[it->second]) << " and "
          << Describe(acked_ids[i], *acked[i]);
    }
  }
  for (size_t i = 0; i < acked.size(); ++i) {
    for (const Member& member : acked[i]->members) {
      if (IsBlind(member.target) || member.if_match.empty()) continue;
      const std::string what = absl::StrCat(Describe(acked_ids[i], *acked[i]),
                                            ": ", TargetName(member.target));
      EXPECT_EQ(producer.count({member.target, member.if_match}), 1u)
          << what << " replaced a version no acknowledged operation made";
      if (member.remove) {
        EXPECT_EQ(member.etag, member.if_match)
            << what << " removed another version than its if_match";
      }
      const auto [it, inserted] = consumer.insert(
          {{member.target, member.if_match}, static_cast<int>(i)});
      EXPECT_TRUE(inserted)
          << what << " replaced version " << member.if_match << ", which "
          << Describe(acked_ids[it->second], *acked[it->second])
          << " had replaced already (a lost update)";
    }
  }
  ASSERT_FALSE(HasFailure()) << "seed " << seed;

  // (a), (b) and what each target holds.
  CheckTree(data_, "");
  std::unique_ptr<Client> client = (*daemon)->NewClient();
  std::vector<std::string> final_etag(kTargets);  // "" if missing
  std::vector<int> holder(kTargets, -1);  // acked index of the content's op
  for (int t = 0; t < kTargets; ++t) {
    const std::string path = absl::StrCat(data_, "/", TargetName(t));
    absl::StatusOr<std::string> content = ReadFile(path);
    absl::StatusOr<FileStatus> status = client->Stat(path);
    if (!content.ok()) {
      EXPECT_TRUE(absl::IsNotFound(status.status())) << path;
      continue;
    }
    ASSERT_THAT(status, IsOk()) << path;
    final_etag[t] = status->etag;
    absl::StatusOr<Parsed> parsed = ParseContent(*content);
    ASSERT_TRUE(parsed.ok())
        << TargetName(t) << " is " << parsed.status().message() << ": \""
        << absl::CEscape(content->substr(0, 120)) << "\"";
    ASSERT_EQ(parsed->target, TargetName(t));
    ASSERT_TRUE(parsed->id.thread >= 0 && parsed->id.thread < kThreads &&
                parsed->id.index >= 0 &&
                parsed->id.index <
                    static_cast<int>(logs[parsed->id.thread].size()))
        << TargetName(t) << " holds an operation never sent";
    const Op& op = logs[parsed->id.thread][parsed->id.index];
    ASSERT_TRUE(parsed->member >= 0 &&
                parsed->member < static_cast<int>(op.members.size()) &&
                parsed->members == static_cast<int>(op.members.size()) &&
                op.members[parsed->member].target == t &&
                !op.members[parsed->member].remove)
        << TargetName(t) << " holds content its operation did not write there";
    ASSERT_EQ(op.outcome, Outcome::kOk)
        << TargetName(t) << " holds the content of a rejected operation ("
        << op.status << "): " << Describe(parsed->id, op);
    EXPECT_FALSE(op.superseded)
        << TargetName(t) << " holds a write answered as superseded";
    holder[t] = index_of[&op];
  }
  ASSERT_FALSE(HasFailure()) << "seed " << seed;

  // (d) A strict serial order, and (e) its final state.
  std::vector<int> last_blind_writer(kTargets, -1);
  for (int t = kChained; t < kTargets; ++t) last_blind_writer[t] = holder[t];
  SerialOrderSearch search(acked, last_blind_writer);
  search.ids = acked_ids;
  const absl::Time search_start = absl::Now();
  const bool ordered = search.Search();
  const double search_seconds =
      absl::ToDoubleSeconds(absl::Now() - search_start);
  ASSERT_TRUE(ordered) << (search.exhausted()
                               ? "the search for a serial order gave up "
                                 "(budget exhausted): "
                               : "no serial order exists: ")
                       << search.stuck() << "\nseed " << seed;
  for (int t = 0; t < kChained; ++t) {
    EXPECT_EQ(final_etag[t], search.State()[t])
        << TargetName(t) << ": on disk \"" << final_etag[t]
        << "\" but the serial order leaves \"" << search.State()[t]
        << "\" (\"\": missing)";
    if (!final_etag[t].empty()) {
      const auto it = producer.find({t, final_etag[t]});
      ASSERT_TRUE(it != producer.end());
      EXPECT_EQ(it->second, holder[t])
          << TargetName(t) << "'s content is not of the operation whose "
          << "version it has";
    }
  }
  for (int t = kChained; t < kTargets; ++t) {
    if (holder[t] < 0) {
      // Missing: never written (blind targets are never removed).
      for (const Op* op : acked) {
        for (const Member& member : op->members) {
          EXPECT_NE(member.target, t)
              << TargetName(t) << " is missing though written";
        }
      }
    }
  }

  std::string rejected;
  for (const auto& [code, count] : rejected_by_code) {
    absl::StrAppend(&rejected, rejected.empty() ? "" : ", ", code, " ", count);
  }
  std::printf(
      "[ set stress ] %.1f s: %llu sets sent, %llu acknowledged (%.1f "
      "members on average), %llu single writes/removes acknowledged (%llu "
      "superseded); rejected: %s; serial order of %zu operations found in "
      "%.2f s (%llu branch points)\n",
      seconds, static_cast<unsigned long long>(sets_sent),
      static_cast<unsigned long long>(sets_acked),
      sets_acked == 0 ? 0.0
                      : static_cast<double>(set_members_acked) / sets_acked,
      static_cast<unsigned long long>(singles_acked),
      static_cast<unsigned long long>(superseded), rejected.c_str(),
      acked.size(), search_seconds,
      static_cast<unsigned long long>(search.branches()));
  EXPECT_GT(sets_acked, 0u);
  EXPECT_EQ((*daemon)->StopWith(SIGTERM), 0);
}

}  // namespace
}  // namespace durable
