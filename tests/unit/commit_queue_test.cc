// CommitQueue over the real FileReplacer on the in-memory
// PowerLossFileSystem (thread-safe, with a call log and a live view of
// every file).
//
// Batches are made deterministic by holding the queue's only committer:
// a write to gate/ whose answer waits until the test releases it. A Submit
// that finds the committer busy only queues, so everything the test submits
// meanwhile forms the next batches, in the order the queue chooses, all
// committed on the gate's thread once released. No test measures time.
#include "server/engine/commit_queue.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/base/unique_fd.h"
#include "server/engine/etag.h"
#include "server/engine/file_replacer.h"
#include "server/engine/sha256.h"
#include "server/engine/target_key.h"
#include "tests/support/held_committer.h"
#include "tests/support/power_loss_file_system.h"
#include "tests/support/status_matchers.h"

namespace durable {

using test::IsOk;
using test::StatusIs;

namespace {

using SyncKind = PowerLossFileSystem::SyncKind;
using testing::ElementsAre;
using testing::IsEmpty;
using testing::Not;

constexpr char kDir[] = "dir";
constexpr char kGateDir[] = "gate";
constexpr char kTarget[] = "target";
constexpr char kOldContent[] = "the old content\n";

// One write handed to the queue, and what became of it.
struct Write {
  std::string leaf;
  std::string content;
  uint64_t tenant = 1;
  CommitOptions options;
  std::unique_ptr<StagedFile> staged;
  // Set when it is answered.
  std::optional<absl::StatusOr<CommitResult>> result;
  int answer = -1;   // its place among all answers (and exclusive runs)
  size_t batch = 0;  // the batch that answered it; the gate's is batch 1
  // The target's live content at the answer, and whether a directory fsync
  // had followed the last publish of the target by then.
  std::optional<std::string> at_answer;
  bool synced_at_answer = false;

  const CommitResult& ok() const { return **result; }
};

// How many calls in `log` are exactly `call`.
int Count(const std::vector<std::string>& log, const std::string& call) {
  int count = 0;
  for (const std::string& each : log) count += each == call ? 1 : 0;
  return count;
}

// Publishes (renames of a temp file onto `leaf`) in `log`.
int PublishesOf(const std::vector<std::string>& log, const std::string& leaf) {
  int count = 0;
  for (const std::string& call : log) {
    count += absl::StartsWith(call, "Rename(") &&
                     absl::StrContains(call, absl::StrCat(" -> ", leaf, ","))
                 ? 1
                 : 0;
  }
  return count;
}

std::vector<std::string> TempNames(const std::vector<std::string>& names) {
  std::vector<std::string> temps;
  for (const std::string& name : names) {
    if (IsTempFileName(name)) temps.push_back(name);
  }
  return temps;
}

class CommitQueueTest : public testing::Test, public CommitObserver {
 protected:
  // Holds the queue's committer with a write to gate/ (tenant 99).
  class HeldCommitter : public test::HeldCommitter {
   public:
    HeldCommitter(CommitQueueTest* test, CommitQueue& queue)
        : HeldCommitter(test->Stage(test->gate_dir_.get(), "gate", "gate"),
                        test->KeyOf(test->gate_id_, "gate"), queue) {}
    // The gate's staged file goes only once the committer is done.
    ~HeldCommitter() { Release(); }

   private:
    HeldCommitter(std::unique_ptr<StagedFile> gate, TargetKey key,
                  CommitQueue& queue)
        : test::HeldCommitter(queue, GateRequest(gate.get(), std::move(key))),
          gate_(std::move(gate)) {
      EXPECT_THAT(gate_result(), IsOk());
    }
    static CommitQueue::Request GateRequest(StagedFile* staged, TargetKey key) {
      CommitQueue::Request request;
      request.staged = staged;
      request.target = std::move(key);
      request.tenant = 99;
      return request;
    }
    std::unique_ptr<StagedFile> gate_;
  };

  void SetUp() override {
    ASSERT_OK(fs_.PlantDirectory(kDir, 0755));
    ASSERT_OK(fs_.PlantDirectory(kGateDir, 0755));
    root_ = fs_.OpenRoot();
    ASSERT_NO_FATAL_FAILURE(OpenDirectory(kDir, &dir_, &dir_id_));
    ASSERT_NO_FATAL_FAILURE(OpenDirectory(kGateDir, &gate_dir_, &gate_id_));
  }

  void OpenDirectory(const std::string& name, UniqueFd* fd, FileInfo* id) {
    absl::StatusOr<UniqueFd> opened =
        fs_.OpenDirectoryBeneath(root_.get(), name);
    ASSERT_OK(opened);
    *fd = *std::move(opened);
    absl::StatusOr<FileInfo> info = fs_.Stat(fd->get());
    ASSERT_OK(info);
    *id = *info;
  }

  // CommitObserver: batches are counted after their answers were given.
  void OnBatch(size_t targets, size_t superseded) override {
    absl::MutexLock lock(&mu_);
    batches_.push_back({targets, superseded});
  }

  std::vector<std::pair<size_t, size_t>> Batches() {
    absl::MutexLock lock(&mu_);
    return batches_;
  }

  static TargetKey KeyOf(const FileInfo& dir, const std::string& leaf) {
    return TargetKey{dir.device, dir.inode, leaf};
  }

  std::unique_ptr<StagedFile> Stage(int dir_fd, const std::string& leaf,
                                    const std::string& content) {
    absl::StatusOr<std::unique_ptr<StagedFile>> staged =
        replacer_.Stage(dir_fd, leaf);
    EXPECT_OK(staged);
    if (!staged.ok()) return nullptr;
    EXPECT_OK((*staged)->Append(content));
    EXPECT_OK((*staged)->Seal(std::nullopt));
    return *std::move(staged);
  }

  // A staged and sealed write of `content` to dir/`leaf`.
  std::unique_ptr<Write> NewWrite(const std::string& leaf,
                                  const std::string& content,
                                  uint64_t tenant = 1,
                                  CommitOptions options = {}) {
    auto write = std::make_unique<Write>();
    write->leaf = leaf;
    write->content = content;
    write->tenant = tenant;
    write->options = std::move(options);
    write->staged = Stage(dir_.get(), leaf, content);
    return write;
  }

  void Submit(CommitQueue& queue, Write& write) {
    CommitQueue::Request request;
    request.staged = write.staged.get();
    request.options = write.options;
    request.target = KeyOf(dir_id_, write.leaf);
    request.tenant = write.tenant;
    request.done = [this, &write](absl::StatusOr<CommitResult> result) {
      Answered(write, std::move(result));
    };
    queue.Submit(std::move(request));
  }

  void SubmitAll(CommitQueue& queue,
                 const std::vector<std::unique_ptr<Write>>& writes) {
    for (const std::unique_ptr<Write>& write : writes) Submit(queue, *write);
  }

  // Runs on the committer thread.
  void Answered(Write& write, absl::StatusOr<CommitResult> result) {
    const std::string path = absl::StrCat(kDir, "/", write.leaf);
    const std::vector<std::string> log = fs_.CallLog();
    bool synced = false;
    for (const std::string& call : log) {
      if (PublishesOf({call}, write.leaf) == 1) synced = false;
      if (call == "SyncDirectory") synced = true;
    }
    absl::MutexLock lock(&mu_);
    EXPECT_FALSE(write.result.has_value())
        << write.content << " answered twice";
    write.result = std::move(result);
    write.answer = answers_++;
    write.batch = batches_.size() + 1;
    write.at_answer = fs_.ReadFile(path);
    write.synced_at_answer = synced;
  }

  // The next place in the answer order, for exclusive work.
  int NextAnswer() {
    absl::MutexLock lock(&mu_);
    return answers_++;
  }

  std::optional<std::string> Content(const std::string& leaf) const {
    return fs_.ReadFile(absl::StrCat(kDir, "/", leaf));
  }

  std::string EtagOfTarget(const std::string& leaf) {
    absl::StatusOr<FileInfo> info = replacer_.InspectTarget(dir_.get(), leaf);
    EXPECT_OK(info);
    return info.ok() ? EtagOf(*info) : "";
  }

  // Expects `write` answered OK, published (not superseded), with its
  // content in place when it was answered.
  static void ExpectPublished(const Write& write) {
    ASSERT_TRUE(write.result.has_value()) << write.content;
    ASSERT_OK(*write.result);
    EXPECT_FALSE(write.ok().superseded) << write.content;
    EXPECT_EQ(write.at_answer, write.content);
    EXPECT_TRUE(write.synced_at_answer) << write.content;
    EXPECT_EQ(write.ok().size, write.content.size());
    EXPECT_EQ(write.ok().sha256, Sha256::Of(write.content));
  }

  // Expects `older` answered OK as superseded by `winner`: the winner's
  // etag, its own size and digest, and only once the winner was durable.
  static void ExpectSupersededBy(const Write& older, const Write& winner) {
    ASSERT_TRUE(older.result.has_value()) << older.content;
    ASSERT_OK(*older.result);
    ASSERT_TRUE(winner.result.has_value() && winner.result->ok());
    EXPECT_TRUE(older.ok().superseded) << older.content;
    EXPECT_EQ(older.ok().etag, winner.ok().etag) << older.content;
    EXPECT_EQ(older.ok().size, older.content.size());
    EXPECT_EQ(older.ok().sha256, Sha256::Of(older.content));
    EXPECT_EQ(older.at_answer, winner.content);
    EXPECT_TRUE(older.synced_at_answer) << older.content;
    EXPECT_EQ(older.batch, winner.batch);
  }

  PowerLossFileSystem fs_;
  FileReplacer replacer_{&fs_};
  UniqueFd root_;
  UniqueFd dir_;
  UniqueFd gate_dir_;
  FileInfo dir_id_;
  FileInfo gate_id_;

  absl::Mutex mu_;
  int answers_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::pair<size_t, size_t>> batches_ ABSL_GUARDED_BY(mu_);
};

CommitQueueOptions Options(bool coalesce = true, size_t max_batch = 64,
                           FlushStrategy flush = FlushStrategy::kAuto) {
  CommitQueueOptions options;
  options.coalesce = coalesce;
  options.max_batch = max_batch;
  options.flush = flush;
  return options;
}

// (a) Queued writes of one target from four threads: published and
// answered one at a time, in the order Submit was called.
TEST_F(CommitQueueTest, WritesOfOneTargetArePublishedInSubmitOrder) {
  CommitQueue queue(&replacer_, Options(/*coalesce=*/false), this);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  std::vector<std::vector<std::unique_ptr<Write>>> by_thread(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      by_thread[t].push_back(
          NewWrite(kTarget, absl::StrCat("thread ", t, " write ", i, "\n")));
    }
  }
  HeldCommitter held(this, queue);
  absl::Mutex order_mu;
  std::vector<Write*> submitted;  // in Submit order
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (std::unique_ptr<Write>& write : by_thread[t]) {
        absl::MutexLock lock(&order_mu);
        submitted.push_back(write.get());
        Submit(queue, *write);  // queues only: the committer is held
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  held.Release();

  ASSERT_EQ(submitted.size(), size_t{kThreads * kPerThread});
  for (size_t i = 0; i < submitted.size(); ++i) {
    SCOPED_TRACE(submitted[i]->content);
    ExpectPublished(*submitted[i]);
    EXPECT_EQ(submitted[i]->answer, static_cast<int>(i));
  }
  EXPECT_EQ(Content(kTarget), submitted.back()->content);
}

// (a) The same without a held committer: threads race to commit (three
// committers at once), yet each thread's writes are answered in its order
// and no write of the target is published while another is in flight.
TEST_F(CommitQueueTest, RacingCommittersKeepOneTargetInSubmitOrder) {
  CommitQueueOptions options = Options(/*coalesce=*/false);
  options.max_committers = 3;
  CommitQueue queue(&replacer_, options, this);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20;
  std::vector<std::vector<std::unique_ptr<Write>>> by_thread(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      by_thread[t].push_back(
          NewWrite(kTarget, absl::StrCat("thread ", t, " write ", i, "\n")));
    }
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (std::unique_ptr<Write>& write : by_thread[t]) Submit(queue, *write);
    });
  }
  for (std::thread& thread : threads) thread.join();
  // Every Submit has returned; its write may still be answered by another
  // committer, which has then finished too once every answer is in.
  for (int t = 0; t < kThreads; ++t) {
    int previous = -1;
    for (const std::unique_ptr<Write>& write : by_thread[t]) {
      SCOPED_TRACE(write->content);
      ASSERT_NO_FATAL_FAILURE(ExpectPublished(*write));
      EXPECT_GT(write->answer, previous);
      previous = write->answer;
    }
  }
}

// (b) Queued unconditional writes of one target: only the newest is
// published; the older ones are answered OK, superseded, with its etag and
// their own size and digest, once it is durable.
TEST_F(CommitQueueTest, QueuedUnconditionalWritesAreCoalescedIntoTheNewest) {
  ASSERT_OK(fs_.PlantFile(absl::StrCat(kDir, "/", kTarget), kOldContent, 0644));
  CommitQueue queue(&replacer_, Options(), this);
  std::vector<std::unique_ptr<Write>> writes;
  for (int i = 1; i <= 4; ++i) {
    writes.push_back(
        NewWrite(kTarget, absl::StrCat("version ", std::string(i, '+'), "\n")));
  }
  HeldCommitter held(this, queue);
  fs_.ClearCallLog();
  SubmitAll(queue, writes);
  held.Release();

  const Write& winner = *writes.back();
  ASSERT_NO_FATAL_FAILURE(ExpectPublished(winner));
  EXPECT_FALSE(winner.ok().created);
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(writes[i]->content);
    ExpectSupersededBy(*writes[i], winner);
  }
  EXPECT_EQ(PublishesOf(fs_.CallLog(), kTarget), 1);
  EXPECT_EQ(EtagOfTarget(kTarget), winner.ok().etag);
  // The gate's batch, then one of one target with three superseded.
  EXPECT_THAT(Batches(), ElementsAre(std::pair<size_t, size_t>(1, 0),
                                     std::pair<size_t, size_t>(1, 3)));
  const std::string newest = winner.content;
  writes.clear();  // the callers let go of their staged files
  EXPECT_THAT(TempNames(fs_.List(kDir)), IsEmpty());
  EXPECT_EQ(Content(kTarget), newest);
}

// (c) A conditional write is never superseded and nothing is coalesced
// across it: W1 W2 C3 W4 W5 make W1 superseded by W2, C3 on its own after
// W2 (its if_match names the old version, so it fails: it saw W2), and W4
// superseded by W5.
TEST_F(CommitQueueTest, NothingIsCoalescedAcrossAConditionalWrite) {
  ASSERT_OK(fs_.PlantFile(absl::StrCat(kDir, "/", kTarget), kOldContent, 0644));
  const std::string old_etag = EtagOfTarget(kTarget);
  CommitQueue queue(&replacer_, Options(), this);
  CommitOptions conditional;
  conditional.if_match = old_etag;
  std::vector<std::unique_ptr<Write>> writes;
  writes.push_back(NewWrite(kTarget, "W1\n"));
  writes.push_back(NewWrite(kTarget, "W2 .\n"));
  writes.push_back(NewWrite(kTarget, "C3 ..\n", 1, conditional));
  writes.push_back(NewWrite(kTarget, "W4 ...\n"));
  writes.push_back(NewWrite(kTarget, "W5 ....\n"));
  HeldCommitter held(this, queue);
  SubmitAll(queue, writes);
  held.Release();

  const Write& w2 = *writes[1];
  const Write& c3 = *writes[2];
  const Write& w5 = *writes[4];
  ASSERT_NO_FATAL_FAILURE(ExpectPublished(w2));
  ExpectSupersededBy(*writes[0], w2);
  ASSERT_TRUE(c3.result.has_value());
  EXPECT_THAT(*c3.result, StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(c3.at_answer, w2.content);
  EXPECT_GT(c3.batch, w2.batch);
  ASSERT_NO_FATAL_FAILURE(ExpectPublished(w5));
  ExpectSupersededBy(*writes[3], w5);
  EXPECT_GT(w5.batch, c3.batch);
  EXPECT_EQ(Content(kTarget), w5.content);
}

// (c) Queued create-only writes are each tried, in order: the first
// creates the file, the second finds it (were they coalesced, the second
// would have won).
TEST_F(CommitQueueTest, ConditionalWritesAreNeverSuperseded) {
  CommitQueue queue(&replacer_, Options(), this);
  CommitOptions if_absent;
  if_absent.if_absent = true;
  std::vector<std::unique_ptr<Write>> writes;
  writes.push_back(NewWrite(kTarget, "first\n", 1, if_absent));
  writes.push_back(NewWrite(kTarget, "second\n", 1, if_absent));
  HeldCommitter held(this, queue);
  SubmitAll(queue, writes);
  held.Release();

  ASSERT_NO_FATAL_FAILURE(ExpectPublished(*writes[0]));
  EXPECT_TRUE(writes[0]->ok().created);
  ASSERT_TRUE(writes[1]->result.has_value());
  EXPECT_THAT(*writes[1]->result, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_GT(writes[1]->answer, writes[0]->answer);
  EXPECT_EQ(Content(kTarget), "first\n");
}

// (d) When the newest write fails, the ones it would have superseded are
// not answered by it: they are tried again, the newest of them published
// and the rest superseded by that one.
class CommitQueueWinnerFailsTest : public CommitQueueTest {
 protected:
  // `fail` makes the commit of writes[2] (the first winner) fail.
  void Run(
      const std::function<void(std::vector<std::unique_ptr<Write>>&)>& fail) {
    ASSERT_OK(
        fs_.PlantFile(absl::StrCat(kDir, "/", kTarget), kOldContent, 0644));
    CommitQueue queue(&replacer_, Options(), this);
    std::vector<std::unique_ptr<Write>> writes;
    writes.push_back(NewWrite(kTarget, "W1\n"));
    writes.push_back(NewWrite(kTarget, "W2 .\n"));
    writes.push_back(NewWrite(kTarget, "W3 ..\n"));
    HeldCommitter held(this, queue);
    fail(writes);
    SubmitAll(queue, writes);
    held.Release();

    const Write& w2 = *writes[1];
    const Write& w3 = *writes[2];
    ASSERT_TRUE(w3.result.has_value());
    EXPECT_THAT(*w3.result, Not(IsOk()));
    EXPECT_EQ(w3.at_answer, kOldContent);
    ASSERT_NO_FATAL_FAILURE(ExpectPublished(w2));
    EXPECT_GT(w2.batch, w3.batch);
    ExpectSupersededBy(*writes[0], w2);
    EXPECT_EQ(Content(kTarget), w2.content);
    writes.clear();
    EXPECT_THAT(TempNames(fs_.List(kDir)), IsEmpty());
  }
};

TEST_F(CommitQueueWinnerFailsTest, ItsFsyncFails) {
  Run([this](std::vector<std::unique_ptr<Write>>&) {
    // A batch of one file is flushed with fsync (kAuto).
    fs_.FailNextSync(SyncKind::kFile, /*persisted=*/false);
  });
}

TEST_F(CommitQueueWinnerFailsTest, ItsCallerWentAway) {
  Run([](std::vector<std::unique_ptr<Write>>& writes) {
    writes[2]->options.abandon = [] { return true; };
  });
}

// (e) A batch of distinct targets in one directory shares its flush: one
// syncfs (kSyncfs, kAuto) or one fsync per file (kFsyncEach), and one
// directory fsync.
class CommitQueueFlushTest : public CommitQueueTest,
                             public testing::WithParamInterface<FlushStrategy> {
};

TEST_P(CommitQueueFlushTest, OneBatchSharesTheFlushAndTheDirectoryFsync) {
  constexpr int kTargets = 5;
  CommitQueue queue(&replacer_, Options(true, 64, GetParam()), this);
  std::vector<std::unique_ptr<Write>> writes;
  for (int i = 0; i < kTargets; ++i) {
    writes.push_back(
        NewWrite(absl::StrCat("file", i), absl::StrCat("content ", i, "\n")));
  }
  HeldCommitter held(this, queue);
  fs_.ClearCallLog();
  SubmitAll(queue, writes);
  held.Release();

  for (const std::unique_ptr<Write>& write : writes) {
    SCOPED_TRACE(write->leaf);
    ExpectPublished(*write);
    EXPECT_TRUE(write->ok().created);
    EXPECT_EQ(write->batch, 2u);
  }
  const std::vector<std::string> log = fs_.CallLog();
  const bool per_file = GetParam() == FlushStrategy::kFsyncEach;
  EXPECT_EQ(Count(log, "SyncFile"), per_file ? kTargets : 0);
  EXPECT_EQ(Count(log, "SyncFilesystem"), per_file ? 0 : 1);
  EXPECT_EQ(Count(log, "SyncDirectory"), 1);
  EXPECT_THAT(Batches(), ElementsAre(std::pair<size_t, size_t>(1, 0),
                                     std::pair<size_t, size_t>(kTargets, 0)));
}

INSTANTIATE_TEST_SUITE_P(Strategies, CommitQueueFlushTest,
                         testing::Values(FlushStrategy::kFsyncEach,
                                         FlushStrategy::kSyncfs,
                                         FlushStrategy::kAuto),
                         [](const testing::TestParamInfo<FlushStrategy>& info) {
                           switch (info.param) {
                             case FlushStrategy::kFsyncEach:
                               return "FsyncEach";
                             case FlushStrategy::kSyncfs:
                               return "Syncfs";
                             case FlushStrategy::kAuto:
                               return "Auto";
                           }
                           return "Unknown";
                         });

// (f) Batches take ready targets round-robin across tenants: tenant B's one
// write, queued behind tenant A's 50, is in the first or second batch after
// the gate's, not behind all of A's.
TEST_F(CommitQueueTest, ABacklogOfOneTenantDoesNotHoldBackAnother) {
  constexpr size_t kMaxBatch = 2;
  constexpr int kBacklog = 50;
  constexpr uint64_t kTenantA = 1;
  constexpr uint64_t kTenantB = 2;
  CommitQueue queue(&replacer_, Options(true, kMaxBatch), this);
  std::vector<std::unique_ptr<Write>> writes;
  for (int i = 0; i < kBacklog; ++i) {
    writes.push_back(NewWrite(absl::StrCat("a", i), "A\n", kTenantA));
  }
  writes.push_back(NewWrite("b", "B\n", kTenantB));
  HeldCommitter held(this, queue);
  SubmitAll(queue, writes);
  held.Release();

  const Write& b = *writes.back();
  ASSERT_NO_FATAL_FAILURE(ExpectPublished(b));
  EXPECT_LE(b.batch, 3u) << "the gate's batch is 1";
  int a_before_b = 0;
  for (int i = 0; i < kBacklog; ++i) {
    SCOPED_TRACE(writes[i]->leaf);
    ExpectPublished(*writes[i]);
    EXPECT_LE(writes[i]->batch, 1 + (kBacklog + 1 + kMaxBatch - 1) / kMaxBatch);
    a_before_b += writes[i]->answer < b.answer ? 1 : 0;
  }
  EXPECT_LE(a_before_b, static_cast<int>(2 * kMaxBatch));
  for (const auto& [targets, superseded] : Batches()) {
    EXPECT_LE(targets, kMaxBatch);
  }
}

// (g) Exclusive work (a remove) runs after the earlier writes of its target
// and before the later ones, which are not coalesced across it.
TEST_F(CommitQueueTest, ExclusiveWorkIsOrderedWithTheWritesOfItsTarget) {
  ASSERT_OK(fs_.PlantFile(absl::StrCat(kDir, "/", kTarget), kOldContent, 0644));
  CommitQueue queue(&replacer_, Options(), this);
  std::unique_ptr<Write> before = NewWrite(kTarget, "before the remove\n");
  std::unique_ptr<Write> after = NewWrite(kTarget, "after the remove\n");
  std::optional<std::string> seen_by_remove;
  absl::StatusOr<std::string> removed = absl::UnknownError("did not run");
  int remove_place = -1;
  HeldCommitter held(this, queue);
  Submit(queue, *before);
  queue.SubmitExclusive(KeyOf(dir_id_, kTarget), 1, [&] {
    seen_by_remove = Content(kTarget);
    removed = replacer_.Remove(dir_.get(), kTarget, "");
    remove_place = NextAnswer();
  });
  Submit(queue, *after);
  held.Release();

  ASSERT_NO_FATAL_FAILURE(ExpectPublished(*before));
  EXPECT_EQ(seen_by_remove, before->content);
  EXPECT_THAT(removed, IsOk());
  EXPECT_GT(remove_place, before->answer);
  ASSERT_NO_FATAL_FAILURE(ExpectPublished(*after));
  EXPECT_TRUE(after->ok().created) << "the remove ran before it";
  EXPECT_GT(after->answer, remove_place);
  EXPECT_EQ(Content(kTarget), after->content);
}

// (h) A failed syncfs shared by a batch fails every entry of it: each
// target keeps its old content and no temp file is left, and nothing was
// published.
TEST_F(CommitQueueTest, AFailedSharedSyncfsFailsTheWholeBatch) {
  constexpr int kTargets = 3;
  CommitQueue queue(&replacer_, Options(true, 64, FlushStrategy::kSyncfs),
                    this);
  std::vector<std::unique_ptr<Write>> writes;
  for (int i = 0; i < kTargets; ++i) {
    const std::string leaf = absl::StrCat("file", i);
    ASSERT_OK(fs_.PlantFile(absl::StrCat(kDir, "/", leaf),
                            absl::StrCat("old ", i, "\n"), 0644));
    writes.push_back(NewWrite(leaf, absl::StrCat("new content ", i, "\n")));
  }
  HeldCommitter held(this, queue);
  fs_.FailNextSync(SyncKind::kFilesystem, /*persisted=*/false);
  fs_.ClearCallLog();
  SubmitAll(queue, writes);
  held.Release();

  const std::vector<std::string> log = fs_.CallLog();
  EXPECT_EQ(Count(log, "SyncFilesystem"), 1);
  EXPECT_EQ(Count(log, "SyncFile"), 0) << "a failed flush is never retried";
  for (int i = 0; i < kTargets; ++i) {
    const Write& write = *writes[i];
    SCOPED_TRACE(write.leaf);
    ASSERT_TRUE(write.result.has_value());
    EXPECT_THAT(*write.result, Not(IsOk()));
    EXPECT_EQ(PublishesOf(log, write.leaf), 0);
    EXPECT_EQ(Content(write.leaf), absl::StrCat("old ", i, "\n"));
  }
  // Before the callers let go of their staged files.
  EXPECT_THAT(TempNames(fs_.List(kDir)), IsEmpty());
}

}  // namespace
}  // namespace durable
