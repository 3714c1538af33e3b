// WriteSet against a real daemon over its socket: the set as a whole, and
// attacks through one member. A member that escapes (a symlink on the way
// or as the target, a '..'), lies under a root the caller may not write,
// or breaks a limit refuses the whole set: no member is published, no
// directory is made, no temp file or commit record stays.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "durable/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/engine/set_record.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_daemon.h"

namespace durable::test {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kConfig[] =
    "socket { path: \"{base}/durabled.sock\" mode: 0600 }\n"
    "limits { max_set_members: 4 max_set_bytes: 1000 }\n"
    "rule { name: \"d\" root: \"{base}/data\" allow_uid: {uid}\n"
    "       allow_create_parents: true }\n"
    "rule { root: \"{base}/data/denied\" allow_uid: 65533 }\n"
    "rule { name: \"two\" root: \"{base}/second\" allow_uid: {uid} }\n"
    "rule { name: \"ro\" root: \"{base}/createonly\" allow_uid: {uid}\n"
    "       allow_overwrite: false }\n";

WriteOptions IfMatch(const std::string& etag) {
  WriteOptions options;
  options.if_match = etag;
  return options;
}

WriteOptions WithParents() {
  WriteOptions options;
  options.create_parents = true;
  return options;
}

class SetAttackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestDaemonOptions options;
    options.config = kConfig;
    options.extra_dirs = {"data/denied", "second", "createonly"};
    absl::StatusOr<std::unique_ptr<TestDaemon>> daemon =
        TestDaemon::Start(options);
    ASSERT_THAT(daemon, IsOk());
    daemon_ = *std::move(daemon);
    client_ = daemon_->NewClient();
    Plant("data/old", "old");
    Plant("outside/victim", "victim");
  }

  std::string Data(const std::string& relative) const {
    return daemon_->Path(absl::StrCat("data/", relative));
  }
  void Plant(const std::string& relative, const std::string& content) {
    ASSERT_TRUE(WriteFileForTest(daemon_->Path(relative), content));
  }
  static bool WriteFileForTest(const std::string& path,
                               const std::string& content) {
    FILE* file = fopen(path.c_str(), "w");
    if (file == nullptr) return false;
    const bool ok =
        fwrite(content.data(), 1, content.size(), file) == content.size();
    return fclose(file) == 0 && ok;
  }
  std::optional<std::string> Read(const std::string& relative) const {
    FILE* file = fopen(daemon_->Path(relative).c_str(), "r");
    if (file == nullptr) return std::nullopt;
    std::string content;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, file)) > 0) {
      content.append(buffer, n);
    }
    fclose(file);
    return content;
  }
  bool Exists(const std::string& relative) const {
    struct stat st;
    return lstat(daemon_->Path(relative).c_str(), &st) == 0;
  }
  // Nothing of the daemon's own is left anywhere in the scratch tree.
  std::vector<std::string> Leftovers() const {
    std::vector<std::string> found;
    for (const char* dir : {"data", "data/.durabled-sets", "data/sub",
                            "data/denied", "second", "createonly"}) {
      for (const std::string& name : ListDirectory(daemon_->Path(dir))) {
        if (absl::StartsWith(name, ".durabled-") && name != ".durabled-sets") {
          found.push_back(absl::StrCat(dir, "/", name));
        }
      }
    }
    return found;
  }
  // The untouched state every refused set must leave.
  void ExpectNothingChanged() {
    EXPECT_EQ(Read("data/old"), "old");
    EXPECT_FALSE(Exists("data/new"));
    EXPECT_EQ(Read("outside/victim"), "victim");
    EXPECT_THAT(Leftovers(), IsEmpty());
  }

  std::unique_ptr<TestDaemon> daemon_;
  std::unique_ptr<Client> client_;
};

TEST_F(SetAttackTest, WholeSetPublishesEveryMember) {
  Plant("data/gone", "to be removed");
  WriteSetBuilder set;
  set.Write(Data("new"), "fresh")
      .Write(Data("old"), "replaced")
      .Remove(Data("gone"));
  absl::StatusOr<std::vector<SetMemberResult>> results = client_->WriteSet(set);
  ASSERT_THAT(results, IsOk());
  ASSERT_EQ(results->size(), 3u);
  EXPECT_EQ(Read("data/new"), "fresh");
  EXPECT_EQ(Read("data/old"), "replaced");
  EXPECT_FALSE(Exists("data/gone"));
  EXPECT_TRUE((*results)[0].created);
  EXPECT_FALSE((*results)[1].created);
  EXPECT_TRUE((*results)[2].removed);
  // The answer's etags are the published versions'.
  absl::StatusOr<FileStatus> now = client_->Stat(Data("old"));
  ASSERT_THAT(now, IsOk());
  EXPECT_EQ((*results)[1].etag, now->etag);
  EXPECT_THAT(Leftovers(), IsEmpty());
  // One audit record names every member.
  EXPECT_TRUE(daemon_->WaitForLog("op=write_set"));
  const std::string log = daemon_->Log();
  EXPECT_THAT(log, HasSubstr("members=3"));
  EXPECT_THAT(log, HasSubstr(Data("gone")));
}

TEST_F(SetAttackTest, FailedPreconditionOfOneMemberPublishesNothing) {
  WriteSetBuilder set;
  set.Write(Data("new"), "fresh")
      .Write(Data("old"), "replaced", IfMatch("0123abcd"));
  absl::StatusOr<std::vector<SetMemberResult>> results = client_->WriteSet(set);
  EXPECT_EQ(results.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(results.status().message(), HasSubstr(Data("old")));
  ExpectNothingChanged();
}

TEST_F(SetAttackTest, MemberThroughSymlinkedParentDeniesTheSet) {
  ASSERT_EQ(symlink(daemon_->outside().c_str(), Data("link").c_str()), 0);
  WriteSetBuilder set;
  set.Write(Data("new"), "fresh").Write(Data("link/victim"), "pwned");
  absl::StatusOr<std::vector<SetMemberResult>> results = client_->WriteSet(set);
  EXPECT_EQ(results.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(results.status().message(), HasSubstr("link/victim"));
  ExpectNothingChanged();
}

TEST_F(SetAttackTest, MemberThatIsASymlinkDeniesTheSet) {
  ASSERT_EQ(symlink(daemon_->Path("outside/victim").c_str(),
                    Data("victimlink").c_str()),
            0);
  WriteSetBuilder set;
  set.Write(Data("new"), "fresh").Write(Data("victimlink"), "pwned");
  absl::StatusOr<std::vector<SetMemberResult>> results = client_->WriteSet(set);
  EXPECT_EQ(results.status().code(), absl::StatusCode::kFailedPrecondition);
  ExpectNothingChanged();
  // A remove member through the symlink removes neither it nor its target.
  WriteSetBuilder removal;
  removal.Write(Data("new"), "fresh").Remove(Data("victimlink"));
  results = client_->WriteSet(removal);
  EXPECT_FALSE(results.ok());
  ExpectNothingChanged();
  struct stat st;
  EXPECT_EQ(lstat(Data("victimlink").c_str(), &st), 0);
}

TEST_F(SetAttackTest, DotDotMemberIsRefused) {
  WriteSetBuilder set;
  set.Write(Data("new"), "fresh").Write(Data("../outside/victim"), "pwned");
  absl::StatusOr<std::vector<SetMemberResult>> results = client_->WriteSet(set);
  EXPECT_EQ(results.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(results.status().message(), HasSubstr(".."));
  ExpectNothingChanged();
}

TEST_F(SetAttackTest, MemberUnderDeniedRootDeniesTheWholeSet) {
  // The first member would create data/sub: the refusal comes first, so
  // not even the directory is made.
  WriteSetBuilder set;
  set.Write(Data("sub/new"), "fresh", WithParents())
      .Write(Data("old"), "replaced")
      .Write(Data("denied/x"), "not yours");
  absl::StatusOr<std::vector<SetMemberResult>> results = client_->WriteSet(set);
  EXPECT_EQ(results.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(results.status().message(), HasSubstr("denied/x"));
  ExpectNothingChanged();
  EXPECT_FALSE(Exists("data/sub"));
  EXPECT_FALSE(Exists("data/denied/x"));
}

TEST_F(SetAttackTest, MembersUnderTwoRootsAreRefused) {
  WriteSetBuilder set;
  set.Write(Data("new"), "fresh").Write(daemon_->Path("second/x"), "elsewhere");
  absl::StatusOr<std::vector<SetMemberResult>> results = client_->WriteSet(set);
  EXPECT_EQ(results.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(results.status().message(), HasSubstr("one root"));
  ExpectNothingChanged();
  EXPECT_FALSE(Exists("second/x"));
}

TEST_F(SetAttackTest, TooManyMembersAreRefused) {
  WriteSetBuilder set;
  for (int i = 0; i < 5; ++i) set.Write(Data(absl::StrCat("m", i)), "x");
  absl::StatusOr<std::vector<SetMemberResult>> results = client_->WriteSet(set);
  EXPECT_EQ(results.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(results.status().message(), HasSubstr("max_set_members"));
  EXPECT_FALSE(Exists("data/m0"));
  ExpectNothingChanged();
}

TEST_F(SetAttackTest, TooMuchContentIsRefusedBeforeStaging) {
  WriteSetBuilder set;
  set.Write(Data("new"), std::string(600, 'a'))
      .Write(Data("old"), std::string(600, 'b'));
  absl::StatusOr<std::vector<SetMemberResult>> results = client_->WriteSet(set);
  EXPECT_EQ(results.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(results.status().message(), HasSubstr("max_set_bytes"));
  ExpectNothingChanged();
}

TEST_F(SetAttackTest, DuplicateMemberIsRefused) {
  WriteSetBuilder set;
  set.Write(Data("old"), "one").Write(Data("old"), "two");
  absl::StatusOr<std::vector<SetMemberResult>> results = client_->WriteSet(set);
  EXPECT_EQ(results.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(results.status().message(), HasSubstr("twice"));
  ExpectNothingChanged();
  // The same file under two spellings (host path and root name).
  WriteSetBuilder aliased;
  aliased.Write(Data("old"), "one").Remove("d:old");
  results = client_->WriteSet(aliased);
  EXPECT_EQ(results.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(results.status().message(), HasSubstr("same file"));
  ExpectNothingChanged();
}

TEST_F(SetAttackTest, EmptySetAndRemoveWhereOverwriteIsDenied) {
  absl::StatusOr<std::vector<SetMemberResult>> results =
      client_->WriteSet(WriteSetBuilder());
  EXPECT_EQ(results.status().code(), absl::StatusCode::kInvalidArgument);
  Plant("createonly/keep", "kept");
  WriteSetBuilder set;
  set.Write(daemon_->Path("createonly/new"), "x")
      .Remove(daemon_->Path("createonly/keep"));
  results = client_->WriteSet(set);
  EXPECT_EQ(results.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Read("createonly/keep"), "kept");
  EXPECT_FALSE(Exists("createonly/new"));
  ExpectNothingChanged();
}

// A commit record planted by someone who may write the root directly: in a
// set directory that is not the daemon's own it is ignored; in the
// daemon's own (as if it got there) a member reaching outside its
// directory is refused. Either way nothing moves at the next start.
class ForgedRecordTest : public SetAttackTest {
 protected:
  // A record that, if obeyed, renames a planted temp file over data/old.
  std::string PlantForgery(const std::string& leaf) {
    const std::string temp = ".durabled-tmp.0123456789abcdef";
    EXPECT_TRUE(WriteFileForTest(Data(temp), "forged"));
    struct stat st;
    EXPECT_EQ(stat(Data(temp).c_str(), &st), 0);
    absl::StatusOr<FileStatus> old = client_->Stat(Data("old"));
    EXPECT_THAT(old, IsOk());
    SetRecord record;
    SetRecord::Member member;
    member.directory = ".";
    member.leaf = leaf;
    member.temp = temp;
    member.temp_inode = st.st_ino;
    member.expected_etag = old.ok() ? old->etag : "";
    record.members.push_back(member);
    const std::string name = ".durabled-set.00112233445566ff";
    EXPECT_TRUE(WriteFileForTest(Data(absl::StrCat(".durabled-sets/", name)),
                                 EncodeSetRecord(record)));
    return name;
  }
  void RestartDaemon() {
    EXPECT_EQ(daemon_->StopWith(SIGTERM), 0);
    ASSERT_THAT(daemon_->Restart(), IsOk());
    client_ = daemon_->NewClient();
  }
};

TEST_F(ForgedRecordTest, RecordInAForeignSetDirectoryIsIgnored) {
  ASSERT_EQ(mkdir(Data(".durabled-sets").c_str(), 0755), 0);
  ASSERT_EQ(chown(Data(".durabled-sets").c_str(), 65534, 65534), 0);
  PlantForgery("old");
  RestartDaemon();
  EXPECT_EQ(Read("data/old"), "old");
  EXPECT_THAT(daemon_->Log(), HasSubstr("ignoring"));
  // And the daemon will not write its own records there either.
  WriteSetBuilder set;
  set.Write(Data("new"), "fresh").Write(Data("old"), "replaced");
  absl::StatusOr<std::vector<SetMemberResult>> results = client_->WriteSet(set);
  EXPECT_EQ(results.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(results.status().message(), HasSubstr("not the daemon's own"));
  EXPECT_EQ(Read("data/old"), "old");
  EXPECT_FALSE(Exists("data/new"));
}

TEST_F(ForgedRecordTest, MemberOutsideItsDirectoryIsRefused) {
  ASSERT_EQ(mkdir(Data(".durabled-sets").c_str(), 0700), 0);
  const std::string name = PlantForgery("../outside/victim");
  RestartDaemon();
  EXPECT_EQ(Read("outside/victim"), "victim");
  EXPECT_EQ(Read("data/old"), "old");
  EXPECT_FALSE(Exists(absl::StrCat("data/.durabled-sets/", name)));
  EXPECT_THAT(daemon_->Log(), HasSubstr("unsafe leaf"));
  EXPECT_THAT(Leftovers(), IsEmpty());
}

TEST_F(SetAttackTest, SourceShorterThanAnnouncedPublishesNothing) {
  WriteSetBuilder set;
  set.Write(Data("new"), "fresh")
      .WriteFrom(
          Data("old"),
          [](char*, size_t) -> absl::StatusOr<size_t> { return 0; }, 10);
  absl::StatusOr<std::vector<SetMemberResult>> results = client_->WriteSet(set);
  EXPECT_EQ(results.status().code(), absl::StatusCode::kInvalidArgument);
  ExpectNothingChanged();
}

}  // namespace
}  // namespace durable::test
