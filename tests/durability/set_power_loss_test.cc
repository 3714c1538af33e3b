// Power-loss model of WriteSet's commit protocol (SetReplacer::Commit) and
// of its recovery (the start-up sweep, RecoverSetRecord).
//
// A 3-member set (create d/new, replace e/old, remove d/gone: two member
// directories besides the record's) runs against PowerLossFileSystem, whose
// header states the crash model. A dry run counts its FileSystem calls;
// then the power is cut after every call in turn, each on a fresh machine,
// which is rebooted and recovered with SweepTempFiles as the daemon does at
// start. Every cut must leave the set whole-old or whole-new (whole-new if
// Commit returned OK), and no temp file or commit record behind.
//
// Recovery itself is cut too: for every cut of the set that leaves a
// commit record, the recovery after the reboot is cut after each of its
// calls, rebooted again and recovered once more; the same must hold.
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/engine/etag.h"
#include "server/engine/file_replacer.h"
#include "server/engine/set_record.h"
#include "server/engine/set_replacer.h"
#include "server/engine/temp_file_sweeper.h"
#include "tests/support/power_loss_file_system.h"
#include "tests/support/status_matchers.h"

namespace durable {
namespace {

using test::IsOk;
using ::testing::IsEmpty;
using UnsyncedData = PowerLossFileSystem::UnsyncedData;

struct MemberState {
  std::string path;
  std::optional<std::string> old_content;
  std::optional<std::string> new_content;
};

const std::vector<MemberState>& Members() {
  static const auto* members = new std::vector<MemberState>{
      {"d/new", std::nullopt, "created by the set"},
      {"e/old", "old content of e/old", "new content of e/old"},
      {"d/gone", "removed by the set", std::nullopt},
  };
  return *members;
}

std::unique_ptr<PowerLossFileSystem> FreshMachine() {
  auto fs = std::make_unique<PowerLossFileSystem>();
  EXPECT_THAT(fs->PlantDirectory("d", 0755), IsOk());
  EXPECT_THAT(fs->PlantDirectory("e", 0755), IsOk());
  for (const MemberState& member : Members()) {
    if (member.old_content.has_value()) {
      EXPECT_THAT(fs->PlantFile(member.path, *member.old_content, 0644),
                  IsOk());
    }
  }
  return fs;
}

// The set, as SetOperation hands it to SetReplacer; the root is the
// record directory.
absl::Status RunSet(FileSystem& fs, int root_fd) {
  FileReplacer replacer(&fs);
  SetReplacer sets(&fs, &replacer);
  absl::StatusOr<UniqueFd> d = fs.OpenDirectoryBeneath(root_fd, "d");
  if (!d.ok()) return d.status();
  absl::StatusOr<UniqueFd> e = fs.OpenDirectoryBeneath(root_fd, "e");
  if (!e.ok()) return e.status();
  absl::StatusOr<FileInfo> d_info = fs.Stat(d->get());
  if (!d_info.ok()) return d_info.status();
  absl::StatusOr<FileInfo> e_info = fs.Stat(e->get());
  if (!e_info.ok()) return e_info.status();

  std::vector<std::unique_ptr<StagedFile>> staged;
  auto stage = [&](int dir, const std::string& leaf,
                   const std::string& content) -> absl::Status {
    absl::StatusOr<std::unique_ptr<StagedFile>> file =
        replacer.Stage(dir, leaf);
    if (!file.ok()) return file.status();
    absl::Status status = (*file)->Append(content);
    if (status.ok()) status = (*file)->Seal(std::nullopt);
    staged.push_back(*std::move(file));
    return status;
  };
  if (absl::Status s = stage(d->get(), "new", *Members()[0].new_content);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = stage(e->get(), "old", *Members()[1].new_content);
      !s.ok()) {
    return s;
  }
  CommitOptions options;
  // A member in directory `dir` (`name` beneath the root, `info` its
  // identity); a write if `file` is set, else a remove.
  auto entry = [&](StagedFile* file, int dir, const FileInfo& info,
                   const std::string& name, const std::string& leaf) {
    SetEntry member;
    member.staged = file;
    member.options = file != nullptr ? &options : nullptr;
    member.dir_fd = dir;
    member.leaf = leaf;
    member.record_path = name;
    member.directory_device = info.device;
    member.directory_inode = info.inode;
    return member;
  };
  std::vector<SetEntry> entries = {
      entry(staged[0].get(), d->get(), *d_info, "d", "new"),
      entry(staged[1].get(), e->get(), *e_info, "e", "old"),
      entry(nullptr, d->get(), *d_info, "d", "gone"),
  };
  return sets.Commit(absl::MakeSpan(entries), root_fd);
}

absl::Status Recover(PowerLossFileSystem& fs) {
  UniqueFd root = fs.OpenRoot();
  absl::StatusOr<SweepResult> swept =
      SweepTempFiles(fs, root.get(), "/power-loss-root");
  return swept.status();
}

std::string Describe(const std::optional<std::string>& content) {
  return content.has_value() ? absl::StrCat("\"", *content, "\"") : "(absent)";
}

// Temp files and commit records anywhere.
std::vector<std::string> FindStrays(const PowerLossFileSystem& fs) {
  std::vector<std::string> strays;
  for (const std::string& path : fs.Walk()) {
    const absl::string_view leaf =
        absl::string_view(path).substr(path.rfind('/') + 1);
    if (IsTempFileName(leaf) || IsSetRecordName(leaf)) strays.push_back(path);
  }
  return strays;
}

// Every way in which the recovered machine breaks the promise.
std::vector<std::string> FindViolations(const PowerLossFileSystem& fs,
                                        bool acknowledged) {
  std::vector<std::string> violations;
  bool all_old = true;
  bool all_new = true;
  std::string state;
  for (const MemberState& member : Members()) {
    const std::optional<std::string> now = fs.ReadFile(member.path);
    all_old = all_old && now == member.old_content;
    all_new = all_new && now == member.new_content;
    absl::StrAppend(&state, " ", member.path, "=", Describe(now));
  }
  if (!all_old && !all_new) {
    violations.push_back(absl::StrCat("the set is mixed:", state));
  }
  if (acknowledged && !all_new) {
    violations.push_back(
        absl::StrCat("the set was acknowledged but is not new:", state));
  }
  for (const std::string& stray : FindStrays(fs)) {
    violations.push_back(absl::StrCat(stray, " survived recovery"));
  }
  return violations;
}

// Calls of the set on an uncut machine.
int CountSetCalls() {
  std::unique_ptr<PowerLossFileSystem> fs = FreshMachine();
  UniqueFd root = fs->OpenRoot();
  fs->ClearCallLog();
  EXPECT_THAT(RunSet(*fs, root.get()), IsOk());
  EXPECT_THAT(FindViolations(*fs, true), IsEmpty());
  return static_cast<int>(fs->CallLog().size());
}

bool HasRecord(const PowerLossFileSystem& fs) {
  for (const std::string& path : fs.Walk()) {
    if (path.rfind('/') != std::string::npos &&
        IsSetRecordName(path.substr(path.rfind('/') + 1))) {
      return true;
    }
  }
  return false;
}

class SetPowerLossTest : public ::testing::TestWithParam<UnsyncedData> {};

TEST_P(SetPowerLossTest, CutAfterEveryCallOfTheSet) {
  const int calls = CountSetCalls();
  ASSERT_GT(calls, 10);
  int cuts_in_commit_window = 0;
  for (int cut = 0; cut <= calls; ++cut) {
    std::unique_ptr<PowerLossFileSystem> fs = FreshMachine();
    UniqueFd root = fs->OpenRoot();
    fs->CutPowerAfterCalls(cut);
    const absl::Status status = RunSet(*fs, root.get());
    fs->Recover(GetParam());
    if (HasRecord(*fs)) ++cuts_in_commit_window;
    ASSERT_THAT(Recover(*fs), IsOk()) << "cut after call " << cut;
    EXPECT_THAT(FindViolations(*fs, status.ok()), IsEmpty())
        << "power cut after call " << cut << " of " << calls
        << " (Commit returned " << status << ")";
  }
  // The protocol has a window in which a durable record decides the set.
  EXPECT_GT(cuts_in_commit_window, 0);
  std::printf("[ power   ] 3-member set: %d calls, %d cuts, %d left a record\n",
              calls, calls + 1, cuts_in_commit_window);
}

TEST_P(SetPowerLossTest, CutAfterEveryCallOfTheRecovery) {
  const int calls = CountSetCalls();
  int recoveries_cut = 0;
  for (int cut = 0; cut <= calls; ++cut) {
    // How many calls the recovery after this cut makes, uncut.
    int recovery_calls = 0;
    {
      std::unique_ptr<PowerLossFileSystem> fs = FreshMachine();
      UniqueFd root = fs->OpenRoot();
      fs->CutPowerAfterCalls(cut);
      (void)RunSet(*fs, root.get());
      fs->Recover(GetParam());
      if (!HasRecord(*fs)) continue;
      fs->ClearCallLog();
      ASSERT_THAT(Recover(*fs), IsOk());
      recovery_calls = static_cast<int>(fs->CallLog().size());
    }
    for (int second = 0; second <= recovery_calls; ++second) {
      std::unique_ptr<PowerLossFileSystem> fs = FreshMachine();
      UniqueFd root = fs->OpenRoot();
      fs->CutPowerAfterCalls(cut);
      const absl::Status status = RunSet(*fs, root.get());
      fs->Recover(GetParam());
      fs->CutPowerAfterCalls(second);
      (void)Recover(*fs);  // fails once the power is gone
      fs->Recover(GetParam());
      ASSERT_THAT(Recover(*fs), IsOk());
      EXPECT_THAT(FindViolations(*fs, status.ok()), IsEmpty())
          << "set cut after call " << cut << ", its recovery after call "
          << second << " of " << recovery_calls;
      ++recoveries_cut;
    }
  }
  EXPECT_GT(recoveries_cut, 0);
  std::printf("[ power   ] recovery cut at %d points\n", recoveries_cut);
}

// An UNKNOWN set leaves its record for the next start; a member written
// again meanwhile (and acknowledged) must keep that newer content: recovery
// discards the set's temp file instead of renaming it over.
TEST(SetRecoveryTest, NewerWriteAfterAnUnfinishedSetIsKept) {
  PowerLossFileSystem fs;
  ASSERT_THAT(fs.PlantDirectory("d", 0755), IsOk());
  ASSERT_THAT(fs.PlantFile("d/a", "old a", 0644), IsOk());
  ASSERT_THAT(fs.PlantFile("d/b", "old b", 0644), IsOk());
  std::optional<FileInfo> old_a = fs.StatPath("d/a");
  std::optional<FileInfo> old_b = fs.StatPath("d/b");
  ASSERT_TRUE(old_a.has_value() && old_b.has_value());
  const std::string etag_a = EtagOf(*old_a);
  const std::string etag_b = EtagOf(*old_b);
  // The set's staged content, and then a newer write of b.
  ASSERT_THAT(fs.PlantFile("d/.durabled-tmp.00000000000000aa", "set a", 0644),
              IsOk());
  ASSERT_THAT(fs.PlantFile("d/.durabled-tmp.00000000000000bb", "set b", 0644),
              IsOk());
  ASSERT_THAT(fs.PlantFile("d/.durabled-tmp.00000000000000cc", "newer b", 0644),
              IsOk());
  {
    UniqueFd root = fs.OpenRoot();
    absl::StatusOr<UniqueFd> d = fs.OpenDirectoryBeneath(root.get(), "d");
    ASSERT_THAT(d, IsOk());
    ASSERT_THAT(fs.Rename(d->get(), ".durabled-tmp.00000000000000cc", "b",
                          RenameMode::kReplace),
                IsOk());
    ASSERT_THAT(fs.SyncDirectory(d->get()), IsOk());
  }
  ASSERT_THAT(fs.PlantDirectory(std::string(kSetDirectoryName), 0700), IsOk());
  SetRecord record;
  for (const auto& [leaf, temp, etag] :
       {std::tuple<std::string, std::string, std::string>{
            "a", ".durabled-tmp.00000000000000aa", etag_a},
        {"b", ".durabled-tmp.00000000000000bb", etag_b}}) {
    std::optional<FileInfo> staged = fs.StatPath(absl::StrCat("d/", temp));
    ASSERT_TRUE(staged.has_value());
    SetRecord::Member member;
    member.directory = "d";
    member.leaf = leaf;
    member.temp = temp;
    member.temp_inode = staged->inode;
    member.expected_etag = etag;
    record.members.push_back(member);
  }
  ASSERT_THAT(fs.PlantFile(absl::StrCat(kSetDirectoryName,
                                        "/.durabled-set.0123456789abcdef"),
                           EncodeSetRecord(record), 0600),
              IsOk());
  fs.Recover();
  ASSERT_THAT(Recover(fs), IsOk());
  EXPECT_EQ(fs.ReadFile("d/a"), "set a");
  EXPECT_EQ(fs.ReadFile("d/b"), "newer b");
  EXPECT_THAT(FindStrays(fs), IsEmpty());
  // Recovering again changes nothing.
  fs.Recover();
  ASSERT_THAT(Recover(fs), IsOk());
  EXPECT_EQ(fs.ReadFile("d/a"), "set a");
  EXPECT_EQ(fs.ReadFile("d/b"), "newer b");
}

INSTANTIATE_TEST_SUITE_P(
    Unsynced, SetPowerLossTest,
    ::testing::Values(UnsyncedData::kLost, UnsyncedData::kZeroFilled),
    [](const ::testing::TestParamInfo<UnsyncedData>& info) {
      return info.param == UnsyncedData::kLost ? std::string("Lost")
                                               : std::string("ZeroFilled");
    });

}  // namespace
}  // namespace durable
