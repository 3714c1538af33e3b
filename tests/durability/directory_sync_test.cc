// Directory fsync failures, through the FileSystem layer: the documented
// "this filesystem cannot fsync a directory" outcome (UNIMPLEMENTED from
// FileSystem::SyncDirectory, which PosixFileSystem returns for EINVAL and
// ENOTSUP) is tolerated and logged once per filesystem; every other error
// fails the write and rolls it back. (io_fault_test.cc checks the errno
// mapping itself on the real daemon with strace.)
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
using testing::Not;

constexpr char kWarning[] = "does not support fsync of a directory";
constexpr char kOldContent[] = "old content\n";
constexpr char kNewContent[] = "new content, longer than the old\n";
// The device the second "filesystem" reports.
constexpr uint64_t kOtherDevice = 0x0815;  // 8:21

absl::Status Unsupported() {
  return absl::UnimplementedError(
      "fsync of a directory is not supported by this filesystem");
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t count = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

// Reports kOtherDevice for the directory `other_inode` (and files in it
// are not asked about): two directories on "two filesystems".
class TwoDevices : public ForwardingFileSystem {
 public:
  TwoDevices(FileSystem* base, ino_t other_inode)
      : ForwardingFileSystem(base), other_inode_(other_inode) {}

  absl::StatusOr<FileInfo> Stat(int fd) override {
    absl::StatusOr<FileInfo> info = base()->Stat(fd);
    if (info.ok() && info->inode == other_inode_) info->device = kOtherDevice;
    return info;
  }

 private:
  const ino_t other_inode_;
};

class DirectorySyncTest : public test::TwoDirectoryTest {
 protected:
  DirectorySyncTest() : TwoDirectoryTest("durabled-directory-sync") {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TwoDirectoryTest::SetUp());
    struct stat st;
    ASSERT_EQ(fstat(b_.get(), &st), 0);
    fs_ = std::make_unique<TwoDevices>(&faults_, st.st_ino);
    writer_ = std::make_unique<FileReplacer>(fs_.get());
    struct stat root_st;
    ASSERT_EQ(fstat(a_.get(), &root_st), 0);
    device_a_ = root_st.st_dev;
  }

  void TearDown() override {
    writer_.reset();
    TwoDirectoryTest::TearDown();
  }

  std::vector<std::string> TempFiles() const {
    std::vector<std::string> temps;
    for (const std::string& name : NamesInBoth(/*with_directory=*/false)) {
      if (IsTempFileName(name)) temps.push_back(name);
    }
    return temps;
  }

  uint64_t device_a_ = 0;
  std::unique_ptr<TwoDevices> fs_;
  std::unique_ptr<FileReplacer> writer_;
};

TEST_F(DirectorySyncTest, UnsupportedIsToleratedAndLoggedOncePerFilesystem) {
  for (int i = 0; i < 20; ++i) {
    faults_.FailNext(Operation::kSyncDirectory, Unsupported());
  }
  testing::internal::CaptureStderr();
  // Filesystem of a/: create, overwrite, create-only, remove.
  absl::StatusOr<CommitResult> created =
      writer_->Write(a_.get(), "f", kOldContent, {});
  absl::StatusOr<CommitResult> replaced =
      writer_->Write(a_.get(), "f", kNewContent, {});
  CommitOptions if_absent;
  if_absent.if_absent = true;
  absl::StatusOr<CommitResult> created_only =
      writer_->Write(a_.get(), "g", kNewContent, if_absent);
  absl::StatusOr<std::string> removed = writer_->Remove(a_.get(), "g", "");
  const std::string log_a = testing::internal::GetCapturedStderr();
  testing::internal::CaptureStderr();
  // Another filesystem (b/): logged again, once.
  absl::StatusOr<CommitResult> created_b =
      writer_->Write(b_.get(), "f", kOldContent, {});
  absl::StatusOr<CommitResult> replaced_b =
      writer_->Write(b_.get(), "f", kNewContent, {});
  absl::StatusOr<CommitResult> again_a =
      writer_->Write(a_.get(), "h", kNewContent, {});
  const std::string log_b = testing::internal::GetCapturedStderr();

  for (const absl::Status& status :
       {created.status(), replaced.status(), created_only.status(),
        removed.status(), created_b.status(), replaced_b.status(),
        again_a.status()}) {
    EXPECT_THAT(status, IsOk());
  }
  EXPECT_EQ(faults_.PendingFaults(), 20 - 7) << "every operation synced once";
  EXPECT_EQ(Read("a/f"), kNewContent);
  EXPECT_EQ(Read("a/g"), "<absent>");
  EXPECT_EQ(Read("a/h"), kNewContent);
  EXPECT_EQ(Read("b/f"), kNewContent);
  EXPECT_THAT(TempFiles(), IsEmpty());

  EXPECT_EQ(Count(log_a, kWarning), 1u) << log_a;
  EXPECT_THAT(log_a, HasSubstr(absl::StrFormat("device %d:%d", major(device_a_),
                                               minor(device_a_))));
  EXPECT_THAT(log_a, HasSubstr("<4>")) << "logged as a warning";
  EXPECT_EQ(Count(log_b, kWarning), 1u) << log_b;
  EXPECT_THAT(log_b,
              HasSubstr(absl::StrFormat("device %d:%d", major(kOtherDevice),
                                        minor(kOtherDevice))));
}

TEST_F(DirectorySyncTest, UnsupportedIsLoggedOnceUnderConcurrentWriters) {
  constexpr int kThreads = 8;
  constexpr int kWritesPerThread = 10;
  for (int i = 0; i < kThreads * kWritesPerThread; ++i) {
    faults_.FailNext(Operation::kSyncDirectory, Unsupported());
  }
  testing::internal::CaptureStderr();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWritesPerThread; ++i) {
        if (!writer_->Write(a_.get(), absl::StrCat("f", t), kNewContent, {})
                 .ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Count(log, kWarning), 1u) << log;
  EXPECT_THAT(TempFiles(), IsEmpty());
}

// Any other outcome of the directory fsync fails the operation and rolls
// it back.
struct OtherError {
  const char* name;
  absl::Status error;
};

class DirectorySyncErrorTest : public DirectorySyncTest,
                               public testing::WithParamInterface<OtherError> {
};

TEST_P(DirectorySyncErrorTest, FailsCreateOverwriteAndRemove) {
  const absl::Status& error = GetParam().error;
  testing::internal::CaptureStderr();

  // Create: the target stays absent.
  faults_.FailNext(Operation::kSyncDirectory, error);
  absl::StatusOr<CommitResult> created =
      writer_->Write(a_.get(), "created", kNewContent, {});
  EXPECT_THAT(created, StatusIs(error.code())) << created.status();
  EXPECT_THAT(created.status().message(), HasSubstr("rolled back"));
  EXPECT_EQ(Read("a/created"), "<absent>");

  // Overwrite: the old content stays.
  test::WriteFileOrDie(root_ + "/a/target", kOldContent);
  faults_.FailNext(Operation::kSyncDirectory, error);
  absl::StatusOr<CommitResult> replaced =
      writer_->Write(a_.get(), "target", kNewContent, {});
  EXPECT_THAT(replaced, StatusIs(error.code())) << replaced.status();
  EXPECT_THAT(replaced.status().message(), HasSubstr("rolled back"));
  EXPECT_EQ(Read("a/target"), kOldContent);

  // Remove: the file is put back.
  faults_.FailNext(Operation::kSyncDirectory, error);
  absl::StatusOr<std::string> removed = writer_->Remove(a_.get(), "target", "");
  EXPECT_THAT(removed, StatusIs(error.code())) << removed.status();
  EXPECT_THAT(removed.status().message(), HasSubstr("put back"));
  EXPECT_EQ(Read("a/target"), kOldContent);

  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(faults_.PendingFaults(), 0);
  EXPECT_THAT(TempFiles(), IsEmpty());
  EXPECT_THAT(test::ListDirectory(root_ + "/a"), ElementsAre("target"));
  EXPECT_THAT(log, Not(HasSubstr(kWarning)));

  // Without the fault, the same operations go through.
  EXPECT_THAT(writer_->Write(a_.get(), "target", kNewContent, {}), IsOk());
  EXPECT_EQ(Read("a/target"), kNewContent);
  EXPECT_THAT(writer_->Remove(a_.get(), "target", ""), IsOk());
  EXPECT_THAT(test::ListDirectory(root_ + "/a"), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(
    Errors, DirectorySyncErrorTest,
    testing::Values(
        OtherError{"EIO", SyscallError(EIO, "fsync(directory)")},
        OtherError{"ENOSPC", SyscallError(ENOSPC, "fsync(directory)")},
        OtherError{"EDQUOT", SyscallError(EDQUOT, "fsync(directory)")},
        OtherError{"EROFS", SyscallError(EROFS, "fsync(directory)")},
        OtherError{"EBADF", SyscallError(EBADF, "fsync(directory)")},
        OtherError{"EINTR", SyscallError(EINTR, "fsync(directory)")},
        OtherError{"UnknownWithoutErrno", absl::UnknownError("something")}),
    [](const testing::TestParamInfo<OtherError>& info) {
      return std::string(info.param.name);
    });

// Only the directory fsync may be "unsupported": the same answer from the
// fsync of the new content fails the write.
TEST_F(DirectorySyncTest, UnsupportedFileSyncFailsTheWrite) {
  test::WriteFileOrDie(root_ + "/a/target", kOldContent);
  faults_.FailNext(Operation::kSyncFile,
                   absl::UnimplementedError("fsync not supported"));
  testing::internal::CaptureStderr();
  absl::StatusOr<CommitResult> result =
      writer_->Write(a_.get(), "target", kNewContent, {});
  testing::internal::GetCapturedStderr();
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(Read("a/target"), kOldContent);
  EXPECT_THAT(TempFiles(), IsEmpty());
}

}  // namespace
}  // namespace durable::test
