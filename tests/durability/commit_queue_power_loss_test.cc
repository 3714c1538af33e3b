// Power loss at every step of a commit-queue batch.
//
// One batch, for each FlushStrategy: a create (new), a replace (two) and
// three unconditional writes queued for one target (one), coalesced into
// its newest with the two older ones superseded. The batch is formed while
// the queue's committer is held (tests/support/held_committer.h), so it is
// the same batch in every run. A dry run counts the FileSystem calls from
// the release until every staged file is let go; then, for every cut point
// (before the first call and after each), a fresh machine runs the same
// batch with the power failing there, reboots (UnsyncedData::kLost and
// kZeroFilled), runs the start-up sweep and checks:
//  - every target holds its old content (absent for the create) or one of
//    the new contents queued for it; never a mix, never empty;
//  - an acknowledged write (answered OK) is on disk, or a newer write of
//    its target is;
//  - a write answered as superseded names a winner that was answered OK
//    itself, was queued after it, and whose content (or a newer one) is on
//    disk: superseded answers are never newer than what is on disk;
//  - no temp file survives the sweep, and nothing else is there.
// The same again for a batch that must first make good an earlier failed
// directory fsync (sync debt), cut at every step of it.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/base/unique_fd.h"
#include "server/engine/commit_queue.h"
#include "server/engine/file_replacer.h"
#include "server/engine/target_key.h"
#include "server/engine/temp_file_sweeper.h"
#include "tests/support/forwarding_file_system.h"
#include "tests/support/held_committer.h"
#include "tests/support/power_loss_file_system.h"
#include "tests/support/status_matchers.h"

namespace durable {

using test::IsOk;

namespace {

using SyncKind = PowerLossFileSystem::SyncKind;
using UnsyncedData = PowerLossFileSystem::UnsyncedData;
using testing::Contains;
using testing::HasSubstr;
using testing::IsEmpty;

constexpr char kDir[] = "dir";
constexpr char kGateDir[] = "gate";
constexpr char kDebtContent[] = "written while the directory fsync failed\n";

// A target of the batch: what it holds before, and what is queued for it
// (in Submit order, so later is newer).
struct Target {
  std::string leaf;
  std::optional<std::string> old_content;  // nullopt: absent before
  std::vector<std::string> writes;
};

std::vector<Target> Scenario() {
  return {
      {"one",
       "old one\n",
       {"one: first\n", "one: second!\n", "one: third!!\n"}},
      {"new", std::nullopt, {"new: created\n"}},
      {"two", "old two\n", {"two: replaced\n"}},
  };
}

std::string Describe(const std::optional<std::string>& content) {
  return content.has_value() ? absl::StrCat("\"", absl::CEscape(*content), "\"")
                             : "<absent>";
}

// One queued write and its answer.
struct Queued {
  size_t target = 0;  // index into the scenario
  size_t index = 0;   // index into its target's writes
  std::unique_ptr<StagedFile> staged;
  std::optional<absl::StatusOr<CommitResult>> result;
};

struct BatchRun {
  std::vector<std::string> calls;  // from the release on
  std::vector<Queued> queued;
};

struct BatchSetup {
  FlushStrategy flush = FlushStrategy::kAuto;
  // Before the batch, a write of "one" whose directory fsync, and the fsync
  // after its rollback, fail: the batch must settle that debt first.
  bool sync_debt = false;
};

std::unique_ptr<PowerLossFileSystem> FreshMachine(
    const std::vector<Target>& targets) {
  auto fs = std::make_unique<PowerLossFileSystem>();
  EXPECT_OK(fs->PlantDirectory(kDir, 0755));
  EXPECT_OK(fs->PlantDirectory(kGateDir, 0755));
  for (const Target& target : targets) {
    if (!target.old_content.has_value()) continue;
    EXPECT_OK(fs->PlantFile(absl::StrCat(kDir, "/", target.leaf),
                            *target.old_content, 0644));
  }
  return fs;
}

std::unique_ptr<StagedFile> Stage(FileReplacer& replacer, int dir_fd,
                                  const std::string& leaf,
                                  const std::string& content) {
  absl::StatusOr<std::unique_ptr<StagedFile>> staged =
      replacer.Stage(dir_fd, leaf);
  EXPECT_OK(staged);
  if (!staged.ok()) return nullptr;
  EXPECT_OK((*staged)->Append(content));
  EXPECT_OK((*staged)->Seal(std::nullopt));
  return *std::move(staged);
}

// Runs the batch on `fs`, the power failing after `cut_after` calls from
// the release on (never if nullopt).
// `engine` (if set) stands between the engine and `fs`.
BatchRun RunBatch(PowerLossFileSystem& fs, const std::vector<Target>& targets,
                  const BatchSetup& setup, std::optional<int> cut_after,
                  FileSystem* engine = nullptr) {
  BatchRun run;
  UniqueFd root = fs.OpenRoot();
  absl::StatusOr<UniqueFd> dir = fs.OpenDirectoryBeneath(root.get(), kDir);
  absl::StatusOr<UniqueFd> gate_dir =
      fs.OpenDirectoryBeneath(root.get(), kGateDir);
  EXPECT_OK(dir);
  EXPECT_OK(gate_dir);
  if (!dir.ok() || !gate_dir.ok()) return run;
  absl::StatusOr<FileInfo> dir_id = fs.Stat(dir->get());
  absl::StatusOr<FileInfo> gate_id = fs.Stat(gate_dir->get());
  EXPECT_OK(dir_id);
  EXPECT_OK(gate_id);
  if (!dir_id.ok() || !gate_id.ok()) return run;

  FileReplacer replacer(engine != nullptr ? engine : &fs);
  CommitQueueOptions options;
  options.flush = setup.flush;
  CommitQueue queue(&replacer, options);
  // Staged in the order they are submitted: the three writes of "one"
  // interleaved with the others.
  for (size_t round = 0; round < 3; ++round) {
    for (size_t t = 0; t < targets.size(); ++t) {
      if (round >= targets[t].writes.size()) continue;
      Queued queued;
      queued.target = t;
      queued.index = round;
      queued.staged = Stage(replacer, dir->get(), targets[t].leaf,
                            targets[t].writes[round]);
      run.queued.push_back(std::move(queued));
    }
  }
  std::unique_ptr<StagedFile> gate_file =
      Stage(replacer, gate_dir->get(), "gate", "gate\n");
  CommitQueue::Request gate;
  gate.staged = gate_file.get();
  gate.target = TargetKey{gate_id->device, gate_id->inode, "gate"};
  test::HeldCommitter held(queue, std::move(gate));
  EXPECT_OK(held.gate_result());
  if (setup.sync_debt) {
    // Nothing else is committing: the gate's answer is waiting.
    fs.FailNextSync(SyncKind::kDirectory, /*persisted=*/false);
    fs.FailNextSync(SyncKind::kDirectory, /*persisted=*/false);
    absl::StatusOr<CommitResult> debt =
        replacer.Write(dir->get(), "one", kDebtContent, CommitOptions());
    EXPECT_THAT(debt, test::StatusIs(absl::StatusCode::kUnknown));
  }

  fs.ClearCallLog();
  if (cut_after.has_value()) fs.CutPowerAfterCalls(*cut_after);
  for (Queued& queued : run.queued) {
    CommitQueue::Request request;
    request.staged = queued.staged.get();
    request.target =
        TargetKey{dir_id->device, dir_id->inode, targets[queued.target].leaf};
    request.done = [&queued](absl::StatusOr<CommitResult> result) {
      EXPECT_FALSE(queued.result.has_value()) << "answered twice";
      queued.result = std::move(result);
    };
    queue.Submit(std::move(request));
  }
  held.Release();
  // The callers let go of their staged files (a replace's old content goes
  // with them).
  for (Queued& queued : run.queued) queued.staged.reset();
  gate_file.reset();
  run.calls = fs.CallLog();
  return run;
}

// Every way in which the state after Recover + sweep breaks the promise.
std::vector<std::string> Violations(PowerLossFileSystem& fs,
                                    UnsyncedData unsynced,
                                    const std::vector<Target>& targets,
                                    const BatchSetup& setup,
                                    const BatchRun& run) {
  std::vector<std::string> violations;
  fs.Recover(unsynced);
  UniqueFd root = fs.OpenRoot();
  absl::StatusOr<SweepResult> swept =
      SweepTempFiles(fs, root.get(), "/power-loss-root");
  if (!swept.ok()) {
    violations.push_back(
        absl::StrCat("the sweep failed: ", swept.status().ToString()));
  }
  std::vector<std::string> expected_paths = {kDir, kGateDir,
                                             absl::StrCat(kGateDir, "/gate")};
  for (size_t t = 0; t < targets.size(); ++t) {
    const Target& target = targets[t];
    const std::string path = absl::StrCat(kDir, "/", target.leaf);
    const std::optional<std::string> now = fs.ReadFile(path);
    if (now.has_value()) expected_paths.push_back(path);
    // -1: not one of the queued writes (the old content, or the debt).
    int rank = -1;
    for (size_t i = 0; i < target.writes.size(); ++i) {
      if (now == target.writes[i]) rank = static_cast<int>(i);
    }
    const bool debt = setup.sync_debt && t == 0 && now == kDebtContent;
    if (rank < 0 && now != target.old_content && !debt) {
      violations.push_back(absl::StrCat(
          path, " holds ", Describe(now), ": neither its old content ",
          Describe(target.old_content), " nor one queued for it"));
    }
    for (const Queued& queued : run.queued) {
      if (queued.target != t) continue;
      if (!queued.result.has_value()) {
        violations.push_back(absl::StrCat("write ", queued.index, " of ", path,
                                          " was never answered"));
        continue;
      }
      if (!queued.result->ok()) continue;
      const CommitResult& answer = **queued.result;
      const std::string what =
          absl::StrCat("write ", queued.index, " of ", path, " (",
                       Describe(target.writes[queued.index]), ")");
      int acknowledged = static_cast<int>(queued.index);
      if (answer.superseded) {
        // Its winner: a later write of the target, answered OK and not
        // superseded, with the etag it was given.
        const Queued* winner = nullptr;
        for (const Queued& other : run.queued) {
          if (other.target == t && other.result.has_value() &&
              other.result->ok() && !(*other.result)->superseded &&
              (*other.result)->etag == answer.etag) {
            winner = &other;
          }
        }
        if (winner == nullptr || winner->index <= queued.index) {
          violations.push_back(
              absl::StrCat(what, " was answered as superseded by etag ",
                           answer.etag, ", which no later write was given"));
          continue;
        }
        acknowledged = static_cast<int>(winner->index);
      }
      if (rank < acknowledged) {
        violations.push_back(absl::StrCat(
            what, " was acknowledged",
            answer.superseded
                ? absl::StrCat(" as superseded by write ", acknowledged)
                : "",
            ", but after the crash ", path, " holds ", Describe(now)));
      }
    }
  }
  std::sort(expected_paths.begin(), expected_paths.end());
  const std::vector<std::string> paths = fs.Walk();
  for (const std::string& path : paths) {
    const size_t slash = path.rfind('/');
    if (IsTempFileName(slash == std::string::npos ? path
                                                  : path.substr(slash + 1))) {
      violations.push_back(
          absl::StrCat("temp file ", path, " survived the start-up sweep"));
    }
  }
  if (paths != expected_paths) {
    violations.push_back(absl::StrCat(
        "the tree is {", absl::StrJoin(paths, ", "), "}, expected {",
        absl::StrJoin(expected_paths, ", "), "}"));
  }
  return violations;
}

std::string CallList(const std::vector<std::string>& calls) {
  std::string list;
  for (size_t i = 0; i < calls.size(); ++i) {
    absl::StrAppend(&list, "  ", i + 1, ". ", calls[i], "\n");
  }
  return list;
}

const char* NameOf(FlushStrategy flush) {
  switch (flush) {
    case FlushStrategy::kFsyncEach:
      return "FsyncEach";
    case FlushStrategy::kSyncfs:
      return "Syncfs";
    case FlushStrategy::kAuto:
      return "Auto";
  }
  return "Unknown";
}

class CommitQueuePowerLossTest
    : public testing::TestWithParam<
          std::tuple<FlushStrategy, UnsyncedData, bool>> {
 protected:
  BatchSetup setup() const {
    BatchSetup setup;
    setup.flush = std::get<0>(GetParam());
    setup.sync_debt = std::get<2>(GetParam());
    return setup;
  }
  UnsyncedData unsynced() const { return std::get<1>(GetParam()); }
};

TEST_P(CommitQueuePowerLossTest, CutAfterEveryCallOfTheBatch) {
  const std::vector<Target> targets = Scenario();
  // The uncut run: everything acknowledged, "one" coalesced.
  std::unique_ptr<PowerLossFileSystem> machine = FreshMachine(targets);
  const BatchRun uncut = RunBatch(*machine, targets, setup(), std::nullopt);
  ASSERT_FALSE(uncut.calls.empty());
  for (const Queued& queued : uncut.queued) {
    ASSERT_TRUE(queued.result.has_value());
    ASSERT_OK(*queued.result);
    const bool older_of_one = queued.target == 0 && queued.index < 2;
    EXPECT_EQ((*queued.result)->superseded, older_of_one)
        << targets[queued.target].leaf << " write " << queued.index;
  }
  EXPECT_THAT(Violations(*machine, unsynced(), targets, setup(), uncut),
              IsEmpty())
      << "power cut after the batch; calls:\n"
      << CallList(uncut.calls);

  int acknowledged_cuts = 0;
  for (size_t cut = 0; cut <= uncut.calls.size(); ++cut) {
    const std::string where =
        cut == 0 ? "power cut before the first call"
                 : absl::StrCat("power cut after call ", cut, " (",
                                uncut.calls[cut - 1], ")");
    SCOPED_TRACE(where);
    machine = FreshMachine(targets);
    const BatchRun run =
        RunBatch(*machine, targets, setup(), static_cast<int>(cut));
    for (const Queued& queued : run.queued) {
      acknowledged_cuts += queued.result.has_value() && queued.result->ok();
    }
    EXPECT_THAT(Violations(*machine, unsynced(), targets, setup(), run),
                IsEmpty())
        << "calls of the uncut batch:\n"
        << CallList(uncut.calls);
  }
  // Some cuts came after acknowledgements, so the acked checks were made.
  EXPECT_GT(acknowledged_cuts, 0);
  std::printf("[ power   ] %zu calls, %zu cut points\n%s", uncut.calls.size(),
              uncut.calls.size() + 1, CallList(uncut.calls).c_str());
}

// Flushes that report success and make nothing durable.
class NoDataFlushes : public ForwardingFileSystem {
 public:
  using ForwardingFileSystem::ForwardingFileSystem;
  absl::Status SyncFile(int) override { return absl::OkStatus(); }
  absl::Status SyncFilesystem(int) override { return absl::OkStatus(); }
};

// Negative control: the checks catch acknowledged writes that a crash
// loses.
TEST(CommitQueuePowerLossControlTest, CatchesAcknowledgedWritesThatAreLost) {
  const std::vector<Target> targets = Scenario();
  for (FlushStrategy flush :
       {FlushStrategy::kFsyncEach, FlushStrategy::kSyncfs}) {
    SCOPED_TRACE(NameOf(flush));
    BatchSetup setup;
    setup.flush = flush;
    std::unique_ptr<PowerLossFileSystem> machine = FreshMachine(targets);
    NoDataFlushes broken(machine.get());
    const BatchRun run =
        RunBatch(*machine, targets, setup, std::nullopt, &broken);
    EXPECT_THAT(Violations(*machine, UnsyncedData::kLost, targets, setup, run),
                Contains(HasSubstr("was acknowledged")));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Batches, CommitQueuePowerLossTest,
    testing::Combine(
        testing::Values(FlushStrategy::kFsyncEach, FlushStrategy::kSyncfs,
                        FlushStrategy::kAuto),
        testing::Values(UnsyncedData::kLost, UnsyncedData::kZeroFilled),
        testing::Bool()),
    [](const auto& info) {
      return absl::StrCat(NameOf(std::get<0>(info.param)),
                          std::get<1>(info.param) == UnsyncedData::kLost
                              ? "Lost"
                              : "ZeroFilled",
                          std::get<2>(info.param) ? "AfterSyncDebt" : "");
    });

}  // namespace
}  // namespace durable
