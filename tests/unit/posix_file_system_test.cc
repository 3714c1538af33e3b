// PosixFileSystem's Link, MakeSymlink and ReadSymlink against a real
// directory: the contracts of file_system.h on the real kernel.
#include "server/engine/posix_file_system.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/base/errno_status.h"
#include "server/base/unique_fd.h"
#include "tests/support/status_matchers.h"

namespace durable {

using test::IsOk;
using test::StatusIs;

namespace {

// A fresh directory under /tmp, open as dir_fd_; removed with everything
// in it.
class PosixFileSystemTest : public testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/durable_posix_fs_test.XXXXXX";
    ASSERT_NE(mkdtemp(path), nullptr) << strerror(errno);
    dir_path_ = path;
    dir_fd_.reset(open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(dir_fd_.valid()) << strerror(errno);
  }

  void TearDown() override {
    dir_fd_.reset();
    std::error_code error;
    std::filesystem::remove_all(dir_path_, error);
    EXPECT_FALSE(error) << error.message();
  }

  std::string PathOf(const std::string& name) const {
    return absl::StrCat(dir_path_, "/", name);
  }

  void PlantFile(const std::string& name, const std::string& content) {
    UniqueFd fd(open(PathOf(name).c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    ASSERT_TRUE(fd.valid()) << name << ": " << strerror(errno);
    ASSERT_EQ(write(fd.get(), content.data(), content.size()),
              static_cast<ssize_t>(content.size()));
  }

  struct stat LstatOf(const std::string& name) const {
    struct stat st = {};
    EXPECT_EQ(lstat(PathOf(name).c_str(), &st), 0)
        << name << ": " << strerror(errno);
    return st;
  }

  PosixFileSystem fs_;
  std::string dir_path_;
  UniqueFd dir_fd_;
};

TEST_F(PosixFileSystemTest, LinkGivesTheFileAnotherNameInAnotherDirectory) {
  PlantFile("a", "content");
  ASSERT_EQ(mkdir(PathOf("sub").c_str(), 0700), 0) << strerror(errno);
  UniqueFd sub(open(PathOf("sub").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(sub.valid()) << strerror(errno);
  ASSERT_THAT(fs_.Link(dir_fd_.get(), "a", sub.get(), "b"), IsOk());
  EXPECT_EQ(LstatOf("sub/b").st_ino, LstatOf("a").st_ino);
  EXPECT_EQ(LstatOf("a").st_nlink, 2u);
}

TEST_F(PosixFileSystemTest, LinkOverAnExistingNameIsAlreadyExists) {
  PlantFile("a", "A");
  PlantFile("b", "B");
  absl::Status status = fs_.Link(dir_fd_.get(), "a", dir_fd_.get(), "b");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kAlreadyExists,
                               testing::HasSubstr("link(a -> b)")));
  EXPECT_EQ(ErrnoOf(status), EEXIST);
  EXPECT_NE(LstatOf("b").st_ino, LstatOf("a").st_ino);
  EXPECT_THAT(fs_.Link(dir_fd_.get(), "absent", dir_fd_.get(), "c"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(PosixFileSystemTest, LinkDoesNotFollowASymlinkSource) {
  PlantFile("a", "A");
  ASSERT_EQ(symlink("a", PathOf("l").c_str()), 0) << strerror(errno);
  ASSERT_THAT(fs_.Link(dir_fd_.get(), "l", dir_fd_.get(), "m"), IsOk());
  const struct stat linked = LstatOf("m");
  EXPECT_TRUE(S_ISLNK(linked.st_mode)) << "the symlink's target was linked";
  EXPECT_EQ(linked.st_ino, LstatOf("l").st_ino);
  EXPECT_EQ(LstatOf("a").st_nlink, 1u);
  // A dangling symlink, which following would fail on, is linked too.
  ASSERT_EQ(symlink("nowhere", PathOf("dangling").c_str()), 0);
  EXPECT_THAT(fs_.Link(dir_fd_.get(), "dangling", dir_fd_.get(), "d2"), IsOk());
}

TEST_F(PosixFileSystemTest, MakeSymlinkAndReadSymlinkRoundTrip) {
  std::string long_target;
  while (long_target.size() < 300) long_target += "component/";
  std::string longest_target(4095, 'x');  // PATH_MAX - 1: several regrowths
  for (const std::string& target :
       {std::string("t"), std::string("../outside/not-resolved"),
        std::string(256, 'y'), long_target, longest_target}) {
    SCOPED_TRACE(absl::StrCat("target of ", target.size(), " bytes"));
    const std::string name = absl::StrCat("l", target.size());
    ASSERT_THAT(fs_.MakeSymlink(dir_fd_.get(), name, target), IsOk());
    EXPECT_TRUE(S_ISLNK(LstatOf(name).st_mode));
    absl::StatusOr<std::string> read = fs_.ReadSymlink(dir_fd_.get(), name);
    ASSERT_THAT(read, IsOk());
    EXPECT_EQ(*read, target);
  }
}

TEST_F(PosixFileSystemTest, MakeSymlinkOverAnExistingNameIsAlreadyExists) {
  PlantFile("a", "A");
  absl::Status status = fs_.MakeSymlink(dir_fd_.get(), "a", "t");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kAlreadyExists,
                               testing::HasSubstr("symlink(a -> t)")));
  EXPECT_TRUE(S_ISREG(LstatOf("a").st_mode));
}

TEST_F(PosixFileSystemTest, ReadSymlinkOfANonSymlinkIsFailedPrecondition) {
  PlantFile("a", "A");
  ASSERT_EQ(mkdir(PathOf("sub").c_str(), 0700), 0) << strerror(errno);
  for (const char* name : {"a", "sub"}) {
    absl::Status status = fs_.ReadSymlink(dir_fd_.get(), name).status();
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition,
                                 testing::HasSubstr("readlink(")))
        << name;
    EXPECT_EQ(ErrnoOf(status), EINVAL) << name << ": " << status;
  }
}

TEST_F(PosixFileSystemTest, ReadSymlinkOfAnAbsentNameIsNotFound) {
  absl::Status status = fs_.ReadSymlink(dir_fd_.get(), "absent").status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound,
                               testing::HasSubstr("readlink(absent)")));
  EXPECT_EQ(ErrnoOf(status), ENOENT);
}

}  // namespace
}  // namespace durable
