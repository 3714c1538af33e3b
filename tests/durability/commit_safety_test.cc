// What Commit and Remove promise beyond the happy path, on a real
// directory (PosixFileSystem under /tmp) with faults injected between the
// engine and the kernel:
//  - a temp file another process swapped before the rename is never
//    acknowledged, and the publish is undone (ABORTED);
//  - a caller may abandon a commit just before publishing (CANCELLED);
//  - a rollback after a failed directory fsync is itself fsynced, and where
//    that or the rollback fails the outcome is reported as UNKNOWN;
//  - a directory whose fsync failed without being made good is fsynced
//    again before any later write or remove is acknowledged.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/base/errno_status.h"
#include "server/base/unique_fd.h"
#include "server/engine/file_replacer.h"
#include "server/engine/posix_file_system.h"
#include "tests/support/fault_injection_file_system.h"
#include "tests/support/forwarding_file_system.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_daemon.h"
#include "tests/support/two_directory_test.h"

namespace durable::test {
namespace {

using testing::ElementsAre;
using testing::HasSubstr;
using testing::IsEmpty;

constexpr char kOld[] = "old content\n";
constexpr char kNew[] = "new content\n";
constexpr char kForeign[] = "content the daemon never wrote\n";

absl::Status InjectedEio() { return SyscallError(EIO, "injected fault"); }

ino_t InodeOfFd(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

// Sits between the writer and the fault injector. Records directory fsyncs
// (by the directory's inode, with their outcome) and renames in order, and
// can play another process that renames a file of its own onto the temp
// name right before the engine publishes it.
class Interposer : public ForwardingFileSystem {
 public:
  using ForwardingFileSystem::ForwardingFileSystem;

  void SwapTempBeforePublish() { swap_ = true; }

  std::vector<std::string> Events() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  void ClearEvents() {
    absl::MutexLock lock(&mu_);
    events_.clear();
  }

  absl::Status SyncDirectory(int dir_fd) override {
    absl::Status status = base()->SyncDirectory(dir_fd);
    Record(
        absl::StrCat("sync ", InodeOfFd(dir_fd), status.ok() ? "" : " failed"));
    return status;
  }

  absl::Status Rename(int dir_fd, const std::string& from,
                      const std::string& to, RenameMode mode) override {
    if (swap_ && IsTempFileName(from) && !IsTempFileName(to)) {
      swap_ = false;
      // The other process: its own file, renamed over the temp name.
      UniqueFd planted(openat(dir_fd, "planted",
                              O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
      EXPECT_TRUE(planted.valid());
      EXPECT_EQ(write(planted.get(), kForeign, strlen(kForeign)),
                static_cast<ssize_t>(strlen(kForeign)));
      EXPECT_EQ(renameat(dir_fd, "planted", dir_fd, from.c_str()), 0);
    }
    absl::Status status = base()->Rename(dir_fd, from, to, mode);
    Record(absl::StrCat("rename ", IsTempFileName(from) ? "temp" : from, " -> ",
                        IsTempFileName(to) ? "temp" : to,
                        status.ok() ? "" : " failed"));
    return status;
  }

 private:
  void Record(std::string event) {
    absl::MutexLock lock(&mu_);
    events_.push_back(std::move(event));
  }

  bool swap_ = false;
  mutable absl::Mutex mu_;
  std::vector<std::string> events_ ABSL_GUARDED_BY(mu_);
};

class CommitSafetyTest : public test::TwoDirectoryTest {
 protected:
  CommitSafetyTest() : TwoDirectoryTest("durabled-commit-safety") {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TwoDirectoryTest::SetUp());
    inode_a_ = InodeOfFd(a_.get());
    inode_b_ = InodeOfFd(b_.get());
  }

  // Everything in a and b, as "a/name".
  std::vector<std::string> Entries() const {
    std::vector<std::string> entries = NamesInBoth(/*with_directory=*/true);
    std::sort(entries.begin(), entries.end());
    return entries;
  }

  // Writes kNew to a/target while another process swaps a file of its own
  // in for the temp file right before the engine publishes it.
  absl::StatusOr<CommitResult> WriteWithSwappedTemp(
      const CommitOptions& options = CommitOptions()) {
    fs_.SwapTempBeforePublish();
    return writer_.Write(a_.get(), "target", kNew, options);
  }

  std::string Sync(ino_t inode, bool ok = true) const {
    return absl::StrCat("sync ", inode, ok ? "" : " failed");
  }

  ino_t inode_a_ = 0, inode_b_ = 0;
  Interposer fs_{&faults_};
  FileReplacer writer_{&fs_};
};

// --- The published inode is the one written (issue 10, item 2) ----------

TEST_F(CommitSafetyTest, ReplaceWithSwappedTempFileIsUndoneAndAborted) {
  Plant("a/target", kOld);

  absl::StatusOr<CommitResult> result = WriteWithSwappedTemp();

  ASSERT_THAT(result,
              StatusIs(absl::StatusCode::kAborted,
                       HasSubstr("temp file was replaced by another process")));
  EXPECT_THAT(result.status().message(),
              HasSubstr("nothing of ours was published"));
  EXPECT_EQ(Read("a/target"), kOld);
  EXPECT_THAT(Entries(), ElementsAre("a/target"));  // no temp, no foreign file
  // The undo happened before the directory fsync that covers it.
  std::vector<std::string> events = fs_.Events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), Sync(inode_a_));
}

TEST_F(CommitSafetyTest, CreateWithSwappedTempFileLeavesNoForeignContent) {
  absl::StatusOr<CommitResult> result = WriteWithSwappedTemp();

  ASSERT_THAT(result,
              StatusIs(absl::StatusCode::kAborted,
                       HasSubstr("temp file was replaced by another process")));
  EXPECT_EQ(Read("a/target"), "<absent>");
  EXPECT_THAT(Entries(), IsEmpty());
}

TEST_F(CommitSafetyTest, CreateOnlyWithSwappedTempFileLeavesNoForeignContent) {
  CommitOptions options;
  options.if_absent = true;

  absl::StatusOr<CommitResult> result = WriteWithSwappedTemp(options);

  ASSERT_THAT(result, StatusIs(absl::StatusCode::kAborted)) << result.status();
  EXPECT_THAT(Entries(), IsEmpty());
}

// --- Abandoning a commit (item 9a, engine part) -----------------------------

TEST_F(CommitSafetyTest, AbandonedCommitPublishesNothingAndLeavesNoTempFile) {
  Plant("a/target", kOld);
  int asked = 0;
  CommitOptions options;
  options.abandon = [&] {
    ++asked;
    // Asked after the data is durable, right before the rename.
    std::vector<Operation> operations = faults_.Operations();
    EXPECT_EQ(operations.back(), Operation::kSyncFile);
    return true;
  };

  absl::StatusOr<CommitResult> result =
      writer_.Write(a_.get(), "target", kNew, options);

  ASSERT_THAT(result, StatusIs(absl::StatusCode::kCancelled))
      << result.status();
  EXPECT_EQ(result.status().message(),
            "the call was cancelled or its deadline passed; nothing was "
            "published");
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(Read("a/target"), kOld);
  EXPECT_THAT(Entries(), ElementsAre("a/target"));
  EXPECT_THAT(fs_.Events(), IsEmpty());  // no rename, no fsync
}

TEST_F(CommitSafetyTest, CommitNotAbandonedPublishes) {
  CommitOptions options;
  int asked = 0;
  options.abandon = [&] {
    ++asked;
    return false;
  };

  absl::StatusOr<CommitResult> result =
      writer_.Write(a_.get(), "target", kNew, options);

  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(Read("a/target"), kNew);
}

// --- Durable rollback (item 9b) ---------------------------------------------

TEST_F(CommitSafetyTest, RollbackAfterFailedDirectoryFsyncIsFsynced) {
  Plant("a/target", kOld);
  faults_.FailNext(Operation::kSyncDirectory, InjectedEio());

  absl::StatusOr<CommitResult> result =
      writer_.Write(a_.get(), "target", kNew, CommitOptions());

  ASSERT_THAT(result, StatusIs(absl::StatusCode::kInternal)) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("rolled back"));
  EXPECT_EQ(Read("a/target"), kOld);
  EXPECT_THAT(Entries(), ElementsAre("a/target"));
  EXPECT_THAT(fs_.Events(),
              ElementsAre("rename temp -> target", Sync(inode_a_, false),
                          "rename temp -> target", Sync(inode_a_)));
}

TEST_F(CommitSafetyTest, CreateRollbackWhoseFsyncFailsIsUnknown) {
  faults_.FailNext(Operation::kSyncDirectory, InjectedEio());
  faults_.FailNext(Operation::kSyncDirectory, InjectedEio());

  absl::StatusOr<CommitResult> result =
      writer_.Write(a_.get(), "target", kNew, CommitOptions());

  ASSERT_THAT(result, StatusIs(absl::StatusCode::kUnknown)) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("outcome unknown"));
  EXPECT_THAT(result.status().message(), HasSubstr("rolled back"));
  EXPECT_EQ(Read("a/target"), "<absent>");
  EXPECT_THAT(Entries(), IsEmpty());
}

TEST_F(CommitSafetyTest, FailedUndoOfAReplaceIsUnknown) {
  Plant("a/target", kOld);
  faults_.FailNext(Operation::kSyncDirectory, InjectedEio());
  faults_.FailNext(Operation::kRename, InjectedEio(), /*skip=*/1);

  absl::StatusOr<CommitResult> result =
      writer_.Write(a_.get(), "target", kNew, CommitOptions());

  ASSERT_THAT(result, StatusIs(absl::StatusCode::kUnknown)) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("outcome unknown"));
  EXPECT_THAT(result.status().message(), HasSubstr("cannot roll back"));
  // The new content is visible; the old one is kept for the operator.
  EXPECT_EQ(Read("a/target"), kNew);
  EXPECT_THAT(Entries(), testing::SizeIs(2));
}

TEST_F(CommitSafetyTest, RemoveWhosePutBackCannotBeFsyncedIsUnknown) {
  Plant("a/target", kOld);
  faults_.FailNext(Operation::kSyncDirectory, InjectedEio());
  faults_.FailNext(Operation::kSyncDirectory, InjectedEio());

  absl::StatusOr<std::string> removed = writer_.Remove(a_.get(), "target", "");

  ASSERT_THAT(removed, StatusIs(absl::StatusCode::kUnknown))
      << removed.status();
  EXPECT_THAT(removed.status().message(), HasSubstr("outcome unknown"));
  EXPECT_EQ(Read("a/target"), kOld);  // put back, durability unknown
}

TEST_F(CommitSafetyTest, RemovePutBackIsFsynced) {
  Plant("a/target", kOld);
  faults_.FailNext(Operation::kSyncDirectory, InjectedEio());

  absl::StatusOr<std::string> removed = writer_.Remove(a_.get(), "target", "");

  ASSERT_THAT(removed, StatusIs(absl::StatusCode::kInternal))
      << removed.status();
  EXPECT_THAT(removed.status().message(), HasSubstr("put back"));
  EXPECT_EQ(Read("a/target"), kOld);
  EXPECT_THAT(fs_.Events(),
              ElementsAre("rename target -> temp", Sync(inode_a_, false),
                          "rename temp -> target", Sync(inode_a_)));
}

// --- A failed directory fsync is retried before later acks (item 9c) -------

// Write A in directory a fails its directory fsync, and the fsync of its
// rollback fails too: a's durable state is unknown. The events so far are
// cleared.
class SyncDebtTest : public CommitSafetyTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(CommitSafetyTest::SetUp());
    faults_.FailNext(Operation::kSyncDirectory, InjectedEio());
    faults_.FailNext(Operation::kSyncDirectory, InjectedEio());
    absl::StatusOr<CommitResult> a = WriteNew(a_.get(), "target");
    ASSERT_THAT(a, StatusIs(absl::StatusCode::kUnknown)) << a.status();
    ASSERT_EQ(faults_.PendingFaults(), 0);
    fs_.ClearEvents();
  }

  absl::StatusOr<CommitResult> WriteNew(int dir_fd, const std::string& name) {
    return writer_.Write(dir_fd, name, kNew, CommitOptions());
  }
};

TEST_F(SyncDebtTest, LaterWriteElsewhereWaitsForTheFailedDirectory) {
  absl::StatusOr<CommitResult> b = WriteNew(b_.get(), "other");

  ASSERT_THAT(b, IsOk());
  // a is fsynced again, successfully, before b's content is published.
  EXPECT_THAT(fs_.Events(), ElementsAre(Sync(inode_a_), "rename temp -> other",
                                        Sync(inode_b_)));
  // Paid: the next write does not fsync a again.
  fs_.ClearEvents();
  ASSERT_THAT(writer_.Write(b_.get(), "other", kOld, CommitOptions()), IsOk());
  EXPECT_THAT(fs_.Events(),
              ElementsAre("rename temp -> other", Sync(inode_b_)));
}

TEST_F(SyncDebtTest, LaterWriteInTheSameDirectoryResyncsItFirst) {
  absl::StatusOr<CommitResult> b = WriteNew(a_.get(), "target");

  ASSERT_THAT(b, IsOk());
  EXPECT_THAT(fs_.Events(), ElementsAre(Sync(inode_a_), "rename temp -> target",
                                        Sync(inode_a_)));
  EXPECT_EQ(Read("a/target"), kNew);
}

TEST_F(SyncDebtTest, LaterWriteIsNotAcknowledgedWhileTheRetryFails) {
  faults_.FailNext(Operation::kSyncDirectory, InjectedEio());

  absl::StatusOr<CommitResult> b = WriteNew(b_.get(), "other");

  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b, StatusIs(absl::StatusCode::kInternal)) << b.status();
  EXPECT_THAT(b.status().message(), HasSubstr("nothing was published"));
  EXPECT_EQ(Read("b/other"), "<absent>");
  EXPECT_THAT(Entries(), IsEmpty());

  // A remove is held back the same way.
  Plant("b/kept", kOld);
  faults_.FailNext(Operation::kSyncDirectory, InjectedEio());
  absl::StatusOr<std::string> removed = writer_.Remove(b_.get(), "kept", "");
  EXPECT_THAT(removed, StatusIs(absl::StatusCode::kInternal))
      << removed.status();
  EXPECT_EQ(Read("b/kept"), kOld);

  // Once a can be fsynced again, writes are acknowledged again.
  absl::StatusOr<CommitResult> c = WriteNew(b_.get(), "other");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(Read("b/other"), kNew);
}

TEST_F(SyncDebtTest, LaterRemoveWaitsForTheFailedDirectory) {
  Plant("b/doomed", kOld);
  fs_.ClearEvents();

  absl::StatusOr<std::string> removed = writer_.Remove(b_.get(), "doomed", "");

  ASSERT_THAT(removed, IsOk());
  EXPECT_THAT(fs_.Events(), ElementsAre(Sync(inode_a_), "rename doomed -> temp",
                                        Sync(inode_b_)));
}

}  // namespace
}  // namespace durable::test
