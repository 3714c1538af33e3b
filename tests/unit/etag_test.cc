#include "server/engine/etag.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/engine/file_system.h"

namespace durable {
namespace {

using testing::MatchesRegex;

FileInfo Base() {
  FileInfo info;
  info.device = 2049;
  info.inode = 131073;
  info.generation = 42;
  info.mode = 0100644;
  info.uid = 1000;
  info.gid = 1000;
  info.size = 1234;
  info.mtime_ns = 1700000000123456789;
  info.link_count = 1;
  return info;
}

TEST(EtagTest, SixteenLowercaseHexDigits) {
  EXPECT_THAT(EtagOf(Base()), MatchesRegex("[0-9a-f]{16}"));
  EXPECT_THAT(EtagOf(FileInfo()), MatchesRegex("[0-9a-f]{16}"));
}

TEST(EtagTest, StableForEqualInput) {
  EXPECT_EQ(EtagOf(Base()), EtagOf(Base()));
  const FileInfo a = Base();
  const FileInfo b = a;
  EXPECT_EQ(EtagOf(a), EtagOf(b));
}

TEST(EtagTest, ChangesWithInode) {
  FileInfo other = Base();
  other.inode += 1;
  EXPECT_NE(EtagOf(Base()), EtagOf(other));
}

TEST(EtagTest, ChangesWithGeneration) {
  FileInfo other = Base();
  other.generation += 1;
  EXPECT_NE(EtagOf(Base()), EtagOf(other));
}

TEST(EtagTest, ChangesWithMtime) {
  FileInfo other = Base();
  other.mtime_ns += 1;  // one nanosecond
  EXPECT_NE(EtagOf(Base()), EtagOf(other));
}

TEST(EtagTest, ChangesWithSize) {
  FileInfo other = Base();
  other.size += 1;
  EXPECT_NE(EtagOf(Base()), EtagOf(other));
}

TEST(EtagTest, ChangesWithDevice) {
  FileInfo other = Base();
  other.device += 1;
  EXPECT_NE(EtagOf(Base()), EtagOf(other));
}

TEST(EtagTest, FieldsDoNotRunTogether) {
  // Values whose decimal digits concatenate to the same string must still
  // differ (the fields are separated).
  FileInfo a = Base();
  a.inode = 12;
  a.generation = 3;
  FileInfo b = Base();
  b.inode = 1;
  b.generation = 23;
  EXPECT_NE(EtagOf(a), EtagOf(b));
}

TEST(EtagTest, IgnoresOwnerModeAndLinkCount) {
  // Only identity, version and content size matter; chmod/chown/link do not
  // make a new version.
  FileInfo other = Base();
  other.mode = 0100600;
  other.uid = 0;
  other.gid = 0;
  other.link_count = 2;
  EXPECT_EQ(EtagOf(Base()), EtagOf(other));
}

}  // namespace
}  // namespace durable
