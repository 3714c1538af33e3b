#include "server/daemon/audit_log.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace durable {
namespace {

using testing::EndsWith;
using testing::HasSubstr;
using testing::Not;
using testing::StartsWith;

AuditRecord Record(absl::string_view path, absl::Status result) {
  AuditRecord record;
  record.operation = "write";
  record.caller.pid = 4321;
  record.caller.uid = 1000;
  record.caller.gid = 2000;
  record.path = path;
  record.bytes = 5000000000ull;  // more than 32 bits
  record.result = std::move(result);
  record.latency = absl::Microseconds(1500);
  return record;
}

TEST(FormatAuditRecordTest, SuccessHasAllFields) {
  const std::string line =
      FormatAuditRecord(Record("/srv/state.json", absl::OkStatus()));
  EXPECT_THAT(line, StartsWith("audit "));
  EXPECT_THAT(line, HasSubstr("op=write"));
  EXPECT_THAT(line, HasSubstr("uid=1000"));
  EXPECT_THAT(line, HasSubstr("gid=2000"));
  EXPECT_THAT(line, HasSubstr("pid=4321"));
  EXPECT_THAT(line, HasSubstr("path=\"/srv/state.json\""));
  EXPECT_THAT(line, HasSubstr("bytes=5000000000"));
  EXPECT_THAT(line, HasSubstr("result=OK"));
  EXPECT_THAT(line, HasSubstr("latency_us=1500"));
  EXPECT_THAT(line, Not(HasSubstr("reason=")));
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(FormatAuditRecordTest, UnknownCgroupIsSaid) {
  const std::string line =
      FormatAuditRecord(Record("/srv/state.json", absl::OkStatus()));
  EXPECT_THAT(line, HasSubstr(" pid=4321 cgroup=unknown path="));
  EXPECT_THAT(line, Not(HasSubstr("unit=")));
}

TEST(FormatAuditRecordTest, KnownCgroupNamesUnitAndCgroup) {
  AuditRecord record = Record("/srv/state.json", absl::OkStatus());
  record.caller.cgroup_known = true;
  record.caller.cgroup = "/system.slice/agent@7.service";
  record.caller.unit = "agent@7.service";
  const std::string line = FormatAuditRecord(record);
  EXPECT_THAT(line, HasSubstr(" pid=4321 unit=\"agent@7.service\" "
                              "cgroup=\"/system.slice/agent@7.service\" "
                              "path=\"/srv/state.json\""));
  EXPECT_THAT(line, Not(HasSubstr("cgroup=unknown")));
}

TEST(FormatAuditRecordTest, KnownCgroupWithoutUnit) {
  AuditRecord record = Record("/srv/state.json", absl::OkStatus());
  record.caller.cgroup_known = true;
  record.caller.cgroup = "/";
  const std::string line = FormatAuditRecord(record);
  EXPECT_THAT(line, HasSubstr(" unit=\"\" cgroup=\"/\" path="));
}

TEST(FormatAuditRecordTest, EscapesCgroup) {
  // Below a delegated cgroup, the caller names the directories; only '/'
  // and '\n' are impossible in a name.
  AuditRecord record = Record("/srv/x", absl::OkStatus());
  record.caller.cgroup_known = true;
  record.caller.cgroup =
      "/system.slice/a.service/x\" result=OK\r\x1b path=\"/etc/shadow";
  record.caller.unit = "a.service";
  const std::string line = FormatAuditRecord(record);
  EXPECT_EQ(line.find('\r'), std::string::npos) << line;
  EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
  EXPECT_THAT(line, HasSubstr("cgroup=\"/system.slice/a.service/x\\\" "
                              "result=OK\\r\\033 path=\\\"/etc/shadow\" "
                              "path=\"/srv/x\""));
  // Unescaped quotes: two each around unit, cgroup and path.
  size_t quotes = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '"' && (i == 0 || line[i - 1] != '\\')) ++quotes;
  }
  EXPECT_EQ(quotes, 6u) << line;
}

TEST(FormatAuditRecordTest, FailureIncludesReason) {
  const std::string line = FormatAuditRecord(
      Record("/srv/x", absl::PermissionDeniedError("uid 1000 is not allowed")));
  EXPECT_THAT(line, HasSubstr("result=PERMISSION_DENIED"));
  EXPECT_THAT(line, EndsWith(" reason=\"uid 1000 is not allowed\""));
}

TEST(FormatAuditRecordTest, EscapesNewlineAndQuoteInPath) {
  const std::string path = "/srv/a\"b\nforged=1 audit op=write";
  const std::string line = FormatAuditRecord(Record(path, absl::OkStatus()));
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  EXPECT_THAT(line,
              HasSubstr("path=\"/srv/a\\\"b\\nforged=1 audit op=write\""));
  // The only unescaped quotes are the ones delimiting the path value.
  size_t quotes = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '"' && (i == 0 || line[i - 1] != '\\')) ++quotes;
  }
  EXPECT_EQ(quotes, 2u) << line;
}

TEST(FormatAuditRecordTest, EscapesControlAndNulBytesInPath) {
  const std::string path("/srv/a\0b\rc\x1b", 11);
  const std::string line = FormatAuditRecord(Record(path, absl::OkStatus()));
  EXPECT_EQ(line.find('\0'), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  EXPECT_EQ(line.find('\x1b'), std::string::npos);
  EXPECT_THAT(line, HasSubstr("\\000"));
  EXPECT_THAT(line, HasSubstr("\\r"));
}

TEST(FormatAuditRecordTest, EscapesReason) {
  const std::string line = FormatAuditRecord(
      Record("/srv/x", absl::InvalidArgumentError("bad \"name\"\nnext")));
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  EXPECT_THAT(line, HasSubstr("reason=\"bad \\\"name\\\"\\nnext\""));
}

TEST(FormatAuditRecordTest, LongPathIsTruncatedInTheLine) {
  const std::string path = "/" + std::string(100000, 'y');
  const std::string line = FormatAuditRecord(Record(path, absl::OkStatus()));
  EXPECT_LT(line.size(), 2048u);
  EXPECT_THAT(line, HasSubstr("100001 bytes"));
}

}  // namespace
}  // namespace durable
