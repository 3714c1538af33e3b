#include "server/policy/config_loader.h"

#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace durable {

using test::IsOk;
using test::StatusIs;

namespace {

using ::durable::v1::DaemonConfig;
using testing::HasSubstr;
using testing::StartsWith;

constexpr char kFile[] = "test.conf";

// Joins `lines` with '\n' so that lines[i] is line i + 1 of the config.
std::string Lines(const std::vector<std::string>& lines) {
  return absl::StrCat(absl::StrJoin(lines, "\n"), "\n");
}

// Expects INVALID_ARGUMENT with "test.conf:<line>:<column>: " at the start
// and `reason` somewhere in the message. column <= 0 checks only the line.
void ExpectErrorAt(const absl::StatusOr<DaemonConfig>& config, int line,
                   int column, const std::string& reason) {
  ASSERT_FALSE(config.ok()) << "parsed: " << config->ShortDebugString();
  EXPECT_THAT(config, StatusIs(absl::StatusCode::kInvalidArgument))
      << config.status();
  const std::string message(config.status().message());
  if (column > 0) {
    EXPECT_THAT(message,
                StartsWith(absl::StrCat(kFile, ":", line, ":", column, ": ")));
  } else {
    EXPECT_THAT(message, StartsWith(absl::StrCat(kFile, ":", line, ":")));
  }
  EXPECT_THAT(message, HasSubstr(reason));
}

TEST(ParseConfigTest, FullValidConfig) {
  const std::string text = Lines({
      "# durabled config",
      "socket { path: \"/run/test/durabled.sock\" mode: 0660 group: "
      "\"durable\" }",
      "rule {",
      "  root: \"/var/lib/agents\"",
      "  allow_uid: 1000",
      "  allow_uid: 1001",
      "  allow_gid: 2000",
      "  max_file_size: 16777216",
      "  create_mode: 0640",
      "  max_mode: 0660",
      "  allow_overwrite: false",
      "}",
      "rule {",
      "  root: \"/\"",
      "  allow_gid: [3000, 3001]",
      "}",
      "limits { max_message_bytes: 1048576 }",
  });
  absl::StatusOr<DaemonConfig> config = ParseConfig(text, kFile);
  ASSERT_THAT(config, IsOk());

  EXPECT_EQ(config->socket().path(), "/run/test/durabled.sock");
  // Text format reads a leading 0 as octal.
  EXPECT_EQ(config->socket().mode(), 0660u);
  EXPECT_EQ(config->socket().mode(), 432u);
  EXPECT_EQ(config->socket().group(), "durable");

  ASSERT_EQ(config->rule_size(), 2);
  const durable::v1::Rule& rule = config->rule(0);
  EXPECT_EQ(rule.root(), "/var/lib/agents");
  EXPECT_THAT(rule.allow_uid(), testing::ElementsAre(1000u, 1001u));
  EXPECT_THAT(rule.allow_gid(), testing::ElementsAre(2000u));
  EXPECT_EQ(rule.max_file_size(), 16777216u);
  EXPECT_EQ(rule.create_mode(), 0640u);
  EXPECT_EQ(rule.create_mode(), 416u);
  EXPECT_EQ(rule.max_mode(), 0660u);
  ASSERT_TRUE(rule.has_allow_overwrite());
  EXPECT_FALSE(rule.allow_overwrite());

  EXPECT_EQ(config->rule(1).root(), "/");
  EXPECT_THAT(config->rule(1).allow_gid(), testing::ElementsAre(3000u, 3001u));
  EXPECT_FALSE(config->rule(1).has_allow_overwrite());

  EXPECT_EQ(MaxMessageBytes(*config), 1048576u);
}

TEST(ParseConfigTest, SocketDefaults) {
  absl::StatusOr<DaemonConfig> config =
      ParseConfig("rule { root: \"/srv\" allow_uid: 1 }\n", kFile);
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->socket().path(), kDefaultListenSocketPath);
  EXPECT_EQ(config->socket().path(), "/run/durabled/durabled.sock");
  EXPECT_EQ(config->socket().mode(), 0660u);
  EXPECT_EQ(config->socket().group(), "");
  EXPECT_EQ(MaxMessageBytes(*config), (64ull << 20) + (1ull << 20));
}

TEST(ParseConfigTest, SocketDefaultsFillOnlyMissingFields) {
  absl::StatusOr<DaemonConfig> mode_only =
      ParseConfig("socket { mode: 0600 }\n", kFile);
  ASSERT_THAT(mode_only, IsOk());
  EXPECT_EQ(mode_only->socket().path(), kDefaultListenSocketPath);
  EXPECT_EQ(mode_only->socket().mode(), 0600u);

  absl::StatusOr<DaemonConfig> path_only =
      ParseConfig("socket { path: \"/tmp/x.sock\" }\n", kFile);
  ASSERT_THAT(path_only, IsOk());
  EXPECT_EQ(path_only->socket().path(), "/tmp/x.sock");
  EXPECT_EQ(path_only->socket().mode(), 0660u);
}

TEST(ParseConfigTest, GrpcLimitsDefaultWhenUnset) {
  absl::StatusOr<DaemonConfig> config = ParseConfig("", kFile);
  ASSERT_THAT(config, IsOk());
  EXPECT_FALSE(config->enable_reflection());
  const durable::v1::Limits limits = EffectiveLimits(*config);
  EXPECT_EQ(limits.max_streams_per_connection(), 16u);
  EXPECT_EQ(limits.max_metadata_bytes(), 8192u);
  EXPECT_EQ(limits.request_arrival_timeout_ms(), 10000u);
  EXPECT_EQ(limits.grpc_memory_bytes(), 256ull << 20);
  EXPECT_EQ(limits.max_grpc_threads(), 64u);
}

TEST(ParseConfigTest, GrpcLimitsAreRead) {
  absl::StatusOr<DaemonConfig> config = ParseConfig(
      Lines({"enable_reflection: true",
             "limits { max_streams_per_connection: 4 max_metadata_bytes: "
             "2048 request_arrival_timeout_ms: 500 grpc_memory_bytes: "
             "33554432 max_grpc_threads: 8 }"}),
      kFile);
  ASSERT_THAT(config, IsOk());
  EXPECT_TRUE(config->enable_reflection());
  const durable::v1::Limits limits = EffectiveLimits(*config);
  EXPECT_EQ(limits.max_streams_per_connection(), 4u);
  EXPECT_EQ(limits.max_metadata_bytes(), 2048u);
  EXPECT_EQ(limits.request_arrival_timeout_ms(), 500u);
  EXPECT_EQ(limits.grpc_memory_bytes(), 32ull << 20);
  EXPECT_EQ(limits.max_grpc_threads(), 8u);
}

TEST(ParseConfigTest, EmptyConfigIsValid) {
  absl::StatusOr<DaemonConfig> config = ParseConfig("", kFile);
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->rule_size(), 0);
  EXPECT_EQ(config->socket().path(), kDefaultListenSocketPath);
}

TEST(ParseConfigTest, SyntaxError) {
  const std::string text = Lines({
      "rule {",
      "  root: \"/srv\"",
      "  allow_uid = 1000",
      "}",
  });
  ExpectErrorAt(ParseConfig(text, kFile), 3, 0, "Expected \":\"");
}

TEST(ParseConfigTest, UnterminatedBlock) {
  const std::string text = Lines({
      "rule {",
      "  root: \"/srv\"",
      "  allow_uid: 1000",
  });
  absl::StatusOr<DaemonConfig> config = ParseConfig(text, kFile);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(config.status().message()),
              StartsWith(absl::StrCat(kFile, ":")));
}

TEST(ParseConfigTest, UnknownField) {
  const std::string text = Lines({
      "rule {",
      "  root: \"/srv\"",
      "  allow_users: 1000",
      "}",
  });
  // The parser reports the column where it noticed (after the name), so only
  // the line is checked.
  ExpectErrorAt(ParseConfig(text, kFile), 3, 0, "allow_users");
}

TEST(ParseConfigTest, UnknownTopLevelField) {
  const std::string text = Lines({
      "socket { mode: 0660 }",
      "rules { root: \"/srv\" allow_uid: 1 }",
  });
  ExpectErrorAt(ParseConfig(text, kFile), 2, 0, "rules");
}

TEST(ParseConfigTest, RuleWithoutRoot) {
  const std::string text = Lines({
      "rule {",
      "  root: \"/srv\"",
      "  allow_uid: 1",
      "}",
      "rule {",
      "  allow_uid: 1000",
      "}",
  });
  // No root field to point at: the location is the rule's own.
  ExpectErrorAt(ParseConfig(text, kFile), 5, 0, "needs a root");
}

TEST(ParseConfigTest, RelativeRoot) {
  const std::string text = Lines({
      "rule {",
      "  allow_uid: 1000",
      "  root: \"srv/data\"",
      "}",
  });
  ExpectErrorAt(ParseConfig(text, kFile), 3, 3, "srv/data");
}

TEST(ParseConfigTest, UncleanRoots) {
  for (const char* root :
       {"/srv/../etc", "/srv/./x", "/srv//x", "/srv/", "/.."}) {
    const std::string text = Lines({
        "rule {",
        "  allow_uid: 1000",
        absl::StrCat("  root: \"", root, "\""),
        "}",
    });
    SCOPED_TRACE(root);
    ExpectErrorAt(ParseConfig(text, kFile), 3, 3,
                  "is not a clean absolute path");
  }
}

TEST(ParseConfigTest, DuplicateRoots) {
  const std::string text = Lines({
      "rule {",
      "  root: \"/srv\"",
      "  allow_uid: 1000",
      "}",
      "rule { root: \"/srv/a\" allow_uid: 1 }",
      "rule {",
      "  allow_gid: 2000",
      "  root: \"/srv\"",
      "}",
  });
  ExpectErrorAt(ParseConfig(text, kFile), 8, 3, "earlier rule");
}

TEST(ParseConfigTest, RuleAllowingNobody) {
  const std::string text = Lines({
      "rule { root: \"/srv\" allow_uid: 1 }",
      "rule {",
      "  root: \"/data\"",
      "  max_file_size: 10",
      "}",
  });
  ExpectErrorAt(ParseConfig(text, kFile), 3, 0, "allows nobody");
}

TEST(ParseConfigTest, CreateModeOutOfRange) {
  const std::string text = Lines({
      "rule {",
      "  root: \"/srv\"",
      "  allow_uid: 1000",
      "  create_mode: 010000",
      "}",
  });
  ExpectErrorAt(ParseConfig(text, kFile), 4, 3, "outside 07777");
}

TEST(ParseConfigTest, ModesAtLimitAreAccepted) {
  absl::StatusOr<DaemonConfig> config = ParseConfig(
      "rule { root: \"/srv\" allow_uid: 1 create_mode: 0777 "
      "max_mode: 0777 directory_mode: 0777 }\n",
      kFile);
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->rule(0).create_mode(), 0777u);
  EXPECT_EQ(config->rule(0).max_mode(), 0777u);
  EXPECT_EQ(config->rule(0).directory_mode(), 0777u);
}

// The daemon runs as root: setuid, setgid and sticky bits (07000) in any
// mode of a rule are refused, pointing at the field.
TEST(ParseConfigTest, SpecialBitsInModesAreRefusedWithTheirLocation) {
  for (const char* field : {"create_mode", "max_mode", "directory_mode"}) {
    for (const char* mode : {"04755", "02755", "01777", "07777"}) {
      SCOPED_TRACE(absl::StrCat(field, ": ", mode));
      const std::string text = Lines({
          "rule {",
          "  root: \"/srv\"",
          "  allow_uid: 1000",
          absl::StrCat("  ", field, ": ", mode),
          "}",
      });
      ExpectErrorAt(ParseConfig(text, kFile), 4, 3,
                    absl::StrCat("rule.", field, ": "));
      ExpectErrorAt(ParseConfig(text, kFile), 4, 3, "setuid, setgid or sticky");
    }
  }
}

TEST(ParseConfigTest, DirectoryModeOutOfRange) {
  const std::string text = Lines({
      "rule {",
      "  root: \"/srv\"",
      "  allow_uid: 1000",
      "  directory_mode: 010000",
      "}",
  });
  ExpectErrorAt(ParseConfig(text, kFile), 4, 3, "outside 07777");
}

TEST(ParseConfigTest, MaxModeOutOfRange) {
  const std::string text = Lines({
      "rule {",
      "  root: \"/srv\"",
      "  allow_uid: 1000",
      "  max_mode: 0xffff",
      "}",
  });
  ExpectErrorAt(ParseConfig(text, kFile), 4, 3, "outside 07777");
}

TEST(ParseConfigTest, SocketModeOutOfRangeOnOneLine) {
  const std::string text = Lines({
      "rule { root: \"/srv\" allow_uid: 1 }",
      "socket { mode: 01777 }",
  });
  ExpectErrorAt(ParseConfig(text, kFile), 2, 0, "outside 0777");
}

TEST(ParseConfigTest, SocketModeOutOfRangePointsAtModeLine) {
  const std::string text = Lines({
      "socket {",
      "  path: \"/run/x.sock\"",
      "  mode: 01777",
      "}",
  });
  ExpectErrorAt(ParseConfig(text, kFile), 3, 0, "outside 0777");
}

TEST(ParseConfigTest, SocketPathMustBeClean) {
  const std::string text = Lines({
      "socket {",
      "  path: \"run/x.sock\"",
      "}",
  });
  ExpectErrorAt(ParseConfig(text, kFile), 2, 0, "clean absolute path");
}

TEST(ParseConfigTest, ErrorLabelUsesFileName) {
  absl::StatusOr<DaemonConfig> config =
      ParseConfig("rule { root: \"x\" allow_uid: 1 }\n", "/etc/other.conf");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              StartsWith("/etc/other.conf:1:"));
}

TEST(LoadConfigFileTest, MissingFileNamesThePath) {
  const std::string path =
      testing::TempDir() + "/durabled-no-such-dir/missing.conf";
  absl::StatusOr<DaemonConfig> config = LoadConfigFile(path);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(path));
}

class LoadConfigFileOnDiskTest : public testing::Test {
 protected:
  void SetUp() override {
    path_ = absl::StrCat(testing::TempDir(), "/config_loader_test.", getpid(),
                         ".conf");
  }
  void TearDown() override { unlink(path_.c_str()); }

  void Write(const std::string& text) {
    std::ofstream out(path_, std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good());
  }

  std::string path_;
};

TEST_F(LoadConfigFileOnDiskTest, ReadsAndParses) {
  ASSERT_NO_FATAL_FAILURE(
      Write("rule {\n  root: \"/srv\"\n  allow_uid: 7\n}\n"));
  absl::StatusOr<DaemonConfig> config = LoadConfigFile(path_);
  ASSERT_THAT(config, IsOk());
  ASSERT_EQ(config->rule_size(), 1);
  EXPECT_EQ(config->rule(0).root(), "/srv");
}

TEST_F(LoadConfigFileOnDiskTest, ErrorsAreLabelledWithThePath) {
  ASSERT_NO_FATAL_FAILURE(Write("rule {\n  root: \"/srv\"\n  bogus: 7\n}\n"));
  absl::StatusOr<DaemonConfig> config = LoadConfigFile(path_);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              StartsWith(absl::StrCat(path_, ":3:")));
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("bogus"));
}

TEST(LoadConfigFileTest, DirectoryIsNotAConfig) {
  // A directory opens as an ifstream on Linux but reads as nothing; it must
  // not pass for an empty (rule-less) config.
  absl::StatusOr<DaemonConfig> config = LoadConfigFile(testing::TempDir());
  EXPECT_FALSE(config.ok()) << "parsed: " << config->ShortDebugString();
}

}  // namespace
}  // namespace durable
