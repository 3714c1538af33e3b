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

  // After Recover: fresh handles for the root and d (the old ones are of
  // the boot before).
  void Reopen() {
    root_ = fs_.OpenRoot();
    ASSERT_TRUE(root_.valid());
    absl::StatusOr<UniqueFd> dir = fs_.OpenDirectoryBeneath(root_.get(), "d");
    ASSERT_THAT(dir, IsOk());
    dir_ = *std::move(dir);
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

TEST_F(PowerLossFileSystemTest,
       SymlinkSurvivesACutOnlyOnceItsDirectoryIsSynced) {
  ASSERT_THAT(fs_.MakeSymlink(dir_.get(), "l", "some/target"), IsOk());
  EXPECT_EQ(fs_.ReadLink("d/l"), "some/target");
  EXPECT_EQ(fs_.ReadFile("d/l"), "<symlink>");
  fs_.Recover();
  EXPECT_EQ(fs_.ReadLink("d/l"), std::nullopt)
      << "a symlink whose directory was never synced must not survive";
  EXPECT_THAT(fs_.List("d"), IsEmpty());

  Reopen();
  ASSERT_THAT(fs_.MakeSymlink(dir_.get(), "l", "some/target"), IsOk());
  ASSERT_THAT(fs_.SyncDirectory(dir_.get()), IsOk());
  fs_.Recover();
  EXPECT_EQ(fs_.ReadLink("d/l"), "some/target");
  Reopen();
  absl::StatusOr<std::string> target = fs_.ReadSymlink(dir_.get(), "l");
  ASSERT_THAT(target, IsOk());
  EXPECT_EQ(*target, "some/target");
}

TEST_F(PowerLossFileSystemTest, SymlinkIsAnEntryLikeAnyOther) {
  ASSERT_THAT(fs_.PlantSymlink("d/l", "../elsewhere"), IsOk());
  absl::StatusOr<FileInfo> info = fs_.StatAt(dir_.get(), "l");
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->mode, static_cast<mode_t>(S_IFLNK | 0777));
  EXPECT_EQ(info->size, std::string("../elsewhere").size());
  info = fs_.LookUp(dir_.get(), "l");
  ASSERT_THAT(info, IsOk());
  EXPECT_TRUE(S_ISLNK(info->mode));

  EXPECT_THAT(fs_.CreateExclusive(dir_.get(), "l").status(),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(fs_.MakeDirectory(dir_.get(), "l"),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(fs_.MakeSymlink(dir_.get(), "l", "x"),
              StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_THAT(fs_.PlantFile("d/f", "F", 0644), IsOk());
  EXPECT_THAT(fs_.Link(dir_.get(), "f", dir_.get(), "l"),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(fs_.ReadLink("d/l"), "../elsewhere");  // none of them touched it

  EXPECT_THAT(fs_.ReadFileAt(dir_.get(), "l", 1024).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  absl::StatusOr<std::vector<DirectoryEntry>> listing =
      fs_.ListDirectory(dir_.get());
  ASSERT_THAT(listing, IsOk());
  ASSERT_EQ(listing->size(), 2u);
  EXPECT_EQ((*listing)[1].name, "l");
  EXPECT_FALSE((*listing)[1].is_directory);
  EXPECT_FALSE((*listing)[1].is_regular);
  EXPECT_THAT(fs_.Walk(), ElementsAre("d", "d/f", "d/l"));
  EXPECT_FALSE(fs_.RemoveDirectory(dir_.get(), "l").ok());

  ASSERT_THAT(fs_.Rename(dir_.get(), "l", "m", RenameMode::kReplace), IsOk());
  EXPECT_EQ(fs_.ReadLink("d/m"), "../elsewhere");
  ASSERT_THAT(fs_.Unlink(dir_.get(), "m"), IsOk());
  EXPECT_THAT(fs_.Walk(), ElementsAre("d", "d/f"));
}

TEST_F(PowerLossFileSystemTest, ReadSymlinkErrors) {
  ASSERT_THAT(fs_.PlantFile("d/f", "F", 0644), IsOk());
  ASSERT_THAT(fs_.PlantDirectory("d/sub", 0755), IsOk());
  EXPECT_THAT(fs_.ReadSymlink(dir_.get(), "absent").status(),
              StatusIs(absl::StatusCode::kNotFound));
  absl::Status status = fs_.ReadSymlink(dir_.get(), "f").status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ErrnoOf(status), EINVAL) << status;
  EXPECT_THAT(fs_.ReadSymlink(dir_.get(), "sub").status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(fs_.ReadLink("d/f"), std::nullopt);
  EXPECT_EQ(fs_.ReadLink("d/absent"), std::nullopt);
}

TEST_F(PowerLossFileSystemTest, LinkErrorsAndASymlinkSourceIsNotFollowed) {
  ASSERT_THAT(fs_.PlantDirectory("d/sub", 0755), IsOk());
  ASSERT_THAT(fs_.PlantSymlink("d/l", "dangling"), IsOk());
  EXPECT_THAT(fs_.Link(dir_.get(), "absent", dir_.get(), "x"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(fs_.Link(dir_.get(), "sub", dir_.get(), "x"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  ASSERT_THAT(fs_.Link(dir_.get(), "l", dir_.get(), "l2"), IsOk());
  EXPECT_EQ(fs_.ReadLink("d/l2"), "dangling");
  EXPECT_EQ(fs_.StatPath("d/l2")->inode, fs_.StatPath("d/l")->inode);
  EXPECT_THAT(fs_.List("d"), ElementsAre("l", "l2", "sub"));
}

TEST_F(PowerLossFileSystemTest,
       LinkIntoAnotherDirectorySurvivesOnlyIfItAndTheContentAreSynced) {
  ASSERT_THAT(fs_.PlantDirectory("e", 0755), IsOk());
  absl::StatusOr<UniqueFd> other = fs_.OpenDirectoryBeneath(root_.get(), "e");
  ASSERT_THAT(other, IsOk());
  // d is never synced: only the names in e can survive.
  UniqueFd a = Create("a", "content of a", /*sync_file=*/true);
  UniqueFd b = Create("b", "content of b", /*sync_file=*/false);
  ASSERT_THAT(fs_.Link(dir_.get(), "a", other->get(), "a"), IsOk());
  ASSERT_THAT(fs_.Link(dir_.get(), "b", other->get(), "b"), IsOk());
  EXPECT_EQ(fs_.StatPath("e/a")->link_count, 2u);
  ASSERT_THAT(fs_.SyncDirectory(other->get()), IsOk());
  UniqueFd c = Create("c", "content of c", /*sync_file=*/true);
  ASSERT_THAT(fs_.Link(dir_.get(), "c", other->get(), "c"), IsOk());

  fs_.Recover();
  EXPECT_EQ(fs_.ReadFile("e/a"), "content of a");
  EXPECT_EQ(fs_.ReadFile("e/b"), "") << "the link is durable, b's data not";
  EXPECT_EQ(fs_.ReadFile("e/c"), std::nullopt)
      << "a link into an unsynced directory must not survive";
  EXPECT_THAT(fs_.List("d"), IsEmpty());
}

TEST_F(PowerLossFileSystemTest, UnlinkOfOneOfTwoLinksKeepsTheOther) {
  ASSERT_THAT(fs_.PlantFile("d/a", "A", 0644), IsOk());
  ASSERT_THAT(fs_.Link(dir_.get(), "a", dir_.get(), "b"), IsOk());
  EXPECT_EQ(fs_.StatPath("d/b")->link_count, 2u);
  ASSERT_THAT(fs_.SyncDirectory(dir_.get()), IsOk());
  ASSERT_THAT(fs_.Unlink(dir_.get(), "a"), IsOk());
  EXPECT_EQ(fs_.ReadFile("d/b"), "A");
  EXPECT_EQ(fs_.StatPath("d/b")->link_count, 1u);
  fs_.Recover();
  EXPECT_THAT(fs_.List("d"), ElementsAre("a", "b"))
      << "the unsynced unlink is undone";
  Reopen();
  ASSERT_THAT(fs_.Unlink(dir_.get(), "a"), IsOk());
  ASSERT_THAT(fs_.SyncDirectory(dir_.get()), IsOk());
  fs_.Recover();
  EXPECT_THAT(fs_.List("d"), ElementsAre("b"));
  EXPECT_EQ(fs_.ReadFile("d/b"), "A");
}

TEST_F(PowerLossFileSystemTest, OpenDirectoryBeneathRefusesASymlinkComponent) {
  ASSERT_THAT(fs_.PlantDirectory("d/sub", 0755), IsOk());
  ASSERT_THAT(fs_.PlantSymlink("d/l", "sub"), IsOk());
  ASSERT_THAT(fs_.PlantSymlink("dl", "d"), IsOk());
  for (const char* path : {"d/l", "dl/sub", "dl"}) {
    absl::Status status = fs_.OpenDirectoryBeneath(root_.get(), path).status();
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kPermissionDenied)) << path;
    EXPECT_EQ(ErrnoOf(status), ELOOP) << path << ": " << status;
  }
  EXPECT_THAT(fs_.OpenDirectoryBeneath(root_.get(), "d/sub"), IsOk());
}

// Replacing a symlink by renaming a new one over it: a cut anywhere leaves
// the old target or the new one, never no symlink.
TEST(PowerLossFileSystemSymlinkRenameTest, IsAtomicAcrossACut) {
  constexpr int kCalls =
      4;  // MakeSymlink, SyncDirectory, Rename, SyncDirectory
  for (int cut = 0; cut <= kCalls; ++cut) {
    SCOPED_TRACE(testing::Message() << "power cut after " << cut << " calls");
    PowerLossFileSystem fs;
    ASSERT_THAT(fs.PlantDirectory("d", 0755), IsOk());
    ASSERT_THAT(fs.PlantSymlink("d/link", "v1"), IsOk());
    UniqueFd root = fs.OpenRoot();
    absl::StatusOr<UniqueFd> dir = fs.OpenDirectoryBeneath(root.get(), "d");
    ASSERT_THAT(dir, IsOk());
    fs.CutPowerAfterCalls(cut);
    (void)fs.MakeSymlink(dir->get(), ".tmp", "v2");
    (void)fs.SyncDirectory(dir->get());
    (void)fs.Rename(dir->get(), ".tmp", "link", RenameMode::kReplace);
    (void)fs.SyncDirectory(dir->get());
    EXPECT_EQ(fs.power_on(), cut == kCalls);
    fs.CutPower();
    fs.Recover();
    const std::optional<std::string> target = fs.ReadLink("d/link");
    ASSERT_TRUE(target.has_value()) << "the symlink vanished";
    EXPECT_EQ(*target, cut == kCalls ? "v2" : "v1");
    if (fs.ReadLink("d/.tmp").has_value()) {
      EXPECT_EQ(*target, "v1") << "both names refer to the new symlink";
    }
  }
}

}  // namespace
}  // namespace durable
