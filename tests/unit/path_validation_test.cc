#include "server/policy/path_validation.h"

#include <limits.h>

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace durable {

using test::IsOk;
using test::StatusIs;

namespace {

using testing::HasSubstr;

// Expects INVALID_ARGUMENT whose message contains `why`.
void ExpectRejected(const std::string& path, const std::string& why) {
  absl::Status status = ValidateClientPath(path);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument))
      << "path: \"" << path << "\" status: " << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(why))
      << "path: \"" << path << "\"";
}

TEST(ValidateClientPathTest, AcceptsCleanAbsolutePaths) {
  for (const char* path :
       {"/a", "/srv/data/state.json", "/var/lib/agents/x/y/z.bin",
        "/a.b/..c/c..", "/.hidden", "/x/.d/...", "/with space/and-dash_1"}) {
    EXPECT_TRUE(ValidateClientPath(path).ok())
        << path << ": " << ValidateClientPath(path);
  }
}

TEST(ValidateClientPathTest, RejectsEmpty) { ExpectRejected("", "empty"); }

TEST(ValidateClientPathTest, RejectsRelative) {
  ExpectRejected("a/b", "relative");
  ExpectRejected("state.json", "relative");
  ExpectRejected("./a", "relative");
  ExpectRejected("../a", "relative");
}

TEST(ValidateClientPathTest, RejectsDotComponentInEveryPosition) {
  ExpectRejected("/./a/b", "'.' component");
  ExpectRejected("/a/./b", "'.' component");
  ExpectRejected("/a/b/.", "'.' component");
  ExpectRejected("/.", "'.' component");
}

TEST(ValidateClientPathTest, RejectsDotDotComponentInEveryPosition) {
  ExpectRejected("/../a/b", "'..' component");
  ExpectRejected("/a/../b", "'..' component");
  ExpectRejected("/a/b/..", "'..' component");
  ExpectRejected("/..", "'..' component");
}

TEST(ValidateClientPathTest, RejectsEmptyComponent) {
  ExpectRejected("//a", "empty component");
  ExpectRejected("/a//b", "empty component");
}

TEST(ValidateClientPathTest, RejectsTrailingSlash) {
  ExpectRejected("/a/", "ends with '/'");
  ExpectRejected("/a/b//", "ends with '/'");
}

TEST(ValidateClientPathTest, RejectsRoot) {
  ExpectRejected("/", "root directory");
}

TEST(ValidateClientPathTest, RejectsNulByte) {
  const std::string middle("/a\0b", 4);
  ASSERT_EQ(middle.size(), 4u);
  ExpectRejected(middle, "NUL");
  const std::string trailing("/a/b\0", 5);
  ASSERT_EQ(trailing.size(), 5u);
  ExpectRejected(trailing, "NUL");
}

TEST(ValidateClientPathTest, RejectsControlCharacters) {
  ExpectRejected("/a\nb", "control character");
  ExpectRejected("/a/b\x7f", "control character");
  ExpectRejected("/a\tb", "control character");
  ExpectRejected("/a\rb", "control character");
  ExpectRejected("/a\x1b[2Jb", "control character");
}

TEST(ValidateClientPathTest, AcceptsHighBytes) {
  // UTF-8 (or any byte >= 0x80) is a legal file name byte.
  EXPECT_THAT(ValidateClientPath("/caf\xc3\xa9/\xff"), IsOk());
}

TEST(ValidateClientPathTest, ComponentLengthLimitIsNameMax) {
  const std::string at_limit(NAME_MAX, 'n');
  EXPECT_THAT(ValidateClientPath("/" + at_limit), IsOk());
  EXPECT_THAT(ValidateClientPath("/dir/" + at_limit + "/leaf"), IsOk());

  const std::string over(NAME_MAX + 1, 'n');
  ExpectRejected("/" + over, "component");
  ExpectRejected("/dir/" + over + "/leaf", "component");
  ExpectRejected("/dir/" + over, std::to_string(NAME_MAX));
}

// A path of `length` bytes made of short components: "/aaaa/aaaa/...".
std::string LongPath(size_t length) {
  std::string path;
  while (path.size() < length) {
    path += (path.size() % 8 == 0) ? '/' : 'a';
  }
  if (path.back() == '/') path.back() = 'a';
  return path;
}

TEST(ValidateClientPathTest, WholePathLengthLimitIsPathMaxMinusOne) {
  const std::string ok_path = LongPath(PATH_MAX - 1);
  ASSERT_EQ(ok_path.size(), static_cast<size_t>(PATH_MAX - 1));
  EXPECT_THAT(ValidateClientPath(ok_path), IsOk());

  const std::string too_long = LongPath(PATH_MAX);
  ASSERT_EQ(too_long.size(), static_cast<size_t>(PATH_MAX));
  ExpectRejected(too_long, std::to_string(PATH_MAX - 1));
  ExpectRejected(too_long, "bytes long");
}

TEST(SplitParentAndLeafTest, SplitsAtLastSlash) {
  SplitPath deep = SplitParentAndLeaf("/a/b/c");
  EXPECT_EQ(deep.parent, "/a/b");
  EXPECT_EQ(deep.leaf, "c");

  SplitPath top = SplitParentAndLeaf("/c");
  EXPECT_EQ(top.parent, "/");
  EXPECT_EQ(top.leaf, "c");

  SplitPath two = SplitParentAndLeaf("/srv/state.json");
  EXPECT_EQ(two.parent, "/srv");
  EXPECT_EQ(two.leaf, "state.json");
}

TEST(PathIsWithinTest, ComponentBoundary) {
  EXPECT_TRUE(PathIsWithin("/srv/a/x", "/srv/a"));
  EXPECT_TRUE(PathIsWithin("/srv/a/x/y", "/srv/a"));
  EXPECT_FALSE(PathIsWithin("/srv/ab", "/srv/a"));
  EXPECT_FALSE(PathIsWithin("/srv/ab/x", "/srv/a"));
  EXPECT_FALSE(PathIsWithin("/srv", "/srv/a"));
  EXPECT_FALSE(PathIsWithin("/other/a", "/srv/a"));
}

TEST(PathIsWithinTest, EqualPathIsWithin) {
  EXPECT_TRUE(PathIsWithin("/srv/a", "/srv/a"));
}

TEST(PathIsWithinTest, RootContainsEverything) {
  EXPECT_TRUE(PathIsWithin("/x", "/"));
  EXPECT_TRUE(PathIsWithin("/srv/a/b", "/"));
  EXPECT_TRUE(PathIsWithin("/", "/"));
}

}  // namespace
}  // namespace durable
