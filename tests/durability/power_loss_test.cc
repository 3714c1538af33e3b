// Power loss at every step of every durable operation.
//
// Each operation runs against PowerLossFileSystem (see its header for the
// model: nothing unsynced survives, renames are atomic, synced state
// survives exactly). A dry run counts the FileSystem calls of the operation;
// then, for every cut point (before the first call, and after each call),
// the same operation runs on a fresh state with the power failing at that
// point, the machine "reboots" (everything not durable is dropped), the
// start-up sweep runs, and the surviving state is checked:
//  - the target holds exactly its old or its new content (for a remove:
//    the old content or nothing), with the permissions and owner of that
//    version; never torn, never empty unless the old content was empty;
//  - if the operation returned OK, its result is what survived
//    (acknowledged => durable);
//  - no temp file (IsTempFileName) is visible, and nothing else is there
//    besides the targets.
//
// Also: a failed fsync (persisted or not) followed by a cut at every later
// call; a second cut during the start-up sweep; two targets in one
// directory written by two threads whose calls are interleaved in chosen
// orders, cut at every call; the daemon's own write path (WriteOperation:
// policy, resolution creating missing parents, engine) alone and with two
// writers racing into a new directory; and negative controls proving that
// the checks catch a broken protocol (no file fsync, no directory fsync, a
// retried fsync, an in-place rewrite).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/synchronization/mutex.h"
#include "durable/v1/config.pb.h"
#include "durable/v1/durable.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/base/peer_credentials.h"
#include "server/base/unique_fd.h"
#include "server/engine/file_replacer.h"
#include "server/engine/target_key.h"
#include "server/engine/temp_file_sweeper.h"
#include "server/policy/policy_store.h"
#include "server/service/write_admission.h"
#include "server/service/write_operation.h"
#include "tests/support/forwarding_file_system.h"
#include "tests/support/power_loss_file_system.h"
#include "tests/support/status_matchers.h"

namespace durable {

using test::IsOk;

namespace {

using UnsyncedData = PowerLossFileSystem::UnsyncedData;
using SyncKind = PowerLossFileSystem::SyncKind;
using testing::Contains;
using testing::HasSubstr;
using testing::IsEmpty;

constexpr char kDir[] = "dir";
constexpr mode_t kOldPermissions = 0640;
constexpr mode_t kCreatePermissions = 0604;
constexpr Owner kOtherOwner = {12345, 23456};
constexpr char kOldContent[] =
    "the old content, durable before the operation\n";
constexpr char kNewContent[] =
    "the new content, written by the operation; longer than the old one\n";

std::string Describe(const std::optional<std::string>& content) {
  if (!content.has_value()) return "<absent>";
  return absl::StrCat("\"", absl::CEscape(*content), "\"");
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// One target of an operation: what it holds before and what the operation
// makes of it, with the permissions and owner of each version.
struct TargetChange {
  std::string leaf;
  std::optional<std::string> old_content;  // nullopt: absent before
  std::optional<std::string> new_content;  // nullopt: removed
  mode_t new_permissions = kCreatePermissions;
  std::optional<Owner> new_owner;  // nullopt: the test's own
};

// One durable operation on one target.
struct Operation {
  std::string name;
  TargetChange change;
  // The code the operation returns when nothing fails.
  absl::StatusCode clean_code = absl::StatusCode::kOk;
  bool rename_exchange_supported = true;
  std::function<absl::Status(FileReplacer&, FileSystem&, int dir_fd)> run;
};

Operation MakeOperation(std::string name, std::string leaf,
                        std::optional<std::string> old_content,
                        std::optional<std::string> new_content) {
  Operation op;
  op.name = std::move(name);
  op.change.leaf = std::move(leaf);
  op.change.old_content = std::move(old_content);
  op.change.new_content = std::move(new_content);
  return op;
}

void PrintTo(const Operation& operation, std::ostream* out) {
  *out << operation.name;
}

CommitOptions DefaultOptions() {
  CommitOptions options;
  options.create_permissions = kCreatePermissions;
  return options;
}

std::function<absl::Status(FileReplacer&, FileSystem&, int)> WriteOf(
    std::string leaf, std::string content, CommitOptions options) {
  return [=](FileReplacer& writer, FileSystem&, int dir_fd) {
    return writer.Write(dir_fd, leaf, content, options).status();
  };
}

// Stage, the content in `pieces` appends, Commit.
std::function<absl::Status(FileReplacer&, FileSystem&, int)> StreamOf(
    std::string leaf, std::string content, int pieces, CommitOptions options) {
  return [=](FileReplacer& writer, FileSystem&, int dir_fd) -> absl::Status {
    absl::StatusOr<std::unique_ptr<StagedFile>> staged =
        writer.Stage(dir_fd, leaf);
    if (!staged.ok()) return staged.status();
    const size_t piece = content.size() / pieces + 1;
    for (size_t offset = 0; offset < content.size(); offset += piece) {
      absl::Status appended =
          (*staged)->Append(absl::string_view(content).substr(offset, piece));
      if (!appended.ok()) return appended;
    }
    return writer.Commit(**staged, options).status();
  };
}

std::function<absl::Status(FileReplacer&, FileSystem&, int)> RemoveOf(
    std::string leaf) {
  return [=](FileReplacer& writer, FileSystem&, int dir_fd) {
    return writer.Remove(dir_fd, leaf, "").status();
  };
}

std::vector<Operation> Operations() {
  std::vector<Operation> operations;
  const CommitOptions defaults = DefaultOptions();
  {
    Operation op = MakeOperation("Create", "target", std::nullopt, kNewContent);
    op.run = WriteOf("target", kNewContent, defaults);
    operations.push_back(op);
  }
  {
    Operation op =
        MakeOperation("CreateWithOwner", "target", std::nullopt, kNewContent);
    op.change.new_owner = kOtherOwner;
    CommitOptions options = defaults;
    options.create_owner = kOtherOwner;
    op.run = WriteOf("target", kNewContent, options);
    operations.push_back(op);
  }
  {
    Operation op = MakeOperation("CreateEmpty", "target", std::nullopt, "");
    op.run = WriteOf("target", "", defaults);
    operations.push_back(op);
  }
  {
    Operation op =
        MakeOperation("Overwrite", "target", kOldContent, kNewContent);
    op.change.new_permissions = kOldPermissions;  // a replace keeps them
    op.run = WriteOf("target", kNewContent, defaults);
    operations.push_back(op);
  }
  {
    Operation op =
        MakeOperation("OverwriteEmptyOld", "target", "", kNewContent);
    op.change.new_permissions = kOldPermissions;
    op.run = WriteOf("target", kNewContent, defaults);
    operations.push_back(op);
  }
  {
    Operation op = MakeOperation("OverwriteWithRequestedMode", "target",
                                 kOldContent, kNewContent);
    op.change.new_permissions = 0600;
    CommitOptions options = defaults;
    options.requested_permissions = 0600;
    op.run = WriteOf("target", kNewContent, options);
    operations.push_back(op);
  }
  {
    // A filesystem without RENAME_EXCHANGE: the replace is a plain rename.
    Operation op = MakeOperation("OverwriteWithoutRenameExchange", "target",
                                 kOldContent, kNewContent);
    op.change.new_permissions = kOldPermissions;
    op.rename_exchange_supported = false;
    op.run = WriteOf("target", kNewContent, defaults);
    operations.push_back(op);
  }
  {
    Operation op =
        MakeOperation("CreateOnly", "target", std::nullopt, kNewContent);
    CommitOptions options = defaults;
    options.if_absent = true;
    op.run = WriteOf("target", kNewContent, options);
    operations.push_back(op);
  }
  {
    Operation op = MakeOperation("CreateOnlyOverExisting", "target",
                                 kOldContent, kOldContent);
    op.change.new_permissions = kOldPermissions;
    op.clean_code = absl::StatusCode::kAlreadyExists;
    CommitOptions options = defaults;
    options.if_absent = true;
    op.run = WriteOf("target", kNewContent, options);
    operations.push_back(op);
  }
  {
    Operation op =
        MakeOperation("StreamCreate", "target", std::nullopt, kNewContent);
    op.run = StreamOf("target", kNewContent, 3, defaults);
    operations.push_back(op);
  }
  {
    Operation op =
        MakeOperation("StreamOverwrite", "target", kOldContent, kNewContent);
    op.change.new_permissions = kOldPermissions;
    op.run = StreamOf("target", kNewContent, 4, defaults);
    operations.push_back(op);
  }
  {
    Operation op = MakeOperation("Remove", "target", kOldContent, std::nullopt);
    op.run = RemoveOf("target");
    operations.push_back(op);
  }
  {
    Operation op = MakeOperation("RemoveEmpty", "target", "", std::nullopt);
    op.run = RemoveOf("target");
    operations.push_back(op);
  }
  return operations;
}

// A fresh machine: dir/ and the old versions of `changes`, all durable.
std::unique_ptr<PowerLossFileSystem> FreshMachine(
    const std::vector<TargetChange>& changes) {
  auto fs = std::make_unique<PowerLossFileSystem>();
  absl::Status planted = fs->PlantDirectory(kDir, 0755);
  EXPECT_THAT(planted, IsOk());
  for (const TargetChange& change : changes) {
    if (!change.old_content.has_value()) continue;
    planted = fs->PlantFile(absl::StrCat(kDir, "/", change.leaf),
                            *change.old_content, kOldPermissions);
    EXPECT_THAT(planted, IsOk());
  }
  return fs;
}

// Sends the engine's log lines (rollback noise after a cut) to /dev/null
// while it lives.
class QuietStderr {
 public:
  QuietStderr() : saved_(dup(STDERR_FILENO)) {
    UniqueFd null(open("/dev/null", O_WRONLY | O_CLOEXEC));
    if (null.valid()) dup2(null.get(), STDERR_FILENO);
  }
  ~QuietStderr() {
    if (saved_.valid()) dup2(saved_.get(), STDERR_FILENO);
  }

 private:
  UniqueFd saved_;
};

// Reboots `fs`, runs the start-up sweep and returns every way in which the
// state of `changes` breaks the promise (empty if none); `results[i]` is
// what operation i returned.
std::vector<std::string> RecoverAndFindViolations(
    PowerLossFileSystem& fs, UnsyncedData unsynced,
    const std::vector<TargetChange>& changes,
    const std::vector<absl::Status>& results) {
  std::vector<std::string> violations;
  fs.Recover(unsynced);
  UniqueFd root = fs.OpenRoot();
  absl::StatusOr<SweepResult> swept =
      SweepTempFiles(fs, root.get(), "/power-loss-root");
  if (!swept.ok()) {
    violations.push_back(
        absl::StrCat("the sweep failed: ", swept.status().ToString()));
  }

  std::vector<std::string> expected_paths = {kDir};
  for (size_t i = 0; i < changes.size(); ++i) {
    const TargetChange& change = changes[i];
    const std::string path = absl::StrCat(kDir, "/", change.leaf);
    const std::optional<std::string> now = fs.ReadFile(path);
    if (now != change.old_content && now != change.new_content) {
      violations.push_back(
          absl::StrCat(path, " holds ", Describe(now), ", neither the old ",
                       Describe(change.old_content), " nor the new ",
                       Describe(change.new_content)));
    } else if (results[i].ok() && now != change.new_content) {
      violations.push_back(
          absl::StrCat("the operation on ", path, " was acknowledged, but ",
                       path, " holds ", Describe(now), " after the crash, not ",
                       Describe(change.new_content)));
    }
    if (now.has_value()) expected_paths.push_back(path);
    // The permissions and owner belong to the version that survived.
    std::optional<FileInfo> info = fs.StatPath(path);
    if (!now.has_value() || !info.has_value()) continue;
    const bool is_new = now == change.new_content && now != change.old_content;
    const mode_t permissions =
        is_new ? change.new_permissions : kOldPermissions;
    const Owner owner = is_new && change.new_owner.has_value()
                            ? *change.new_owner
                            : Owner{geteuid(), getegid()};
    if ((info->mode & 07777) != permissions || info->uid != owner.uid ||
        info->gid != owner.gid) {
      violations.push_back(absl::StrFormat(
          "%s holds %s with mode 0%o owner %d:%d, expected 0%o %d:%d", path,
          Describe(now), info->mode & 07777, info->uid, info->gid, permissions,
          owner.uid, owner.gid));
    }
  }
  std::sort(expected_paths.begin(), expected_paths.end());
  const std::vector<std::string> paths = fs.Walk();
  for (const std::string& path : paths) {
    if (IsTempFileName(BaseName(path))) {
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

// A call description with temp names (random) replaced by
// ".durabled-tmp.*", so that two runs of one operation compare equal.
std::string Normalized(const std::string& call) {
  std::string normalized;
  size_t position = 0;
  while (true) {
    const size_t found = call.find(std::string(kTempFilePrefix), position);
    if (found == std::string::npos ||
        !IsTempFileName(absl::string_view(call).substr(found, 30))) {
      break;
    }
    absl::StrAppend(&normalized, call.substr(position, found - position),
                    kTempFilePrefix, "*");
    position = found + kTempFilePrefix.size() + 16;
  }
  absl::StrAppend(&normalized, call.substr(position));
  return normalized;
}

std::string CallList(const std::vector<std::string>& calls) {
  std::string list;
  for (size_t i = 0; i < calls.size(); ++i) {
    absl::StrAppend(&list, "  ", i + 1, ". ", calls[i], "\n");
  }
  return list;
}

// One run of `operation` on `machine`; the power fails after `cut_after`
// calls (never if nullopt). The engine reaches the machine through
// `engine_fs` (the machine itself, or a wrapper). Returns the operation's
// status; the calls it made go to `calls`.
absl::Status RunOnce(PowerLossFileSystem& machine, FileSystem& engine_fs,
                     const Operation& operation, std::optional<int> cut_after,
                     std::vector<std::string>* calls) {
  machine.set_rename_exchange_supported(operation.rename_exchange_supported);
  UniqueFd root = machine.OpenRoot();
  absl::StatusOr<UniqueFd> dir = machine.OpenDirectoryBeneath(root.get(), kDir);
  if (!dir.ok()) return dir.status();
  machine.ClearCallLog();
  if (cut_after.has_value()) machine.CutPowerAfterCalls(*cut_after);
  FileReplacer writer(&engine_fs);
  absl::Status status = operation.run(writer, engine_fs, dir->get());
  *calls = machine.CallLog();
  return status;
}

// Every violation found when `operation` is cut short at every call in
// turn (each on a fresh machine, then rebooted and swept), each prefixed
// with where the power was cut. `wrap` (optional) puts a FileSystem between
// the engine and the machine; `before_run` prepares the machine.
struct CutReport {
  std::vector<std::string> protocol;  // the calls of an uncut run
  absl::Status uncut_status;
  std::vector<std::string> violations;
  int cut_points = 0;
};

using Wrapper =
    std::function<std::unique_ptr<FileSystem>(PowerLossFileSystem&)>;

CutReport CutEverywhere(
    const Operation& operation, UnsyncedData unsynced,
    const Wrapper& wrap = nullptr,
    const std::function<void(PowerLossFileSystem&)>& before_run = nullptr) {
  QuietStderr quiet;
  CutReport report;
  auto run = [&](std::optional<int> cut, std::vector<std::string>* calls) {
    std::unique_ptr<PowerLossFileSystem> machine =
        FreshMachine({operation.change});
    if (before_run) before_run(*machine);
    std::unique_ptr<FileSystem> wrapper = wrap ? wrap(*machine) : nullptr;
    absl::Status status =
        RunOnce(*machine, wrapper ? *wrapper : *machine, operation, cut, calls);
    std::vector<std::string> violations = RecoverAndFindViolations(
        *machine, unsynced, {operation.change}, {status});
    return std::make_pair(status, violations);
  };
  auto [status, uncut_violations] = run(std::nullopt, &report.protocol);
  report.uncut_status = status;
  for (const std::string& violation : uncut_violations) {
    report.violations.push_back(
        absl::StrCat("power cut after the operation: ", violation));
  }
  for (size_t cut = 0; cut <= report.protocol.size(); ++cut) {
    ++report.cut_points;
    std::vector<std::string> calls;
    auto [cut_status, violations] = run(static_cast<int>(cut), &calls);
    const std::string where =
        cut == 0 ? "power cut before the first call"
                 : absl::StrCat("power cut after call ", cut, " (",
                                report.protocol[cut - 1], ")");
    // Up to the cut, the run is the uncut run.
    for (size_t i = 0; i < cut; ++i) {
      if (i >= calls.size() ||
          Normalized(calls[i]) != Normalized(report.protocol[i])) {
        violations.push_back(absl::StrCat(
            "call ", i + 1, " differs: ", i < calls.size() ? calls[i] : "-"));
        break;
      }
    }
    if (cut == report.protocol.size() &&
        cut_status.code() != report.uncut_status.code()) {
      violations.push_back(absl::StrCat("returned ", cut_status.ToString(),
                                        " after its last call"));
    }
    for (const std::string& violation : violations) {
      report.violations.push_back(absl::StrCat(where, ": ", violation));
    }
  }
  return report;
}

class PowerLossTest
    : public testing::TestWithParam<std::tuple<Operation, UnsyncedData>> {
 protected:
  const Operation& operation() const { return std::get<0>(GetParam()); }
  UnsyncedData unsynced() const { return std::get<1>(GetParam()); }
};

TEST_P(PowerLossTest, CutAfterEveryCall) {
  const Operation& op = operation();
  CutReport report = CutEverywhere(op, unsynced());
  EXPECT_EQ(report.uncut_status.code(), op.clean_code) << report.uncut_status;
  EXPECT_THAT(report.protocol, testing::Not(IsEmpty()));
  EXPECT_THAT(report.violations, IsEmpty()) << "calls of the operation:\n"
                                            << CallList(report.protocol);
  std::printf("[ power   ] %s: %zu calls, %d cut points\n%s", op.name.c_str(),
              report.protocol.size(), report.cut_points,
              CallList(report.protocol).c_str());
}

// An fsync fails, having persisted nothing or everything, then the power
// fails at every later point. The operation must report the failure and
// make no further sync (a failed fsync is never retried into a success),
// except the one directory fsync that makes the rollback after a failed
// directory fsync durable, and the state after the crash must still be the
// old or the new version.
TEST_P(PowerLossTest, FailedSyncThenCutAfterEveryCall) {
  const Operation& op = operation();
  CutReport clean = CutEverywhere(op, unsynced());
  int syncs = 0;
  std::vector<bool> is_directory_sync;
  for (const std::string& call : clean.protocol) {
    if (!absl::StartsWith(call, "Sync")) continue;
    ++syncs;
    is_directory_sync.push_back(absl::StartsWith(call, "SyncDirectory"));
  }
  for (int sync = 0; sync < syncs; ++sync) {
    for (bool persisted : {false, true}) {
      SCOPED_TRACE(absl::StrCat(
          op.name, ": sync ", sync + 1, " of ", syncs,
          persisted ? " fails after persisting" : " fails without persisting"));
      CutReport report =
          CutEverywhere(op, unsynced(), nullptr, [&](PowerLossFileSystem& fs) {
            fs.FailNextSync(SyncKind::kAny, persisted, sync);
          });
      EXPECT_FALSE(report.uncut_status.ok()) << "a failed fsync reported OK";
      int seen = 0;
      int directory_syncs_after = 0;
      for (const std::string& call : report.protocol) {
        if (!absl::StartsWith(call, "Sync")) continue;
        ++seen;
        if (seen > sync + 1) {
          directory_syncs_after += absl::StartsWith(call, "SyncDirectory");
        }
      }
      // Without RENAME_EXCHANGE a replace cannot be rolled back, so there
      // is no rollback to make durable.
      const bool can_roll_back =
          !absl::StrContains(op.name, "WithoutRenameExchange");
      const int rollback_syncs = is_directory_sync[sync] && can_roll_back;
      EXPECT_EQ(seen, sync + 1 + rollback_syncs)
          << "synced again after the failed sync:\n"
          << CallList(report.protocol);
      EXPECT_EQ(directory_syncs_after, rollback_syncs)
          << CallList(report.protocol);
      EXPECT_THAT(report.violations, IsEmpty()) << "calls of the operation:\n"
                                                << CallList(report.protocol);
    }
  }
}

// The start-up sweep itself is cut short by another power failure: a later
// sweep still finishes the job.
TEST_P(PowerLossTest, SweepInterruptedByAnotherPowerCut) {
  QuietStderr quiet;
  const Operation& op = operation();
  std::vector<std::string> protocol;
  {
    auto fs = FreshMachine({op.change});
    ASSERT_EQ(RunOnce(*fs, *fs, op, std::nullopt, &protocol).code(),
              op.clean_code);
  }
  for (size_t cut = 0; cut <= protocol.size(); ++cut) {
    for (int sweep_cut = 0; sweep_cut < 6; ++sweep_cut) {
      auto fs = FreshMachine({op.change});
      std::vector<std::string> calls;
      absl::Status status =
          RunOnce(*fs, *fs, op, static_cast<int>(cut), &calls);
      fs->Recover(unsynced());
      {
        UniqueFd root = fs->OpenRoot();
        fs->CutPowerAfterCalls(sweep_cut);
        SweepTempFiles(*fs, root.get(), "/power-loss-root").IgnoreError();
      }
      EXPECT_THAT(
          RecoverAndFindViolations(*fs, unsynced(), {op.change}, {status}),
          IsEmpty())
          << op.name << ", power cut after call " << cut
          << ", then again after call " << sweep_cut
          << " of the start-up sweep";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Operations, PowerLossTest,
    testing::Combine(testing::ValuesIn(Operations()),
                     testing::Values(UnsyncedData::kLost,
                                     UnsyncedData::kZeroFilled)),
    [](const testing::TestParamInfo<PowerLossTest::ParamType>& info) {
      return absl::StrCat(std::get<0>(info.param).name,
                          std::get<1>(info.param) == UnsyncedData::kLost
                              ? "_UnsyncedLost"
                              : "_UnsyncedZeroed");
    });

// --- Negative controls: the test catches a broken protocol -------------------

// An engine that forgot to fsync the new file before publishing it.
class NoFileSync : public ForwardingFileSystem {
 public:
  using ForwardingFileSystem::ForwardingFileSystem;
  absl::Status SyncFile(int) override { return absl::OkStatus(); }
};

// An engine that answers before the rename is durable.
class NoDirectorySync : public ForwardingFileSystem {
 public:
  using ForwardingFileSystem::ForwardingFileSystem;
  absl::Status SyncDirectory(int) override { return absl::OkStatus(); }
};

// An engine that retries a failed fsync and trusts the retry.
class RetriedFileSync : public ForwardingFileSystem {
 public:
  using ForwardingFileSystem::ForwardingFileSystem;
  absl::Status SyncFile(int fd) override {
    absl::Status status = base()->SyncFile(fd);
    return status.ok() ? status : base()->SyncFile(fd);
  }
};

template <typename Broken>
Wrapper Wrap() {
  return [](PowerLossFileSystem& machine) -> std::unique_ptr<FileSystem> {
    return std::make_unique<Broken>(&machine);
  };
}

Operation OverwriteOperation() {
  for (const Operation& op : Operations()) {
    if (op.name == "Overwrite") return op;
  }
  return {};
}

TEST(PowerLossNegativeControlTest, MissingFileSyncIsCaught) {
  CutReport report = CutEverywhere(OverwriteOperation(), UnsyncedData::kLost,
                                   Wrap<NoFileSync>());
  EXPECT_THAT(report.violations,
              Contains(HasSubstr("holds \"\", neither the old")));
  report = CutEverywhere(OverwriteOperation(), UnsyncedData::kZeroFilled,
                         Wrap<NoFileSync>());
  EXPECT_THAT(report.violations, Contains(HasSubstr("\\000\\000\\000")));
}

TEST(PowerLossNegativeControlTest, MissingDirectorySyncIsCaught) {
  CutReport report = CutEverywhere(OverwriteOperation(), UnsyncedData::kLost,
                                   Wrap<NoDirectorySync>());
  EXPECT_THAT(report.violations, Contains(HasSubstr("was acknowledged")));
}

TEST(PowerLossNegativeControlTest, RetriedFsyncIsCaught) {
  CutReport report =
      CutEverywhere(OverwriteOperation(), UnsyncedData::kLost,
                    Wrap<RetriedFileSync>(), [](PowerLossFileSystem& fs) {
                      fs.FailNextSync(SyncKind::kFile, /*persisted=*/false);
                    });
  EXPECT_THAT(report.uncut_status, IsOk());
  EXPECT_THAT(report.violations, Contains(HasSubstr("holds \"\"")));
}

TEST(PowerLossNegativeControlTest, ReplacingInPlaceIsCaught) {
  // Unlink, re-create under the target name, sync the name, write, sync the
  // data: the classic non-atomic replacement.
  Operation op = OverwriteOperation();
  op.run = [](FileReplacer&, FileSystem& fs, int dir_fd) -> absl::Status {
    absl::Status status = fs.Unlink(dir_fd, "target");
    if (!status.ok()) return status;
    absl::StatusOr<UniqueFd> fd = fs.CreateExclusive(dir_fd, "target");
    if (!fd.ok()) return fd.status();
    status = fs.SyncDirectory(dir_fd);
    if (!status.ok()) return status;
    status = fs.Append(fd->get(), kNewContent);
    if (!status.ok()) return status;
    return fs.SyncFile(fd->get());
  };
  CutReport report = CutEverywhere(op, UnsyncedData::kLost);
  EXPECT_THAT(report.violations, Contains(HasSubstr("holds \"\", neither")));
}

// --- Two targets in one directory, written concurrently
// -----------------------

// Interleaves the FileSystem calls of two threads in a chosen order, one
// call at a time: entry i of the schedule names the actor (0 or 1) whose
// call comes i-th. Entries of an actor that has finished are skipped; past
// the end of the schedule, actor 0 goes first. Threads without an actor tag
// pass freely.
class Turnstile {
 public:
  explicit Turnstile(std::vector<int> schedule)
      : schedule_(std::move(schedule)) {}

  static thread_local int actor;

  void BeforeCall() {
    if (actor < 0) return;
    absl::MutexLock lock(&mu_);
    const int me = actor;
    mu_.Await(absl::Condition(
        +[](std::pair<Turnstile*, int>* args) {
          return args->first->NextLocked() == args->second;
        },
        &waiting_[me]));
    in_call_ = true;
  }

  void AfterCall() {
    if (actor < 0) return;
    absl::MutexLock lock(&mu_);
    // Consume the entry this call used.
    while (position_ < schedule_.size() && done_[schedule_[position_]]) {
      ++position_;
    }
    ++position_;
    in_call_ = false;
  }

  void Done() {
    absl::MutexLock lock(&mu_);
    done_[actor] = true;
  }

 private:
  int NextLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (in_call_) return -1;
    for (size_t i = position_; i < schedule_.size(); ++i) {
      if (!done_[schedule_[i]]) return schedule_[i];
    }
    return done_[0] ? 1 : 0;
  }

  const std::vector<int> schedule_;
  absl::Mutex mu_;
  size_t position_ ABSL_GUARDED_BY(mu_) = 0;
  bool done_[2] ABSL_GUARDED_BY(mu_) = {false, false};
  bool in_call_ ABSL_GUARDED_BY(mu_) = false;
  std::pair<Turnstile*, int> waiting_[2] = {{this, 0}, {this, 1}};
};

thread_local int Turnstile::actor = -1;

struct TwoTargets {
  std::string name;
  Operation first;
  Operation second;
};

// Runs both operations concurrently, interleaved by `schedule`, with the
// power failing after `cut_after` calls of the two together.
std::vector<absl::Status> RunTwo(PowerLossFileSystem& fs, const TwoTargets& ops,
                                 const std::vector<int>& schedule,
                                 std::optional<int> cut_after,
                                 std::vector<std::string>* calls) {
  UniqueFd root = fs.OpenRoot();
  absl::StatusOr<UniqueFd> dir = fs.OpenDirectoryBeneath(root.get(), kDir);
  EXPECT_THAT(dir, IsOk());
  fs.ClearCallLog();
  if (cut_after.has_value()) fs.CutPowerAfterCalls(*cut_after);
  Turnstile turnstile(schedule);
  fs.SetHooks([&](const std::string&) { turnstile.BeforeCall(); },
              [&](const std::string&) { turnstile.AfterCall(); });
  FileReplacer writer(&fs);
  std::vector<absl::Status> results(2);
  {
    auto run = [&](int actor, const Operation& op) {
      Turnstile::actor = actor;
      results[actor] = op.run(writer, fs, dir->get());
      turnstile.Done();
    };
    std::thread first(run, 0, std::cref(ops.first));
    std::thread second(run, 1, std::cref(ops.second));
    first.join();
    second.join();
  }
  fs.SetHooks(nullptr, nullptr);
  *calls = fs.CallLog();
  return results;
}

TEST(PowerLossTwoTargetsTest, CutAfterEveryCallOfInterleavedWrites) {
  const Operation overwrite_a = [] {
    Operation op = MakeOperation("OverwriteA", "a", kOldContent, kNewContent);
    op.change.new_permissions = kOldPermissions;
    op.run = WriteOf("a", kNewContent, DefaultOptions());
    return op;
  }();
  const Operation create_b = [] {
    Operation op =
        MakeOperation("CreateB", "b", std::nullopt, "b's new content\n");
    op.run = StreamOf("b", "b's new content\n", 2, DefaultOptions());
    return op;
  }();
  const Operation overwrite_b = [] {
    Operation op = MakeOperation("OverwriteB", "b", "b's old content\n",
                                 "b's new content\n");
    op.change.new_permissions = kOldPermissions;
    op.run = WriteOf("b", "b's new content\n", DefaultOptions());
    return op;
  }();
  const Operation remove_b = [] {
    Operation op =
        MakeOperation("RemoveB", "b", "b's old content\n", std::nullopt);
    op.run = RemoveOf("b");
    return op;
  }();
  const std::vector<TwoTargets> pairs = {
      {"OverwriteA+CreateB", overwrite_a, create_b},
      {"OverwriteA+OverwriteB", overwrite_a, overwrite_b},
      {"OverwriteA+RemoveB", overwrite_a, remove_b},
  };

  // Fixed interleavings (one after the other both ways, alternating) and
  // random ones from a fixed seed.
  std::vector<std::vector<int>> schedules = {
      {}, std::vector<int>(32, 1), {}, {}};
  for (int i = 0; i < 32; ++i) {
    schedules[2].push_back(i % 2);
    schedules[3].push_back((i / 3) % 2);
  }
  std::mt19937 random(20240601);
  for (int i = 0; i < 40; ++i) {
    std::vector<int> schedule;
    for (int j = 0; j < 32; ++j) schedule.push_back(random() % 2);
    schedules.push_back(schedule);
  }

  QuietStderr quiet;
  size_t trials = 0;
  for (const TwoTargets& pair : pairs) {
    const std::vector<TargetChange> changes = {pair.first.change,
                                               pair.second.change};
    for (size_t s = 0; s < schedules.size(); ++s) {
      const std::vector<int>& schedule = schedules[s];
      std::vector<std::string> protocol;
      {
        auto fs = FreshMachine(changes);
        std::vector<absl::Status> clean =
            RunTwo(*fs, pair, schedule, std::nullopt, &protocol);
        ASSERT_TRUE(clean[0].ok() && clean[1].ok())
            << pair.name << ", schedule " << s << ": " << clean[0] << "; "
            << clean[1];
      }
      for (UnsyncedData unsynced :
           {UnsyncedData::kLost, UnsyncedData::kZeroFilled}) {
        for (size_t cut = 0; cut <= protocol.size(); ++cut) {
          auto fs = FreshMachine(changes);
          std::vector<std::string> calls;
          std::vector<absl::Status> results =
              RunTwo(*fs, pair, schedule, static_cast<int>(cut), &calls);
          std::vector<std::string> violations =
              RecoverAndFindViolations(*fs, unsynced, changes, results);
          for (size_t i = 0; i < cut; ++i) {
            if (i >= calls.size() ||
                Normalized(calls[i]) != Normalized(protocol[i])) {
              violations.push_back(
                  absl::StrCat("the interleaving is not reproducible: call ",
                               i + 1, " differs"));
              break;
            }
          }
          ++trials;
          ASSERT_THAT(violations, IsEmpty())
              << pair.name << ", schedule " << s << " ("
              << absl::StrJoin(schedule, "") << "), power cut after call "
              << cut << " of " << protocol.size()
              << (unsynced == UnsyncedData::kLost ? ", unsynced data lost"
                                                  : ", unsynced data zeroed")
              << "; calls:\n"
              << CallList(calls);
        }
      }
    }
  }
  std::printf("[ power   ] two targets: %zu power cuts checked\n", trials);
}

// --- The daemon's write path: parents created on the way
// ----------------------

// The pieces of the daemon a write goes through (policy, resolution with
// create_parents, admission, commit queue, engine), running on the model.
// The rule's root is a real, empty directory whose handle the model maps to
// its own root. Each writer (actor) has a commit queue of its own, so that
// its commit runs on its own thread (the tests interleave the calls of
// threads; the writes are of distinct targets, which one queue would not
// order either).
class DaemonOnModel {
 public:
  static constexpr int kWriters = 2;

  explicit DaemonOnModel(std::shared_ptr<const ActivePolicy> policy,
                         PowerLossFileSystem* fs)
      : policies_(policy), writer_(fs) {
    fs->MapRealDirectoryToRoot(policy->roots.fd(0));
    for (int i = 0; i < kWriters; ++i) {
      commits_.push_back(
          std::make_unique<CommitQueue>(&writer_, CommitQueueOptions{}));
      deps_.push_back(WriteDependencies{&policies_, fs, &writer_,
                                        commits_.back().get(), &admission_,
                                        &pending_});
    }
  }

  // A whole write of `content` to `path` by writer `writer`, creating
  // missing parents.
  absl::Status Write(const std::string& path, const std::string& content,
                     int writer = 0) {
    PeerCredentials caller;
    caller.pid = getpid();
    caller.uid = getuid();
    caller.gid = getgid();
    durable::v1::WriteOptions options;
    options.set_create_parents(true);
    absl::StatusOr<std::unique_ptr<WriteOperation>> operation =
        WriteOperation::Begin(deps_[writer], caller, path, options);
    if (!operation.ok()) return operation.status();
    absl::Status appended = (*operation)->Append(content);
    if (!appended.ok()) return appended;
    absl::Status committed;
    absl::Notification done;
    (*operation)->Commit({}, [&](absl::StatusOr<CommitResult> result) {
      committed = result.status();
      done.Notify();
    });
    done.WaitForNotification();
    return committed;
  }

 private:
  PolicyStore policies_;
  WriteAdmission admission_{64, 64};
  PendingDirectories pending_;
  FileReplacer writer_;
  std::vector<std::unique_ptr<CommitQueue>> commits_;
  std::vector<WriteDependencies> deps_;
};

class CreateParentsPowerLossTest : public testing::Test {
 protected:
  void SetUp() override {
    char root[] = "/tmp/durabled-power-loss-root.XXXXXX";
    ASSERT_NE(mkdtemp(root), nullptr);
    root_ = root;
    durable::v1::DaemonConfig config;
    durable::v1::Rule* rule = config.add_rule();
    rule->set_root(root_);
    rule->add_allow_uid(getuid());
    rule->set_allow_create_parents(true);
    absl::StatusOr<std::shared_ptr<const ActivePolicy>> policy =
        BuildActivePolicy(config);
    ASSERT_THAT(policy, IsOk());
    policy_ = *std::move(policy);
  }

  void TearDown() override { rmdir(root_.c_str()); }

  // What survives of writes `relative[i]` (content `contents[i]`, result
  // `results[i]`): each target absent or new, present if acknowledged; no
  // temp file; nothing but the targets and their parents.
  std::vector<std::string> Violations(
      PowerLossFileSystem& fs, UnsyncedData unsynced,
      const std::vector<std::string>& relative,
      const std::vector<std::string>& contents,
      const std::vector<absl::Status>& results) {
    std::vector<std::string> violations;
    fs.Recover(unsynced);
    UniqueFd root = fs.OpenRoot();
    if (!SweepTempFiles(fs, root.get(), root_).ok()) {
      violations.push_back("the sweep failed");
    }
    std::set<std::string> allowed;
    for (size_t i = 0; i < relative.size(); ++i) {
      const std::optional<std::string> now = fs.ReadFile(relative[i]);
      if (now.has_value() && *now != contents[i]) {
        violations.push_back(absl::StrCat(relative[i], " holds ", Describe(now),
                                          ", not the new "
                                          "content"));
      }
      if (results[i].ok() && now != contents[i]) {
        violations.push_back(absl::StrCat(
            "the write of ", relative[i],
            " was acknowledged, but after the "
            "crash it holds ",
            Describe(now),
            now.has_value() ? ""
                            : " (a parent directory it was written "
                              "into did not survive)"));
      }
      for (size_t slash = 0; slash != std::string::npos;
           slash = relative[i].find('/', slash + 1)) {
        if (slash > 0) allowed.insert(relative[i].substr(0, slash));
      }
      allowed.insert(relative[i]);
    }
    for (const std::string& path : fs.Walk()) {
      if (IsTempFileName(BaseName(path))) {
        violations.push_back(absl::StrCat("temp file ", path, " survived"));
      } else if (allowed.count(path) == 0) {
        violations.push_back(absl::StrCat("unexpected ", path));
      }
    }
    return violations;
  }

  std::string root_;
  std::shared_ptr<const ActivePolicy> policy_;
};

TEST_F(CreateParentsPowerLossTest, CutAfterEveryCall) {
  QuietStderr quiet;
  const std::string relative = "x/y/target";
  const std::string content = kNewContent;
  auto run = [&](PowerLossFileSystem& fs, std::optional<int> cut,
                 std::vector<std::string>* calls) {
    DaemonOnModel daemon(policy_, &fs);
    fs.ClearCallLog();
    if (cut.has_value()) fs.CutPowerAfterCalls(*cut);
    absl::Status status = daemon.Write(root_ + "/" + relative, content);
    *calls = fs.CallLog();
    return status;
  };
  std::vector<std::string> protocol;
  {
    PowerLossFileSystem fs;
    absl::Status clean = run(fs, std::nullopt, &protocol);
    ASSERT_THAT(clean, IsOk());
    EXPECT_THAT(
        Violations(fs, UnsyncedData::kLost, {relative}, {content}, {clean}),
        IsEmpty());
  }
  std::printf("[ power   ] CreateWithParents: %zu calls, %zu cut points\n%s",
              protocol.size(), protocol.size() + 1, CallList(protocol).c_str());
  for (UnsyncedData unsynced :
       {UnsyncedData::kLost, UnsyncedData::kZeroFilled}) {
    for (size_t cut = 0; cut <= protocol.size(); ++cut) {
      PowerLossFileSystem fs;
      std::vector<std::string> calls;
      absl::Status status = run(fs, static_cast<int>(cut), &calls);
      EXPECT_THAT(Violations(fs, unsynced, {relative}, {content}, {status}),
                  IsEmpty())
          << "power cut after call " << cut << ", " << unsynced << "; calls:\n"
          << CallList(calls);
    }
  }
}

// Two writes into the same missing directory: one creates it, the other
// finds it. The one that finds it must not be acknowledged before the new
// directory's entry in its parent is durable.
TEST_F(CreateParentsPowerLossTest, ConcurrentWritesIntoANewDirectory) {
  QuietStderr quiet;
  const std::vector<std::string> relative = {"x/a", "x/b"};
  const std::vector<std::string> contents = {"a's content\n", "b's content\n"};
  auto run = [&](PowerLossFileSystem& fs, const std::vector<int>& schedule,
                 std::optional<int> cut, std::vector<std::string>* calls) {
    DaemonOnModel daemon(policy_, &fs);
    fs.ClearCallLog();
    if (cut.has_value()) fs.CutPowerAfterCalls(*cut);
    Turnstile turnstile(schedule);
    fs.SetHooks([&](const std::string&) { turnstile.BeforeCall(); },
                [&](const std::string&) { turnstile.AfterCall(); });
    std::vector<absl::Status> results(2);
    auto write = [&](int actor) {
      Turnstile::actor = actor;
      results[actor] =
          daemon.Write(root_ + "/" + relative[actor], contents[actor], actor);
      turnstile.Done();
    };
    std::thread first(write, 0);
    std::thread second(write, 1);
    first.join();
    second.join();
    fs.SetHooks(nullptr, nullptr);
    *calls = fs.CallLog();
    return results;
  };

  // The first write goes as far as creating x/, then the second runs to
  // the end; plus random interleavings from a fixed seed.
  std::vector<std::vector<int>> schedules;
  for (int head = 1; head <= 6; ++head) {
    std::vector<int> schedule(head, 0);
    schedule.resize(head + 40, 1);
    schedules.push_back(schedule);
  }
  std::mt19937 random(4242);
  for (int i = 0; i < 12; ++i) {
    std::vector<int> schedule;
    for (int j = 0; j < 48; ++j) schedule.push_back(random() % 2);
    schedules.push_back(schedule);
  }

  for (size_t s = 0; s < schedules.size(); ++s) {
    std::vector<std::string> protocol;
    {
      PowerLossFileSystem fs;
      std::vector<absl::Status> clean =
          run(fs, schedules[s], std::nullopt, &protocol);
      ASSERT_TRUE(clean[0].ok() && clean[1].ok())
          << "schedule " << s << ": " << clean[0] << "; " << clean[1];
    }
    for (size_t cut = 0; cut <= protocol.size(); ++cut) {
      PowerLossFileSystem fs;
      std::vector<std::string> calls;
      std::vector<absl::Status> results =
          run(fs, schedules[s], static_cast<int>(cut), &calls);
      std::vector<std::string> violations =
          Violations(fs, UnsyncedData::kLost, relative, contents, results);
      ASSERT_THAT(violations, IsEmpty())
          << "schedule " << s << " (" << absl::StrJoin(schedules[s], "")
          << "), power cut after call " << cut << " of " << protocol.size()
          << "; calls (a = actor 0's, b = actor 1's, interleaved):\n"
          << CallList(calls);
    }
  }
}

}  // namespace
}  // namespace durable
