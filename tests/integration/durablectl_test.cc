// durablectl against the real daemon: what a shell user sees, including exit
// codes, and callers under other uids (real processes that drop privileges).
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_daemon.h"

namespace durable::test {
namespace {

using testing::HasSubstr;
using testing::IsEmpty;

constexpr uid_t kNobody = 65534;
constexpr uid_t kUnlistedUid = 65533;

class DurablectlTest : public testing::Test {
 protected:
  void SetUp() override {
    auto daemon = TestDaemon::Start(
        "socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
        "rule { root: \"{base}/data\" allow_uid: {uid} }\n"
        "rule { root: \"{base}/nobody\" allow_uid: 65534 }\n",
        {"nobody"});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
  }

  // durablectl started in `directory` (through sh: cd, then exec).
  CommandResult DurablectlIn(const std::string& directory,
                             std::vector<std::string> args,
                             const std::string& stdin_data = "") {
    std::vector<std::string> shell = {"/bin/sh",
                                      "-c",
                                      "cd \"$0\" && exec \"$@\"",
                                      directory,
                                      DURABLECTL_BINARY,
                                      "--socket=" + daemon_->socket_path()};
    shell.insert(shell.end(), args.begin(), args.end());
    Command command;
    command.argv = shell;
    command.stdin_data = stdin_data;
    return RunCommand(command);
  }

  CommandResult Durablectl(std::vector<std::string> args,
                           const std::string& stdin_data = "",
                           std::optional<uid_t> as_uid = std::nullopt) {
    Command command;
    command.argv = {DURABLECTL_BINARY,
                    absl::StrCat("--socket=", daemon_->socket_path())};
    command.argv.insert(command.argv.end(), args.begin(), args.end());
    command.stdin_data = stdin_data;
    if (as_uid.has_value()) {
      command.uid = *as_uid;
      command.gid = *as_uid;
    }
    return RunCommand(command);
  }

  void SkipUnlessRoot() {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to run as other uids";
  }

  std::unique_ptr<TestDaemon> daemon_;
};

TEST_F(DurablectlTest, WritesStandardInput) {
  const std::string path = daemon_->data() + "/from_stdin";
  CommandResult result = Durablectl({"write", path}, "hello\n");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("6 bytes created"));
  EXPECT_EQ(*ReadFile(path), "hello\n");
}

TEST_F(DurablectlTest, WritesFromFileWithModeAndReplaces) {
  const std::string source = daemon_->outside() + "/source";
  WriteFileOrDie(source, std::string(300000, 'z'));
  const std::string path = daemon_->data() + "/from_file";
  CommandResult result =
      Durablectl({"write", path, "--from=" + source, "--mode=0600"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(*ReadFile(path), std::string(300000, 'z'));
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  result = Durablectl({"write", path}, "second");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("replaced"));
  EXPECT_EQ(*ReadFile(path), "second");
}

TEST_F(DurablectlTest, IfAbsentExitsFiveAndKeepsContent) {
  const std::string path = daemon_->data() + "/once";
  ASSERT_EQ(Durablectl({"write", "--if-absent", path}, "1").exit_code, 0);
  CommandResult result = Durablectl({"write", "--if-absent", path}, "2");
  EXPECT_EQ(result.exit_code, 5);
  EXPECT_THAT(result.err, HasSubstr("ALREADY_EXISTS"));
  EXPECT_THAT(result.err, HasSubstr(path));
  EXPECT_EQ(*ReadFile(path), "1");
}

TEST_F(DurablectlTest, DeniedPathExitsThree) {
  const std::string path = daemon_->outside() + "/nope";
  CommandResult result = Durablectl({"write", path}, "x");
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_THAT(result.err, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(result.err, HasSubstr(path));
  EXPECT_FALSE(PathExists(path));
}

TEST_F(DurablectlTest, BadPathExitsSix) {
  CommandResult result =
      Durablectl({"write", daemon_->data() + "/../outside/x"}, "x");
  EXPECT_EQ(result.exit_code, 6);
  EXPECT_THAT(result.err, HasSubstr("'..'"));
  EXPECT_THAT(ListDirectory(daemon_->outside()), IsEmpty());
}

TEST_F(DurablectlTest, UnreachableDaemonExitsSeven) {
  Command command;
  command.argv = {DURABLECTL_BINARY, "--socket=" + daemon_->base() + "/nosock",
                  "write", daemon_->data() + "/x"};
  command.stdin_data = "x";
  CommandResult result = RunCommand(command);
  EXPECT_EQ(result.exit_code, 7);
  EXPECT_THAT(result.err, HasSubstr("cannot reach durabled"));
}

TEST_F(DurablectlTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Durablectl({}).exit_code, 2);
  EXPECT_EQ(Durablectl({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(Durablectl({"write"}).exit_code, 2);
  EXPECT_EQ(Durablectl({"write", "/a", "/b"}).exit_code, 2);
  CommandResult bad_mode = Durablectl({"write", "/a", "--mode=999"});
  EXPECT_EQ(bad_mode.exit_code, 2);
  EXPECT_THAT(bad_mode.err, HasSubstr("--mode=999"));
  // Unknown flags, global or a command's: exit 2 with the usage line.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--bogus", "whoami"}, {"stat", "--nope", "/a"}, {"whoami", "-x"}}) {
    CommandResult unknown = Durablectl(args);
    EXPECT_EQ(unknown.exit_code, 2) << args[0];
    EXPECT_THAT(unknown.err, HasSubstr("usage: durablectl [--socket=PATH]"));
  }
  CommandResult version = Durablectl({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out, "durablectl " DURABLED_VERSION "\n");
  CommandResult help = Durablectl({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("Exit codes"));
}

TEST_F(DurablectlTest, MissingSourceFileIsReported) {
  CommandResult result = Durablectl(
      {"write", daemon_->data() + "/x", "--from=" + daemon_->base() + "/nope"});
  EXPECT_EQ(result.exit_code, 4);
  EXPECT_THAT(result.err, HasSubstr("cannot open"));
  EXPECT_FALSE(PathExists(daemon_->data() + "/x"));
}

TEST_F(DurablectlTest, StatShowsTheVersionWrittenAndRmNeedsIt) {
  const std::string path = daemon_->data() + "/versioned";
  CommandResult written = Durablectl({"write", path}, "v1");
  ASSERT_EQ(written.exit_code, 0) << written.err;
  const std::string etag = written.out.substr(written.out.rfind(' ') + 1,
                                              16);  // "..., etag <etag>\n"
  CommandResult stat = Durablectl({"stat", path});
  EXPECT_EQ(stat.exit_code, 0) << stat.err;
  EXPECT_THAT(stat.out, HasSubstr("size:  2"));
  EXPECT_THAT(stat.out, HasSubstr("mode:  0644"));
  EXPECT_THAT(stat.out, HasSubstr("etag:  " + etag));

  // A stale etag protects the file from a lost update and from removal.
  CommandResult stale =
      Durablectl({"write", "--if-match=0000000000000000", path}, "v2");
  EXPECT_EQ(stale.exit_code, 5);
  EXPECT_THAT(stale.err, HasSubstr("ABORTED"));
  EXPECT_EQ(Durablectl({"rm", "--if-match=0000000000000000", path}).exit_code,
            5);
  EXPECT_EQ(*ReadFile(path), "v1");

  CommandResult removed = Durablectl({"rm", "--if-match=" + etag, path});
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_FALSE(PathExists(path));
  EXPECT_EQ(Durablectl({"stat", path}).exit_code, 4);
  EXPECT_EQ(Durablectl({"rm", path}).exit_code, 4);
}

TEST_F(DurablectlTest, Sha256MismatchExitsNine) {
  const std::string path = daemon_->data() + "/checked";
  const std::string wrong(64, 'a');
  CommandResult result =
      Durablectl({"write", "--sha256=" + wrong, path}, "content");
  EXPECT_EQ(result.exit_code, 9);
  EXPECT_THAT(result.err, HasSubstr("DATA_LOSS"));
  EXPECT_FALSE(PathExists(path));
  // sha256("content")
  result = Durablectl(
      {"write",
       "--sha256="
       "ed7002b439e9ac845f22357d822bac1444730fbdb6016d3ec9432297b9ec9f73",
       path},
      "content");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(Durablectl({"write", "--sha256=xyz", path}, "c").exit_code, 2);
}

TEST_F(DurablectlTest, LargeInputIsStreamedFromPipeAndFile) {
  // Over the 4 MiB threshold: from a pipe (size unknown) and from a file.
  std::string content;
  for (int i = 0; content.size() < (9 << 20); ++i) {
    absl::StrAppend(&content, "line ", i, "\n");
  }
  const std::string piped = daemon_->data() + "/piped";
  CommandResult result = Durablectl({"write", "--no-progress", piped}, content);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(*ReadFile(piped), content);
  EXPECT_THAT(daemon_->Log(), HasSubstr("audit op=write_stream"));

  const std::string source = daemon_->outside() + "/big";
  WriteFileOrDie(source, content);
  const std::string from_file = daemon_->data() + "/from_file";
  result = Durablectl({"write", "--from=" + source, from_file});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(*ReadFile(from_file), content);
  // Not a terminal: no progress line.
  EXPECT_THAT(result.err, IsEmpty());
}

TEST_F(DurablectlTest, WhoAmIListsWhereICanWrite) {
  CommandResult result = Durablectl({"whoami"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr(absl::StrCat("uid ", getuid())));
  EXPECT_THAT(result.out, HasSubstr("may write under " + daemon_->data()));
  EXPECT_THAT(result.out, HasSubstr("directory mode 0755)"));
  EXPECT_THAT(result.out, testing::Not(HasSubstr("/nobody")));
}

// The output of a --json command, parsed by protobuf's JSON parser (which
// refuses anything that is not JSON).
google::protobuf::Struct ParseJson(const std::string& text) {
  google::protobuf::Struct parsed;
  const auto status =
      google::protobuf::util::JsonStringToMessage(text, &parsed);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in: " << text;
  return parsed;
}

double NumberField(const google::protobuf::Struct& object,
                   const std::string& key) {
  auto field = object.fields().find(key);
  return field == object.fields().end() ? -1 : field->second.number_value();
}

std::string StringField(const google::protobuf::Struct& object,
                        const std::string& key) {
  auto field = object.fields().find(key);
  return field == object.fields().end() ? "<missing>"
                                        : field->second.string_value();
}

TEST_F(DurablectlTest, RelativePathsResolveAgainstTheWorkingDirectory) {
  const std::string sub = daemon_->data() + "/sub";
  ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
  CommandResult plain =
      DurablectlIn(daemon_->data(), {"write", "plain.txt"}, "p");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  // What was sent (and is printed) is the absolute path.
  EXPECT_THAT(plain.out,
              HasSubstr(daemon_->data() + "/plain.txt: 1 bytes created"));
  EXPECT_EQ(*ReadFile(daemon_->data() + "/plain.txt"), "p");

  CommandResult dotted = DurablectlIn(sub, {"write", "./here.txt"}, "h");
  ASSERT_EQ(dotted.exit_code, 0) << dotted.err;
  EXPECT_EQ(*ReadFile(sub + "/here.txt"), "h");
  CommandResult up = DurablectlIn(sub, {"write", "../up.txt"}, "u");
  ASSERT_EQ(up.exit_code, 0) << up.err;
  EXPECT_EQ(*ReadFile(daemon_->data() + "/up.txt"), "u");

  // stat and rm resolve the same way.
  CommandResult stat = DurablectlIn(sub, {"stat", "../up.txt"});
  EXPECT_EQ(stat.exit_code, 0) << stat.err;
  EXPECT_THAT(stat.out, HasSubstr("size:  1"));
  EXPECT_EQ(DurablectlIn(sub, {"rm", "here.txt"}).exit_code, 0);
  EXPECT_FALSE(PathExists(sub + "/here.txt"));

  // Out of every root through "..": denied, nothing written there.
  CommandResult out_of_root =
      DurablectlIn(daemon_->data(), {"write", "../outside/x"}, "x");
  EXPECT_EQ(out_of_root.exit_code, 3) << out_of_root.err;
  EXPECT_THAT(ListDirectory(daemon_->outside()), IsEmpty());
  // A ".." below the working directory is sent as it is, and refused.
  CommandResult inner =
      DurablectlIn(daemon_->data(), {"write", "sub/../x"}, "x");
  EXPECT_EQ(inner.exit_code, 6) << inner.err;
  EXPECT_FALSE(PathExists(daemon_->data() + "/x"));
}

TEST_F(DurablectlTest, StatJsonIsJsonWithTheFileStatus) {
  const std::string path = daemon_->data() + "/quote\"d caf\xc3\xa9 \\ name";
  CommandResult written = Durablectl({"write", "--mode=0600", path}, "four");
  ASSERT_EQ(written.exit_code, 0) << written.err;
  CommandResult stat = Durablectl({"stat", "--json", path});
  ASSERT_EQ(stat.exit_code, 0) << stat.err;
  google::protobuf::Struct json = ParseJson(stat.out);
  EXPECT_EQ(StringField(json, "path"), path);
  EXPECT_EQ(NumberField(json, "size"), 4);
  EXPECT_EQ(NumberField(json, "mode"), 0600);
  EXPECT_EQ(NumberField(json, "uid"), getuid());
  EXPECT_GT(NumberField(json, "mtime_ns"), 0);
  EXPECT_THAT(StringField(json, "etag"), testing::MatchesRegex("[0-9a-f]{16}"));
  EXPECT_THAT(written.out, HasSubstr(StringField(json, "etag")));
  // Errors stay on stderr with the usual exit code.
  CommandResult missing =
      Durablectl({"stat", "--json", daemon_->data() + "/none"});
  EXPECT_EQ(missing.exit_code, 4);
  EXPECT_THAT(missing.out, IsEmpty());
  EXPECT_EQ(Durablectl({"stat", "--json=yes", path}).exit_code, 2);
}

TEST_F(DurablectlTest, PathThatIsNotUtf8IsRefusedByName) {
  // proto3 strings must be UTF-8: the client says so instead of sending.
  const std::string path = daemon_->data() + "/latin1-\xe9";
  CommandResult result = Durablectl({"write", path}, "x");
  EXPECT_EQ(result.exit_code, 6) << result.err;
  EXPECT_THAT(result.err, HasSubstr("not valid UTF-8"));
  EXPECT_THAT(result.err, HasSubstr("latin1-\\xe9"));
  EXPECT_THAT(ListDirectory(daemon_->data()), IsEmpty());
  EXPECT_EQ(Durablectl({"stat", path}).exit_code, 6);
  EXPECT_EQ(Durablectl({"rm", path}).exit_code, 6);
}

TEST_F(DurablectlTest, WhoAmIJsonListsTheGrants) {
  CommandResult result = Durablectl({"whoami", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  google::protobuf::Struct json = ParseJson(result.out);
  EXPECT_EQ(NumberField(json, "uid"), getuid());
  EXPECT_EQ(NumberField(json, "gid"), getgid());
  ASSERT_TRUE(json.fields().contains("grants"));
  const auto& grants = json.fields().at("grants").list_value();
  ASSERT_EQ(grants.values_size(), 1);
  const google::protobuf::Struct& grant = grants.values(0).struct_value();
  EXPECT_EQ(StringField(grant, "root"), daemon_->data());
  EXPECT_EQ(NumberField(grant, "directory_mode"), 0755);
  EXPECT_TRUE(grant.fields().at("allow_overwrite").bool_value());
  EXPECT_TRUE(json.fields().contains("denied_roots"));
  EXPECT_TRUE(json.fields().contains("groups"));
}

TEST_F(DurablectlTest, CallerThatNoRuleAllowsIsTurnedAwayAtAccept) {
  SkipUnlessRoot();
  if (IsSkipped()) return;
  const std::string path = daemon_->data() + "/intruder";
  CommandResult result = Durablectl({"write", path}, "x", kUnlistedUid);
  EXPECT_EQ(result.exit_code, 7) << result.err;
  EXPECT_THAT(result.err, HasSubstr("does a rule allow your uid"));
  EXPECT_FALSE(PathExists(path));
  EXPECT_THAT(daemon_->Log(),
              HasSubstr(absl::StrCat("connection refused: no rule allows uid ",
                                     kUnlistedUid)));
  EXPECT_THAT(daemon_->Log(),
              testing::Not(HasSubstr("audit op=write uid=65533")));
}

TEST_F(DurablectlTest, OtherUidWritesOnlyItsOwnRoot) {
  SkipUnlessRoot();
  if (IsSkipped()) return;
  // Its own root: allowed, and the daemon saw uid 65534 (SO_PEERCRED).
  const std::string own = daemon_->base() + "/nobody/state";
  CommandResult result = Durablectl({"write", own}, "mine", kNobody);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(*ReadFile(own), "mine");
  EXPECT_THAT(daemon_->Log(),
              HasSubstr(absl::StrCat("audit op=write uid=", kNobody,
                                     " gid=", kNobody)));

  CommandResult whoami = Durablectl({"whoami"}, "", kNobody);
  EXPECT_EQ(whoami.exit_code, 0) << whoami.err;
  EXPECT_THAT(whoami.out, HasSubstr("uid 65534, gid 65534"));
  EXPECT_THAT(whoami.out,
              HasSubstr("may write under " + daemon_->base() + "/nobody"));

  // The test user's root: denied, naming the uid.
  const std::string theirs = daemon_->data() + "/state";
  result = Durablectl({"write", theirs}, "not mine", kNobody);
  EXPECT_EQ(result.exit_code, 3) << result.err;
  EXPECT_THAT(result.err, HasSubstr("uid 65534"));
  EXPECT_FALSE(PathExists(theirs));
}

}  // namespace
}  // namespace durable::test
