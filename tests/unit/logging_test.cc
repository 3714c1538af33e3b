#include "server/base/logging.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace durable {
namespace {

using testing::HasSubstr;
using testing::StartsWith;

TEST(DisplayPathTest, ShortPathIsEscapedOnly) {
  EXPECT_EQ(DisplayPath("/srv/x"), "/srv/x");
  EXPECT_EQ(DisplayPath("/a\nb"), "/a\\nb");
  EXPECT_EQ(DisplayPath("/a\"b"), "/a\\\"b");
}

TEST(DisplayPathTest, TruncatesVeryLongPaths) {
  const std::string path = "/" + std::string(10000, 'x');
  const std::string shown = DisplayPath(path);
  EXPECT_LT(shown.size(), 1024u);
  EXPECT_THAT(shown, StartsWith("/xxxx"));
  EXPECT_THAT(shown, HasSubstr("10001 bytes"));
}

TEST(DisplayPathTest, TruncatedPathIsStillEscaped) {
  const std::string path = std::string(5000, '\n');
  const std::string shown = DisplayPath(path);
  EXPECT_EQ(shown.find('\n'), std::string::npos);
  EXPECT_THAT(shown, HasSubstr("5000 bytes"));
}

// What Log writes to stderr for `message`.
std::string LoggedLine(absl::string_view message) {
  char path[] = "/tmp/durabled-logging-test.XXXXXX";
  const int capture = mkstemp(path);
  unlink(path);
  const int saved = dup(STDERR_FILENO);
  dup2(capture, STDERR_FILENO);
  LogWarning(message);
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::string out(4096, '\0');
  const ssize_t n = pread(capture, out.data(), out.size(), 0);
  close(capture);
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

TEST(LogTest, OneLineWithItsPriority) {
  EXPECT_EQ(LoggedLine("plain message"), "<4>plain message\n");
}

TEST(LogTest, ControlBytesCannotEndTheLineOrForgeAPriority) {
  const std::string line =
      LoggedLine("name x\n<0>forged\r\x1b[2J\ttab\x7f end");
  EXPECT_EQ(line, "<4>name x\\n<0>forged\\x0d\\x1b[2J\\ttab\\x7f end\n");
}

TEST(EscapeNameTest, QuotesAndBackslashesAreEscaped) {
  EXPECT_EQ(EscapeName("a\"b\\c\n"), "a\\\"b\\\\c\\n");
}

}  // namespace
}  // namespace durable
