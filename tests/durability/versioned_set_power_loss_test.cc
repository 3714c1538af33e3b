// Power-loss model of a set in the versioned layout (VersionedSetReplacer)
// and of its recovery (the start-up sweep, TidyVersionedLayout).
//
// Directory d holds a layout of three files (keep, old, gone). A 3-member
// set creates d/new, replaces d/old and removes d/gone; d/keep is carried
// into the new version. A dry run counts its FileSystem calls; then the
// power is cut after every call in turn, on a fresh machine each time,
// which is rebooted (both unsynced-data models) and recovered with
// SweepTempFiles as the daemon does at start. After every cut, what
// d/..data names must be the whole old or the whole new version (new if
// Commit returned OK), every reader link d/NAME must lead to a file of that
// version and every file of it must have one, and no temp file, stale
// version or temp ..data link may be left. The recovery is then cut after
// each of its own calls, rebooted and recovered again; the same must hold.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/engine/file_replacer.h"
#include "server/engine/temp_file_sweeper.h"
#include "server/engine/versioned_layout.h"
#include "server/engine/versioned_set_replacer.h"
#include "tests/support/power_loss_file_system.h"
#include "tests/support/status_matchers.h"

namespace durable {
namespace {

using test::IsOk;
using ::testing::IsEmpty;
using UnsyncedData = PowerLossFileSystem::UnsyncedData;
using Version = std::map<std::string, std::string>;  // name -> content

constexpr absl::string_view kOldVersion = "..durabled-v.00000000000000a1";

const Version& OldVersion() {
  static const auto* version = new Version{
      {"keep", "kept by the set"},
      {"old", "old content of old"},
      {"gone", "removed by the set"},
  };
  return *version;
}

const Version& NewVersion() {
  static const auto* version = new Version{
      {"keep", "kept by the set"},
      {"old", "new content of old"},
      {"new", "created by the set"},
  };
  return *version;
}

std::unique_ptr<PowerLossFileSystem> FreshMachine() {
  auto fs = std::make_unique<PowerLossFileSystem>();
  EXPECT_THAT(fs->PlantDirectory("d", 0755), IsOk());
  const std::string version = absl::StrCat("d/", kOldVersion);
  EXPECT_THAT(fs->PlantDirectory(version, 0755 | kVersionMark), IsOk());
  for (const auto& [name, content] : OldVersion()) {
    EXPECT_THAT(fs->PlantFile(absl::StrCat(version, "/", name), content, 0644),
                IsOk());
    EXPECT_THAT(
        fs->PlantSymlink(absl::StrCat("d/", name), MemberLinkTarget(name)),
        IsOk());
  }
  EXPECT_THAT(fs->PlantSymlink("d/..data", std::string(kOldVersion)), IsOk());
  return fs;
}

// The set, as SetOperation hands it to VersionedSetReplacer.
absl::Status RunSet(FileSystem& fs, int root_fd) {
  FileReplacer replacer(&fs);
  VersionedSetReplacer sets(&fs, &replacer);
  absl::StatusOr<UniqueFd> d = fs.OpenDirectoryBeneath(root_fd, "d");
  if (!d.ok()) return d.status();
  std::vector<std::unique_ptr<StagedFile>> staged;
  for (const char* leaf : {"new", "old"}) {
    absl::StatusOr<std::unique_ptr<StagedFile>> file =
        replacer.Stage(d->get(), leaf);
    if (!file.ok()) return file.status();
    absl::Status status = (*file)->Append(NewVersion().at(leaf));
    if (status.ok()) status = (*file)->Seal(std::nullopt);
    staged.push_back(*std::move(file));
    if (!status.ok()) return status;
  }
  CommitOptions options;
  auto entry = [&](StagedFile* file, const std::string& leaf) {
    SetEntry member;
    member.staged = file;
    member.options = file != nullptr ? &options : nullptr;
    member.dir_fd = d->get();
    member.leaf = leaf;
    return member;
  };
  std::vector<SetEntry> entries = {
      entry(staged[0].get(), "new"),
      entry(staged[1].get(), "old"),
      entry(nullptr, "gone"),
  };
  return sets.Commit(absl::MakeSpan(entries), d->get(), 0755);
}

absl::Status Recover(PowerLossFileSystem& fs) {
  UniqueFd root = fs.OpenRoot();
  return SweepTempFiles(fs, root.get(), "/power-loss-root").status();
}

// What a reader of d/..data sees: each file of the version it names.
std::optional<Version> ReadThroughDataLink(const PowerLossFileSystem& fs,
                                           std::string* version_name) {
  std::optional<std::string> target = fs.ReadLink("d/..data");
  if (!target.has_value()) return std::nullopt;
  *version_name = *target;
  Version version;
  for (const std::string& name : fs.List(absl::StrCat("d/", *target))) {
    std::optional<std::string> content =
        fs.ReadFile(absl::StrCat("d/", *target, "/", name));
    version[name] = content.value_or("(unreadable)");
  }
  return version;
}

std::string Describe(const Version& version) {
  std::string out;
  for (const auto& [name, content] : version) {
    absl::StrAppend(&out, " ", name, "=\"", content, "\"");
  }
  return out;
}

// Every way in which the recovered machine breaks the promise.
std::vector<std::string> FindViolations(const PowerLossFileSystem& fs,
                                        bool acknowledged) {
  std::vector<std::string> violations;
  std::string current;
  std::optional<Version> seen = ReadThroughDataLink(fs, &current);
  if (!seen.has_value()) {
    violations.push_back("d/..data is gone");
    return violations;
  }
  if (*seen != OldVersion() && *seen != NewVersion()) {
    violations.push_back(
        absl::StrCat("d/..data shows a mix:", Describe(*seen)));
  }
  if (acknowledged && *seen != NewVersion()) {
    violations.push_back(absl::StrCat(
        "the set was acknowledged but d/..data shows:", Describe(*seen)));
  }
  for (const std::string& name : fs.List("d")) {
    const std::string path = absl::StrCat("d/", name);
    if (name == "..data" || name == current) continue;
    std::optional<std::string> link = fs.ReadLink(path);
    if (link.has_value() && *link == MemberLinkTarget(name) &&
        seen->count(name) > 0) {
      continue;
    }
    violations.push_back(absl::StrCat(path, " survived recovery"));
  }
  for (const auto& [name, content] : *seen) {
    if (fs.ReadLink(absl::StrCat("d/", name)) != MemberLinkTarget(name)) {
      violations.push_back(absl::StrCat("d/", name, " has no reader link"));
    }
  }
  return violations;
}

int CountSetCalls() {
  std::unique_ptr<PowerLossFileSystem> fs = FreshMachine();
  UniqueFd root = fs->OpenRoot();
  fs->ClearCallLog();
  EXPECT_THAT(RunSet(*fs, root.get()), IsOk());
  EXPECT_THAT(FindViolations(*fs, true), IsEmpty());
  return static_cast<int>(fs->CallLog().size());
}

class VersionedSetPowerLossTest
    : public ::testing::TestWithParam<UnsyncedData> {};

TEST_P(VersionedSetPowerLossTest, CutAfterEveryCallOfTheSet) {
  const int calls = CountSetCalls();
  ASSERT_GT(calls, 10);
  int new_after_cut = 0;
  for (int cut = 0; cut <= calls; ++cut) {
    std::unique_ptr<PowerLossFileSystem> fs = FreshMachine();
    UniqueFd root = fs->OpenRoot();
    fs->CutPowerAfterCalls(cut);
    const absl::Status status = RunSet(*fs, root.get());
    fs->Recover(GetParam());
    ASSERT_THAT(Recover(*fs), IsOk()) << "cut after call " << cut;
    EXPECT_THAT(FindViolations(*fs, status.ok()), IsEmpty())
        << "power cut after call " << cut << " of " << calls
        << " (Commit returned " << status << ")";
    std::string current;
    if (ReadThroughDataLink(*fs, &current) == NewVersion()) ++new_after_cut;
  }
  // Both outcomes occur: the swap is a point inside the protocol.
  EXPECT_GT(new_after_cut, 0);
  EXPECT_LT(new_after_cut, calls + 1);
  std::printf(
      "[ power   ] versioned 3-member set: %d calls, %d cuts, %d kept the new "
      "version\n",
      calls, calls + 1, new_after_cut);
}

TEST_P(VersionedSetPowerLossTest, CutAfterEveryCallOfTheRecovery) {
  const int calls = CountSetCalls();
  int recoveries_cut = 0;
  for (int cut = 0; cut <= calls; ++cut) {
    int recovery_calls = 0;
    {
      std::unique_ptr<PowerLossFileSystem> fs = FreshMachine();
      UniqueFd root = fs->OpenRoot();
      fs->CutPowerAfterCalls(cut);
      (void)RunSet(*fs, root.get());
      fs->Recover(GetParam());
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
  std::printf("[ power   ] versioned set recovery cut at %d points\n",
              recoveries_cut);
}

// The first set in a directory starts the layout; a cut anywhere leaves
// either no layout (the files absent) or the whole first version.
TEST_P(VersionedSetPowerLossTest, FirstSetOfADirectory) {
  auto run = [](FileSystem& fs, int root_fd) -> absl::Status {
    FileReplacer replacer(&fs);
    VersionedSetReplacer sets(&fs, &replacer);
    absl::StatusOr<UniqueFd> d = fs.OpenDirectoryBeneath(root_fd, "d");
    if (!d.ok()) return d.status();
    std::vector<std::unique_ptr<StagedFile>> staged;
    CommitOptions options;
    std::vector<SetEntry> entries;
    for (const char* leaf : {"a", "b"}) {
      absl::StatusOr<std::unique_ptr<StagedFile>> file =
          replacer.Stage(d->get(), leaf);
      if (!file.ok()) return file.status();
      absl::Status status = (*file)->Append(absl::StrCat("first ", leaf));
      if (status.ok()) status = (*file)->Seal(std::nullopt);
      if (!status.ok()) return status;
      SetEntry member;
      member.staged = file->get();
      member.options = &options;
      member.dir_fd = d->get();
      member.leaf = leaf;
      entries.push_back(std::move(member));
      staged.push_back(*std::move(file));
    }
    return sets.Commit(absl::MakeSpan(entries), d->get(), 0755);
  };
  int calls = 0;
  {
    PowerLossFileSystem fs;
    ASSERT_THAT(fs.PlantDirectory("d", 0755), IsOk());
    UniqueFd root = fs.OpenRoot();
    fs.ClearCallLog();
    ASSERT_THAT(run(fs, root.get()), IsOk());
    calls = static_cast<int>(fs.CallLog().size());
  }
  const Version first = {{"a", "first a"}, {"b", "first b"}};
  for (int cut = 0; cut <= calls; ++cut) {
    PowerLossFileSystem fs;
    ASSERT_THAT(fs.PlantDirectory("d", 0755), IsOk());
    UniqueFd root = fs.OpenRoot();
    fs.CutPowerAfterCalls(cut);
    const absl::Status status = run(fs, root.get());
    fs.Recover(GetParam());
    ASSERT_THAT(Recover(fs), IsOk());
    std::string current;
    std::optional<Version> seen = ReadThroughDataLink(fs, &current);
    if (!seen.has_value()) {
      EXPECT_FALSE(status.ok()) << "acknowledged, then lost at cut " << cut;
      EXPECT_THAT(fs.List("d"), IsEmpty()) << "cut after call " << cut;
      continue;
    }
    EXPECT_EQ(*seen, first) << "cut after call " << cut;
    std::vector<std::string> expected = {"..data", current, "a", "b"};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(fs.List("d"), expected) << "cut after call " << cut;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Unsynced, VersionedSetPowerLossTest,
    ::testing::Values(UnsyncedData::kLost, UnsyncedData::kZeroFilled),
    [](const ::testing::TestParamInfo<UnsyncedData>& info) {
      return info.param == UnsyncedData::kLost ? std::string("Lost")
                                               : std::string("ZeroFilled");
    });

}  // namespace
}  // namespace durable
