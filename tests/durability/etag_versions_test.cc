// Consecutive versions of one target never share an etag, even for
// same-size content written within one clock tick on a filesystem that
// reuses inode numbers and has no inode generation: the engine stamps each
// replacement with an mtime later than the file it replaces.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/base/unique_fd.h"
#include "server/engine/etag.h"
#include "server/engine/file_replacer.h"
#include "server/engine/posix_file_system.h"
#include "tests/support/forwarding_file_system.h"
#include "tests/support/status_matchers.h"

namespace durable {

using test::IsOk;

namespace {

constexpr int kWrites = 1000;

// A filesystem whose clock stands still (every new or written file gets
// the same mtime, as within one timestamp tick), that reuses one inode
// number for every file and has no inode generation (as tmpfs or overlayfs
// may): device, inode, generation and mtime of two versions of a file agree
// unless the engine makes the mtime differ.
class FrozenClockReusedInodes : public ForwardingFileSystem {
 public:
  FrozenClockReusedInodes(FileSystem* base, int64_t frozen_ns)
      : ForwardingFileSystem(base), frozen_ns_(frozen_ns) {}

  absl::StatusOr<UniqueFd> CreateExclusive(int dir_fd,
                                           const std::string& name) override {
    absl::StatusOr<UniqueFd> fd = base()->CreateExclusive(dir_fd, name);
    if (fd.ok()) Freeze(fd->get());
    return fd;
  }
  absl::Status Append(int fd, absl::string_view data) override {
    absl::Status status = base()->Append(fd, data);
    Freeze(fd);
    return status;
  }
  absl::StatusOr<FileInfo> Stat(int fd) override {
    return Reused(base()->Stat(fd));
  }
  absl::StatusOr<FileInfo> StatAt(int dir_fd,
                                  const std::string& name) override {
    return Reused(base()->StatAt(dir_fd, name));
  }
  absl::StatusOr<FileInfo> LookUp(int dir_fd,
                                  const std::string& name) override {
    return Reused(base()->LookUp(dir_fd, name));
  }

 private:
  void Freeze(int fd) {
    struct timespec times[2] = {
        {0, UTIME_OMIT}, {frozen_ns_ / 1000000000, frozen_ns_ % 1000000000}};
    EXPECT_EQ(futimens(fd, times), 0);
  }
  static absl::StatusOr<FileInfo> Reused(absl::StatusOr<FileInfo> info) {
    if (info.ok() && S_ISREG(info->mode)) {
      info->inode = 4242;
      info->generation = 0;
    }
    return info;
  }

  const int64_t frozen_ns_;
};

// Writes "aaaa" and "bbbb" alternately to `leaf` in `dir_fd`; every etag
// must differ from the one before and match what InspectTarget (and so a
// Stat RPC or if_match) computes for the file.
void ExpectAlternatingWritesChangeTheEtag(FileReplacer& writer, int dir_fd) {
  std::string previous;
  for (int i = 0; i < kWrites; ++i) {
    absl::StatusOr<CommitResult> result = writer.Write(
        dir_fd, "target", i % 2 ? "bbbb" : "aaaa", CommitOptions());
    ASSERT_THAT(result, IsOk()) << "write " << i << ": " << result.status();
    ASSERT_NE(result->etag, previous) << "write " << i << " repeated the etag";
    absl::StatusOr<FileInfo> seen = writer.InspectTarget(dir_fd, "target");
    ASSERT_THAT(seen, IsOk());
    ASSERT_EQ(EtagOf(*seen), result->etag) << "write " << i;
    previous = result->etag;
  }
}

class EtagVersionsTest : public testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/durabled-etag-versions.XXXXXX";
    ASSERT_NE(mkdtemp(path), nullptr);
    dir_path_ = path;
  }
  void TearDown() override {
    dir_.reset();
    if (mounted_) umount2(dir_path_.c_str(), MNT_DETACH);
    std::filesystem::remove_all(dir_path_);
  }
  void OpenDir() {
    dir_.reset(open(dir_path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(dir_.valid());
  }

  std::string dir_path_;
  bool mounted_ = false;
  UniqueFd dir_;
  PosixFileSystem posix_;
};

TEST_F(EtagVersionsTest, SameSizeVersionsDifferWithReusedInodesAndNoClock) {
  OpenDir();
  // A clock tick that lasts an hour, and ends in the future: only the
  // engine's stamp (old mtime + 1ns) tells the versions apart.
  const int64_t frozen = absl::ToUnixNanos(absl::Now() + absl::Hours(1));
  FrozenClockReusedInodes fs(&posix_, frozen);
  FileReplacer writer(&fs);
  ExpectAlternatingWritesChangeTheEtag(writer, dir_.get());
  struct stat st;
  ASSERT_EQ(stat((dir_path_ + "/target").c_str(), &st), 0);
  const int64_t mtime = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  EXPECT_GT(mtime, frozen);
  EXPECT_LE(mtime, frozen + kWrites);  // 1ns steps: the stamp stays close
}

TEST_F(EtagVersionsTest, SameSizeVersionsDifferOnTheTempDirectory) {
  OpenDir();
  FileReplacer writer(&posix_);
  ExpectAlternatingWritesChangeTheEtag(writer, dir_.get());
}

TEST_F(EtagVersionsTest, SameSizeVersionsDifferOnTmpfs) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
  ASSERT_EQ(mount("tmpfs", dir_path_.c_str(), "tmpfs", 0, "size=16m"), 0)
      << strerror(errno);
  mounted_ = true;
  OpenDir();
  FileReplacer writer(&posix_);
  ExpectAlternatingWritesChangeTheEtag(writer, dir_.get());
}

}  // namespace
}  // namespace durable
