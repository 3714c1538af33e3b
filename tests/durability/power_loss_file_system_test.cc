// The power-loss model itself: what survives a crash, so that the
// power-loss test of the engine rests on a model that really drops what a
// careless protocol would lose.
#include "tests/support/power_loss_file_system.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/base/errno_status.h"
#include "tests/support/status_matchers.h"

namespace durable {

using test::IsOk;
using test::StatusIs;

namespace {

using testing::ElementsAre;
using testing::IsEmpty;
using UnsyncedData = PowerLossFileSystem::UnsyncedData;
using SyncKind = PowerLossFileSystem::SyncKind;

class PowerLossFileSystemTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(fs_.PlantDirectory("d", 0755), IsOk());
    root_ = fs_.OpenRoot();
    ASSERT_TRUE(root_.valid());
    absl::StatusOr<UniqueFd> dir = fs_.OpenDirectoryBeneath(root_.get(), "d");
    ASSERT_THAT(dir, IsOk());
    dir_ = *std::move(dir);
    fs_.ClearCallLog();
  }

  // Creates d/name with `content`, synced or not.
  UniqueFd Create(const std::string& name, const std::string& content,
                  bool sync_file) {
    absl::StatusOr<UniqueFd> fd = fs_.CreateExclusive(dir_.get(), name);
    EXPECT_THAT(fd, IsOk());
    if (!fd.ok()) return UniqueFd();
    EXPECT_THAT(fs_.Append(fd->get(), content), IsOk());
    if (sync_file) {
      EXPECT_THAT(fs_.SyncFile(fd->get()), IsOk());
    }
    return *std::move(fd);
  }

  PowerLossFileSystem fs_;
  UniqueFd root_;
  UniqueFd dir_;
};

TEST_F(PowerLossFileSystemTest, PlantedStateIsDurable) {
  ASSERT_THAT(fs_.PlantFile("d/f", "planted", 0640), IsOk());
  fs_.Recover();
  EXPECT_EQ(fs_.ReadFile("d/f"), "planted");
  EXPECT_EQ(fs_.StatPath("d/f")->mode & 07777, 0640u);
  EXPECT_THAT(fs_.Walk(), ElementsAre("d", "d/f"));
}

TEST_F(PowerLossFileSystemTest, UnsyncedCreationVanishes) {
  UniqueFd fd = Create("f", "data", /*sync_file=*/true);
  EXPECT_EQ(fs_.ReadFile("d/f"), "data");
  fs_.Recover();
  EXPECT_EQ(fs_.ReadFile("d/f"), std::nullopt)
      << "fsync of a file must not make its name durable";
}

TEST_F(PowerLossFileSystemTest, DirectorySyncWithoutFileSyncLeavesEmptyFile) {
  UniqueFd fd = Create("f", "data", /*sync_file=*/false);
  ASSERT_THAT(fs_.SyncDirectory(dir_.get()), IsOk());
  fs_.Recover();
  EXPECT_EQ(fs_.ReadFile("d/f"), "");
}

TEST_F(PowerLossFileSystemTest, ZeroFilledKeepsSizeButNotData) {
  UniqueFd fd = Create("f", "ab", /*sync_file=*/true);
  ASSERT_THAT(fs_.Append(fd.get(), "cd"), IsOk());
  ASSERT_THAT(fs_.SyncDirectory(dir_.get()), IsOk());
  fs_.Recover(UnsyncedData::kZeroFilled);
  EXPECT_EQ(fs_.ReadFile("d/f"), std::string("ab\0\0", 4));
}

TEST_F(PowerLossFileSystemTest, SyncedFileAndDirectorySurvive) {
  UniqueFd fd = Create("f", "data", /*sync_file=*/true);
  ASSERT_THAT(fs_.SetPermissions(fd.get(), 0604), IsOk());
  ASSERT_THAT(fs_.SyncFile(fd.get()), IsOk());
  ASSERT_THAT(fs_.SyncDirectory(dir_.get()), IsOk());
  fs_.Recover();
  EXPECT_EQ(fs_.ReadFile("d/f"), "data");
  EXPECT_EQ(fs_.StatPath("d/f")->mode & 07777, 0604u);
}

TEST_F(PowerLossFileSystemTest, UnsyncedPermissionsAndOwnerRevert) {
  ASSERT_THAT(fs_.PlantFile("d/f", "x", 0640), IsOk());
  absl::StatusOr<UniqueFd> fd = fs_.CreateExclusive(dir_.get(), "g");
  ASSERT_THAT(fd, IsOk());
  ASSERT_THAT(fs_.SyncFile(fd->get()), IsOk());
  ASSERT_THAT(fs_.SyncDirectory(dir_.get()), IsOk());
  ASSERT_THAT(fs_.SetPermissions(fd->get(), 0644), IsOk());
  ASSERT_THAT(fs_.SetOwner(fd->get(), 4242, 4343), IsOk());
  EXPECT_EQ(fs_.StatPath("d/g")->uid, 4242u);
  fs_.Recover();
  EXPECT_EQ(fs_.StatPath("d/g")->mode & 07777, 0600u);
  EXPECT_EQ(fs_.StatPath("d/g")->uid, geteuid());
}

TEST_F(PowerLossFileSystemTest, UnsyncedRenameAndUnlinkAreUndone) {
  ASSERT_THAT(fs_.PlantFile("d/a", "A", 0644), IsOk());
  ASSERT_THAT(fs_.PlantFile("d/b", "B", 0644), IsOk());
  ASSERT_THAT(fs_.Rename(dir_.get(), "a", "c", RenameMode::kReplace), IsOk());
  ASSERT_THAT(fs_.Unlink(dir_.get(), "b"), IsOk());
  EXPECT_THAT(fs_.List("d"), ElementsAre("c"));
  fs_.Recover();
  EXPECT_THAT(fs_.List("d"), ElementsAre("a", "b"));
  EXPECT_EQ(fs_.ReadFile("d/a"), "A");
  EXPECT_EQ(fs_.ReadFile("d/b"), "B");
}

TEST_F(PowerLossFileSystemTest, ExchangeIsAtomicAndDurableAfterSync) {
  ASSERT_THAT(fs_.PlantFile("d/a", "A", 0644), IsOk());
  ASSERT_THAT(fs_.PlantFile("d/b", "B", 0644), IsOk());
  ASSERT_THAT(fs_.Rename(dir_.get(), "a", "b", RenameMode::kExchange), IsOk());
  EXPECT_EQ(fs_.ReadFile("d/a"), "B");
  ASSERT_THAT(fs_.SyncDirectory(dir_.get()), IsOk());
  fs_.Recover();
  EXPECT_EQ(fs_.ReadFile("d/a"), "B");
  EXPECT_EQ(fs_.ReadFile("d/b"), "A");
}

TEST_F(PowerLossFileSystemTest, RenameModes) {
  ASSERT_THAT(fs_.PlantFile("d/a", "A", 0644), IsOk());
  ASSERT_THAT(fs_.PlantFile("d/b", "B", 0644), IsOk());
  EXPECT_THAT(fs_.Rename(dir_.get(), "a", "b", RenameMode::kNoReplace),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(fs_.Rename(dir_.get(), "a", "c", RenameMode::kExchange),
              StatusIs(absl::StatusCode::kNotFound));
  fs_.set_rename_exchange_supported(false);
  EXPECT_THAT(fs_.Rename(dir_.get(), "a", "b", RenameMode::kExchange),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(fs_.Rename(dir_.get(), "a", "b", RenameMode::kReplace), IsOk());
  EXPECT_THAT(fs_.List("d"), ElementsAre("b"));
  EXPECT_EQ(fs_.ReadFile("d/b"), "A");
}

TEST_F(PowerLossFileSystemTest, PowerOffFailsEveryCallAndChangesNothing) {
  ASSERT_THAT(fs_.PlantFile("d/a", "A", 0644), IsOk());
  fs_.CutPowerAfterCalls(1);
  absl::StatusOr<UniqueFd> fd = fs_.CreateExclusive(dir_.get(), "f");
  ASSERT_THAT(fd, IsOk());
  EXPECT_TRUE(fs_.power_on());
  EXPECT_EQ(ErrnoOf(fs_.Append(fd->get(), "data")), EIO);
  EXPECT_FALSE(fs_.power_on());
  absl::Status status = fs_.SyncDirectory(dir_.get());
  EXPECT_EQ(ErrnoOf(status), EIO) << status;
  EXPECT_FALSE(fs_.Unlink(dir_.get(), "a").ok());
  EXPECT_THAT(fs_.List("d"), ElementsAre("a", "f"));
  EXPECT_EQ(fs_.ReadFile("d/f"), "");  // the append came after the cut
  EXPECT_THAT(fs_.CallLog(), testing::SizeIs(4u));
  fs_.Recover();
  EXPECT_TRUE(fs_.power_on());
  EXPECT_THAT(fs_.List("d"), ElementsAre("a"));
}

TEST_F(PowerLossFileSystemTest, HandlesOfAnEarlierBootAreInvalid) {
  UniqueFd fd = Create("f", "data", /*sync_file=*/true);
  fs_.Recover();
  EXPECT_EQ(ErrnoOf(fs_.Append(fd.get(), "x")), EBADF);
  EXPECT_EQ(ErrnoOf(fs_.SyncDirectory(dir_.get())), EBADF);
  EXPECT_EQ(ErrnoOf(fs_.Stat(-1).status()), EBADF);
  EXPECT_EQ(ErrnoOf(fs_.Stat(STDOUT_FILENO).status()), EBADF);
}

TEST_F(PowerLossFileSystemTest, DuplicatedHandleRefersToTheSameInode) {
  UniqueFd dup(fcntl(dir_.get(), F_DUPFD_CLOEXEC, 0));
  ASSERT_TRUE(dup.valid());
  ASSERT_THAT(fs_.PlantFile("d/a", "A", 0644), IsOk());
  absl::StatusOr<FileInfo> info = fs_.StatAt(dup.get(), "a");
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->size, 1u);
}

TEST_F(PowerLossFileSystemTest, FailedUnpersistedFsyncLosesTheDataForGood) {
  // fsyncgate: after a failed fsync the dirty data is gone; a retry that
  // "succeeds" does not bring it back.
  fs_.FailNextSync(SyncKind::kFile, /*persisted=*/false);
  absl::StatusOr<UniqueFd> fd = fs_.CreateExclusive(dir_.get(), "f");
  ASSERT_THAT(fd, IsOk());
  ASSERT_THAT(fs_.Append(fd->get(), "data"), IsOk());
  absl::Status failed = fs_.SyncFile(fd->get());
  EXPECT_EQ(ErrnoOf(failed), EIO) << failed;
  EXPECT_THAT(fs_.SyncFile(fd->get()), IsOk());  // the retry "succeeds"
  ASSERT_THAT(fs_.SyncDirectory(dir_.get()), IsOk());
  EXPECT_EQ(fs_.ReadFile("d/f"), "data");  // still in the page cache
  fs_.Recover();
  EXPECT_EQ(fs_.ReadFile("d/f"), "") << "a retried fsync must not count";
}

TEST_F(PowerLossFileSystemTest,
       FailedPersistedDirectorySyncMadeEntriesDurable) {
  UniqueFd fd = Create("f", "data", /*sync_file=*/true);
  fs_.FailNextSync(SyncKind::kDirectory, /*persisted=*/true);
  EXPECT_EQ(ErrnoOf(fs_.SyncDirectory(dir_.get())), EIO);
  fs_.Recover();
  EXPECT_EQ(fs_.ReadFile("d/f"), "data");
}

TEST_F(PowerLossFileSystemTest, UnsupportedDirectorySync) {
  fs_.set_directory_sync_supported(false);
  UniqueFd fd = Create("f", "data", /*sync_file=*/true);
  EXPECT_THAT(fs_.SyncDirectory(dir_.get()),
              StatusIs(absl::StatusCode::kUnimplemented));
  fs_.Recover();
  EXPECT_THAT(fs_.List("d"), IsEmpty());
}

TEST_F(PowerLossFileSystemTest, DirectoriesAndListing) {
  ASSERT_THAT(fs_.MakeDirectory(dir_.get(), "sub"), IsOk());
  absl::StatusOr<UniqueFd> sub = fs_.OpenDirectoryBeneath(dir_.get(), "sub");
  ASSERT_THAT(sub, IsOk());
  absl::StatusOr<FileInfo> sub_info = fs_.Stat(sub->get());
  ASSERT_THAT(sub_info, IsOk());
  EXPECT_EQ(sub_info->mode & 07777, 0700u);  // as MakeDirectory's contract says
  UniqueFd fd = Create("f", "x", /*sync_file=*/false);
  absl::StatusOr<std::vector<DirectoryEntry>> listing =
      fs_.ListDirectory(dir_.get());
  ASSERT_THAT(listing, IsOk());
  ASSERT_EQ(listing->size(), 2u);
  EXPECT_EQ((*listing)[0].name, "f");
  EXPECT_TRUE((*listing)[0].is_regular);
  EXPECT_EQ((*listing)[1].name, "sub");
  EXPECT_TRUE((*listing)[1].is_directory);
  EXPECT_THAT(fs_.OpenDirectoryBeneath(root_.get(), "d/sub"), IsOk());
  EXPECT_THAT(fs_.OpenDirectoryBeneath(root_.get(), "d/f").status(),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(fs_.OpenDirectoryBeneath(root_.get(), "d/..").status(),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_FALSE(fs_.RemoveDirectory(dir_.get(), "f").ok());
  EXPECT_THAT(fs_.RemoveDirectory(dir_.get(), "sub"), IsOk());
  EXPECT_THAT(fs_.Walk(), ElementsAre("d", "d/f"));
}

}  // namespace
}  // namespace durable
