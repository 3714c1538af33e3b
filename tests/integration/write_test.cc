// End-to-end tests of Write: the real durabled on a private socket, called
// through the C++ client library.
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/engine/sha256.h"
#include "tests/support/test_daemon.h"

namespace durable::test {
namespace {

using testing::HasSubstr;
using testing::IsEmpty;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

class WriteTest : public testing::Test {
 protected:
  void StartDaemon(const std::string& config = TestDaemon::kDefaultConfig) {
    auto daemon = TestDaemon::Start(config);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    client_ = daemon_->NewClient();
  }
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartDaemon()); }

  std::unique_ptr<TestDaemon> daemon_;
  std::unique_ptr<Client> client_;
};

TEST_F(WriteTest, CreatesFileWithExactContent) {
  const std::string path = daemon_->data() + "/state.json";
  auto result = client_->Write(path, "{\"v\":1}");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->created);
  EXPECT_EQ(result->size, 7u);
  EXPECT_EQ(result->sha256, Sha256::Of("{\"v\":1}"));
  EXPECT_EQ(result->etag.size(), 16u);
  EXPECT_EQ(*ReadFile(path), "{\"v\":1}");
  EXPECT_EQ(ListDirectory(daemon_->data()),
            std::vector<std::string>{"state.json"});
}

static_assert(std::is_nothrow_move_constructible_v<Client>);
static_assert(std::is_nothrow_move_assignable_v<Client>);

TEST_F(WriteTest, MovedClientKeepsWorkingAndMovedFromOneFailsCleanly) {
  const std::string path = daemon_->data() + "/moved";
  ASSERT_TRUE(client_->Write(path, "before").ok());

  // Move construction: the new Client has the connection and the options.
  Client moved_to(std::move(*client_));
  EXPECT_EQ(moved_to.options().socket_path, daemon_->socket_path());
  auto written = moved_to.Write(path, "after move");
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*ReadFile(path), "after move");
  auto stat = moved_to.Stat(path);
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_EQ(stat->etag, written->etag);

  // The moved-from Client fails every call without touching anything.
  auto refused = client_->Write(path, "from the moved-from client");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition)
      << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("moved from"));
  EXPECT_EQ(client_->Stat(path).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(client_->Remove(path).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(client_->WhoAmI().status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(client_->GetStats().status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*ReadFile(path), "after move");

  // Move assignment, back into the moved-from Client: usable again.
  *client_ = std::move(moved_to);
  auto again = client_->Write(path, "after move assignment");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->created);
  EXPECT_EQ(*ReadFile(path), "after move assignment");
  EXPECT_EQ(moved_to.WhoAmI().status().code(),
            absl::StatusCode::kFailedPrecondition);

  // Assigning a fresh Client over one that holds a connection.
  Client other = std::move(*daemon_->NewClient());
  *client_ = std::move(other);
  auto caller = client_->WhoAmI();
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->uid, getuid());
}

TEST_F(WriteTest, OverwriteReplacesContentAndChangesEtag) {
  const std::string path = daemon_->data() + "/state.json";
  auto first = client_->Write(path, std::string(100000, 'a'));
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = client_->Write(path, "short");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->created);
  EXPECT_NE(first->etag, second->etag);
  EXPECT_EQ(*ReadFile(path), "short");
  EXPECT_EQ(ListDirectory(daemon_->data()),
            std::vector<std::string>{"state.json"});
}

TEST_F(WriteTest, EmptyContentIsAValidFile) {
  const std::string path = daemon_->data() + "/empty";
  auto result = client_->Write(path, "");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*ReadFile(path), "");
}

TEST_F(WriteTest, IfAbsentSecondWriteIsAlreadyExists) {
  const std::string path = daemon_->data() + "/once";
  WriteOptions create_only;
  create_only.if_absent = true;
  ASSERT_TRUE(client_->Write(path, "first", create_only).ok());
  auto second = client_->Write(path, "second", create_only);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(path));
  EXPECT_EQ(*ReadFile(path), "first");
  EXPECT_EQ(ListDirectory(daemon_->data()), std::vector<std::string>{"once"});
}

TEST_F(WriteTest, ModeOfCreatedFilesFollowsRuleAndRequest) {
  daemon_.reset();
  ASSERT_NO_FATAL_FAILURE(StartDaemon(
      "socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
      "rule { root: \"{base}/data\" allow_uid: {uid} create_mode: 0640 "
      "max_mode: 0664 }\n"));
  const std::string by_rule = daemon_->data() + "/by_rule";
  ASSERT_TRUE(client_->Write(by_rule, "x").ok());
  EXPECT_EQ(ModeOf(by_rule), 0640u);

  WriteOptions requested;
  requested.mode = 0600;
  const std::string by_request = daemon_->data() + "/by_request";
  ASSERT_TRUE(client_->Write(by_request, "x", requested).ok());
  EXPECT_EQ(ModeOf(by_request), 0600u);

  requested.mode = 0777;  // capped by max_mode
  const std::string capped = daemon_->data() + "/capped";
  ASSERT_TRUE(client_->Write(capped, "x", requested).ok());
  EXPECT_EQ(ModeOf(capped), 0664u);

  // A replacement keeps the mode of the file it replaces.
  ASSERT_EQ(chmod(by_rule.c_str(), 0604), 0);
  ASSERT_TRUE(client_->Write(by_rule, "y").ok());
  EXPECT_EQ(ModeOf(by_rule), 0604u);
}

TEST_F(WriteTest, ModeOutsidePermissionBitsIsInvalid) {
  WriteOptions options;
  options.mode = 010644;
  auto result = client_->Write(daemon_->data() + "/f", "x", options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ListDirectory(daemon_->data()), IsEmpty());
}

TEST_F(WriteTest, RootOfAnotherUidIsPermissionDenied) {
  daemon_.reset();
  ASSERT_NO_FATAL_FAILURE(
      StartDaemon("socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
                  "rule { root: \"{base}/data\" allow_uid: {uid} }\n"
                  "rule { root: \"{base}/outside\" allow_uid: 4242 }\n"));
  const std::string path = daemon_->outside() + "/secret";
  auto result = client_->Write(path, "x");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr(path));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("not allowed"));
  EXPECT_FALSE(PathExists(path));
  // The root listing this uid still works.
  EXPECT_TRUE(client_->Write(daemon_->data() + "/open", "x").ok());
}

TEST_F(WriteTest, PathOutsideEveryRootIsPermissionDenied) {
  for (const std::string& path :
       {daemon_->outside() + "/x", daemon_->base() + "/data2",
        daemon_->base() + "/datax/y", std::string("/etc/durabled-test-x")}) {
    SCOPED_TRACE(path);
    auto result = client_->Write(path, "x");
    EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(std::string(result.status().message()),
                HasSubstr("outside every root"));
    EXPECT_FALSE(PathExists(path));
  }
  EXPECT_THAT(ListDirectory(daemon_->outside()), IsEmpty());
}

TEST_F(WriteTest, RootItselfIsNotAFile) {
  auto result = client_->Write(daemon_->data(), "x");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(WriteTest, LexicallyBadPathsAreInvalidArgument) {
  const std::string d = daemon_->data();
  const std::vector<std::string> bad = {
      "",
      "data/relative",
      d + "/../outside/x",
      d + "/sub/../x",
      d + "/..",
      d + "/./x",
      d + "/.",
      d + "//x",
      d + "/x/",
      d + "/x" + std::string(1, '\0') + "y",
      d + "/x\ny",
      d + "/" + std::string(NAME_MAX + 1, 'n'),
      d + "/" + std::string(PATH_MAX, 'p'),
  };
  for (const std::string& path : bad) {
    SCOPED_TRACE(path);
    auto result = client_->Write(path, "x");
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
        << result.status();
  }
  EXPECT_THAT(ListDirectory(d), IsEmpty());
  EXPECT_THAT(ListDirectory(daemon_->outside()), IsEmpty());
}

TEST_F(WriteTest, LongestLegalNameIsAccepted) {
  const std::string path = daemon_->data() + "/" + std::string(NAME_MAX, 'n');
  EXPECT_TRUE(client_->Write(path, "x").ok());
  EXPECT_EQ(*ReadFile(path), "x");
}

TEST_F(WriteTest, SymlinkedParentPointingOutsideIsRefused) {
  // Absolute and relative symlinks, as the direct parent and deeper.
  ASSERT_EQ(
      symlink(daemon_->outside().c_str(), (daemon_->data() + "/abs").c_str()),
      0);
  ASSERT_EQ(symlink("../outside", (daemon_->data() + "/rel").c_str()), 0);
  ASSERT_EQ(mkdir((daemon_->outside() + "/deep").c_str(), 0755), 0);
  for (const std::string& path :
       {daemon_->data() + "/abs/x", daemon_->data() + "/rel/x",
        daemon_->data() + "/abs/deep/x", daemon_->data() + "/rel/deep/x"}) {
    SCOPED_TRACE(path);
    auto result = client_->Write(path, "escaped");
    EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(std::string(result.status().message()),
                HasSubstr("symbolic link"));
  }
  EXPECT_EQ(ListDirectory(daemon_->outside()),
            std::vector<std::string>{"deep"});
  EXPECT_THAT(ListDirectory(daemon_->outside() + "/deep"), IsEmpty());
}

TEST_F(WriteTest, SymlinkAtTargetIsNotFollowed) {
  const std::string victim = daemon_->outside() + "/victim";
  WriteFileOrDie(victim, "precious");
  const std::string link = daemon_->data() + "/link";
  ASSERT_EQ(symlink(victim.c_str(), link.c_str()), 0);
  auto result = client_->Write(link, "overwritten?");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*ReadFile(victim), "precious");
}

TEST_F(WriteTest, DirectoryAtTargetIsRefused) {
  ASSERT_EQ(mkdir((daemon_->data() + "/dir").c_str(), 0755), 0);
  auto result = client_->Write(daemon_->data() + "/dir", "x");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("directory"));
}

TEST_F(WriteTest, MissingParentIsNotFound) {
  const std::string path = daemon_->data() + "/no/such/dir/f";
  auto result = client_->Write(path, "x");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("parent directory"));
}

TEST_F(WriteTest, ContentOverRuleLimitIsResourceExhausted) {
  daemon_.reset();
  ASSERT_NO_FATAL_FAILURE(StartDaemon(
      "socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
      "rule { root: \"{base}/data\" allow_uid: {uid} max_file_size: 1024 }\n"));
  const std::string path = daemon_->data() + "/big";
  EXPECT_TRUE(client_->Write(path, std::string(1024, 'a')).ok());
  auto result = client_->Write(path, std::string(1025, 'b'));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("1024"));
  EXPECT_EQ(*ReadFile(path), std::string(1024, 'a'));
}

TEST_F(WriteTest, HardLinkAtTargetKeepsOutsideFileIntact) {
  const std::string outside_file = daemon_->outside() + "/linked";
  WriteFileOrDie(outside_file, "outside content");
  const std::string target = daemon_->data() + "/hardlink";
  ASSERT_EQ(link(outside_file.c_str(), target.c_str()), 0);
  ASSERT_TRUE(client_->Write(target, "new content").ok());
  EXPECT_EQ(*ReadFile(target), "new content");
  EXPECT_EQ(*ReadFile(outside_file), "outside content");
}

TEST_F(WriteTest, SixteenConcurrentWritersOfOneFile) {
  const std::string path = daemon_->data() + "/contended";
  constexpr int kWriters = 16;
  std::vector<std::string> contents;
  for (int i = 0; i < kWriters; ++i) {
    contents.push_back(std::string(256 * 1024 + i, static_cast<char>('A' + i)));
  }
  std::vector<absl::Status> results(kWriters);
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      auto client = daemon_->NewClient();  // own connection per writer
      for (int round = 0; round < 4; ++round) {
        auto result = client->Write(path, contents[i]);
        if (!result.ok()) {
          results[i] = result.status();
          return;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kWriters; ++i) {
    EXPECT_TRUE(results[i].ok()) << "writer " << i << ": " << results[i];
  }
  absl::StatusOr<std::string> final_content = ReadFile(path);
  ASSERT_TRUE(final_content.ok());
  int matches = 0;
  for (const std::string& content : contents) {
    if (*final_content == content) ++matches;
  }
  EXPECT_EQ(matches, 1) << "final size " << final_content->size();
  EXPECT_EQ(ListDirectory(daemon_->data()),
            std::vector<std::string>{"contended"});
}

TEST_F(WriteTest, EveryWriteIsAudited) {
  ASSERT_TRUE(client_->Write(daemon_->data() + "/audited", "12345").ok());
  (void)client_->Write(daemon_->outside() + "/denied", "x");
  const std::string log = daemon_->Log();
  EXPECT_THAT(log, HasSubstr(absl::StrCat("audit op=write uid=", getuid())));
  EXPECT_THAT(log, HasSubstr("/audited\" bytes=5 result=OK"));
  EXPECT_THAT(log, HasSubstr("/denied\" bytes=1 result=PERMISSION_DENIED"));
}

TEST_F(WriteTest, SocketHasConfiguredMode) {
  struct stat st;
  ASSERT_EQ(lstat(daemon_->socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0666u);
  // No staging name is left beside it.
  for (const std::string& name : ListDirectory(daemon_->base())) {
    EXPECT_THAT(name, testing::Not(HasSubstr(".binding")));
  }
}

}  // namespace
}  // namespace durable::test
