// End-to-end tests of versions and metadata over the real socket: Stat and
// etags, if_match, expected_sha256, mode and owner of created and replaced
// files, create_parents, Remove and WhoAmI.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/engine/sha256.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_daemon.h"

namespace durable::test {
namespace {

using testing::ElementsAre;
using testing::HasSubstr;
using testing::IsEmpty;

constexpr uid_t kNobody = 65534;
constexpr char kSocketLine[] =
    "socket { path: \"{base}/durabled.sock\" mode: 0666 }\n";

std::vector<std::string> TempFilesIn(const std::string& dir) {
  std::vector<std::string> temps;
  for (const std::string& name : ListDirectory(dir)) {
    if (absl::StartsWith(name, ".durabled-tmp.")) temps.push_back(name);
  }
  return temps;
}

struct stat LstatOf(const std::string& path) {
  struct stat st = {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st;
}

mode_t ModeOf(const std::string& path) { return LstatOf(path).st_mode & 07777; }

class VersionsTest : public testing::Test {
 protected:
  void StartDaemon(const std::string& config = TestDaemon::kDefaultConfig,
                   const std::vector<std::string>& extra_dirs = {}) {
    client_.reset();
    daemon_.reset();
    auto daemon = TestDaemon::Start(config, extra_dirs);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    client_ = daemon_->NewClient();
  }
  // A config of the socket line and one rule for data/ with `extra` fields.
  void StartWithDataRule(const std::string& extra) {
    StartDaemon(absl::StrCat(kSocketLine,
                             "rule { root: \"{base}/data\" allow_uid: {uid} ",
                             extra, " }\n"));
  }
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartDaemon()); }

  std::string Data(const std::string& relative) const {
    return daemon_->data() + "/" + relative;
  }

  std::unique_ptr<TestDaemon> daemon_;
  std::unique_ptr<Client> client_;
};

constexpr char kNeedsRoot[] = "needs root to give files to another uid";

// --- Stat -------------------------------------------------------------------

TEST_F(VersionsTest, StatDescribesTheFileAndRepeatsTheWriteEtag) {
  const std::string path = Data("state.json");
  WriteOptions options;
  options.mode = 0640;
  auto written = client_->Write(path, "{\"v\":1}", options);
  ASSERT_TRUE(written.ok()) << written.status();

  auto status = client_->Stat(path);
  ASSERT_TRUE(status.ok()) << status.status();
  const struct stat st = LstatOf(path);
  EXPECT_EQ(status->size, 7u);
  EXPECT_EQ(status->mode, 0640u);
  EXPECT_EQ(status->uid, st.st_uid);
  EXPECT_EQ(status->gid, st.st_gid);
  EXPECT_EQ(status->mtime_ns,
            int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec);
  EXPECT_GT(status->mtime_ns, 0);
  EXPECT_EQ(status->etag, written->etag);
  EXPECT_EQ(status->etag.size(), 16u);

  // A Stat is no write: asking again gives the same answer.
  auto again = client_->Stat(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->etag, written->etag);

  // After a replacement Stat follows the new version.
  auto replaced = client_->Write(path, "{\"v\":22}");
  ASSERT_TRUE(replaced.ok());
  auto after = client_->Stat(path);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->etag, replaced->etag);
  EXPECT_NE(after->etag, written->etag);
  EXPECT_EQ(after->size, 8u);
}

TEST_F(VersionsTest, EtagOfAFileTheDaemonCannotReadIsStable) {
  // A write-only file: an unprivileged daemon (as in development) cannot
  // open it for reading, yet Stat and if_match must see the etag Write gave.
  const std::string path = Data("write_only");
  WriteOptions options;
  options.mode = 0200;
  auto written = client_->Write(path, "secret", options);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(ModeOf(path), 0200u);
  auto status = client_->Stat(path);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->etag, written->etag);
  WriteOptions update;
  update.if_match = written->etag;
  auto replaced = client_->Write(path, "secret 2", update);
  EXPECT_TRUE(replaced.ok()) << replaced.status();
}

TEST_F(VersionsTest, StatOfMissingFileIsNotFound) {
  for (const std::string& path : {Data("missing"), Data("no/such/dir/f")}) {
    SCOPED_TRACE(path);
    auto status = client_->Stat(path);
    EXPECT_EQ(status.status().code(), absl::StatusCode::kNotFound)
        << status.status();
    EXPECT_THAT(std::string(status.status().message()), HasSubstr(path));
  }
}

TEST_F(VersionsTest, StatOfDirectoryIsFailedPrecondition) {
  ASSERT_EQ(mkdir(Data("dir").c_str(), 0755), 0);
  auto status = client_->Stat(Data("dir"));
  EXPECT_EQ(status.status().code(), absl::StatusCode::kFailedPrecondition)
      << status.status();
  EXPECT_THAT(std::string(status.status().message()), HasSubstr(Data("dir")));
}

TEST_F(VersionsTest, StatOutsideRootsIsPermissionDenied) {
  const std::string path = daemon_->outside() + "/file";
  WriteFileOrDie(path, "not yours");
  auto status = client_->Stat(path);
  EXPECT_EQ(status.status().code(), absl::StatusCode::kPermissionDenied)
      << status.status();
  EXPECT_THAT(std::string(status.status().message()), HasSubstr(path));
}

// --- if_match ---------------------------------------------------------------

TEST_F(VersionsTest, IfMatchWithTheCurrentEtagReplaces) {
  const std::string path = Data("state");
  auto first = client_->Write(path, "v1");
  ASSERT_TRUE(first.ok());
  WriteOptions options;
  options.if_match = first->etag;
  auto second = client_->Write(path, "v2", options);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->created);
  EXPECT_NE(second->etag, first->etag);
  EXPECT_EQ(*ReadFile(path), "v2");

  // An etag from Stat works as well.
  auto status = client_->Stat(path);
  ASSERT_TRUE(status.ok());
  options.if_match = status->etag;
  ASSERT_TRUE(client_->Write(path, "v3", options).ok());
  EXPECT_EQ(*ReadFile(path), "v3");
}

TEST_F(VersionsTest, IfMatchWithAStaleEtagIsAbortedAndChangesNothing) {
  const std::string path = Data("state");
  auto first = client_->Write(path, "v1");
  ASSERT_TRUE(first.ok());
  auto second = client_->Write(path, "v2");
  ASSERT_TRUE(second.ok());

  WriteOptions stale;
  stale.if_match = first->etag;
  auto result = client_->Write(path, "lost update", stale);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAborted)
      << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr(path));
  EXPECT_EQ(*ReadFile(path), "v2");

  // The same through a stream.
  std::string payload = "lost update";
  size_t offset = 0;
  ChunkSource source = [&](char* buffer,
                           size_t capacity) -> absl::StatusOr<size_t> {
    size_t n = std::min(capacity, payload.size() - offset);
    payload.copy(buffer, n, offset);
    offset += n;
    return n;
  };
  result = client_->WriteStream(path, source, payload.size(), stale);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAborted)
      << result.status();
  EXPECT_EQ(*ReadFile(path), "v2");

  auto status = client_->Stat(path);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->etag, second->etag);
  EXPECT_EQ(ListDirectory(daemon_->data()), std::vector<std::string>{"state"});
}

TEST_F(VersionsTest, IfMatchOnAMissingFileIsAborted) {
  const std::string path = Data("state");
  auto written = client_->Write(Data("other"), "x");
  ASSERT_TRUE(written.ok());
  WriteOptions options;
  options.if_match = written->etag;  // a well-formed etag, of another file
  auto result = client_->Write(path, "x", options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAborted)
      << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr(path));
  EXPECT_FALSE(PathExists(path));
  EXPECT_EQ(ListDirectory(daemon_->data()), std::vector<std::string>{"other"});
}

TEST_F(VersionsTest, IfAbsentTogetherWithIfMatchIsInvalidArgument) {
  const std::string path = Data("state");
  auto written = client_->Write(path, "v1");
  ASSERT_TRUE(written.ok());
  WriteOptions options;
  options.if_absent = true;
  options.if_match = written->etag;
  auto result = client_->Write(path, "v2", options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
      << result.status();
  EXPECT_EQ(*ReadFile(path), "v1");
  // Also for a file that does not exist yet.
  result = client_->Write(Data("fresh"), "v2", options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
      << result.status();
  EXPECT_FALSE(PathExists(Data("fresh")));
}

TEST_F(VersionsTest, BackToBackWritesAllGetDistinctEtags) {
  // Same content and size every time: only the new inode (number and
  // generation) and the modification time can tell the versions apart, and
  // on a filesystem with coarse timestamps many consecutive writes share
  // their mtime.
  const std::string path = Data("hot");
  std::set<std::string> seen;
  int shared_mtime = 0;
  int64_t previous_mtime = -1;
  for (int i = 0; i < 200; ++i) {
    for (int j = 0; j < 2; ++j) {
      auto result = client_->Write(path, "same content");
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_TRUE(seen.insert(result->etag).second)
          << "write " << (2 * i + j) << " repeated etag " << result->etag;
      const struct stat st = LstatOf(path);
      const int64_t mtime =
          int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
      if (mtime == previous_mtime) ++shared_mtime;
      previous_mtime = mtime;
    }
  }
  std::cout << shared_mtime
            << " of 400 writes had the same mtime as the write before\n";
  auto status = client_->Stat(path);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(seen.count(status->etag), 1u);
  EXPECT_EQ(ListDirectory(daemon_->data()), std::vector<std::string>{"hot"});
}

// --- expected_sha256 --------------------------------------------------------

TEST_F(VersionsTest, WrongExpectedSha256IsDataLossAndOldContentStays) {
  const std::string path = Data("state");
  ASSERT_TRUE(client_->Write(path, "old").ok());
  WriteOptions options;
  options.expected_sha256 = Sha256::Of("what the client meant");
  auto result = client_->Write(path, "what arrived", options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss)
      << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr(path));
  EXPECT_EQ(*ReadFile(path), "old");
  EXPECT_THAT(TempFilesIn(daemon_->data()), IsEmpty());
  // Nor is a new file created.
  result = client_->Write(Data("fresh"), "what arrived", options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ListDirectory(daemon_->data()), std::vector<std::string>{"state"});
}

TEST_F(VersionsTest, RightExpectedSha256IsAccepted) {
  const std::string path = Data("state");
  ASSERT_TRUE(client_->Write(path, "old").ok());
  WriteOptions options;
  options.expected_sha256 = Sha256::Of("new content");
  auto result = client_->Write(path, "new content", options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->sha256, options.expected_sha256);
  EXPECT_EQ(*ReadFile(path), "new content");
  // Also for empty content.
  options.expected_sha256 = Sha256::Of("");
  ASSERT_TRUE(client_->Write(path, "", options).ok());
  EXPECT_EQ(*ReadFile(path), "");
}

TEST_F(VersionsTest, ExpectedSha256OfWrongLengthIsInvalidArgument) {
  const std::string path = Data("state");
  ASSERT_TRUE(client_->Write(path, "old").ok());
  WriteOptions options;
  options.expected_sha256 = Sha256::Of("new").substr(0, 31);
  auto result = client_->Write(path, "new", options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
      << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("32"));
  // A hex string is not raw bytes either.
  options.expected_sha256 = std::string(64, 'a');
  result = client_->Write(path, "new", options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
      << result.status();
  EXPECT_EQ(*ReadFile(path), "old");
  EXPECT_EQ(ListDirectory(daemon_->data()), std::vector<std::string>{"state"});
}

// --- mode and owner ---------------------------------------------------------

TEST_F(VersionsTest, ReplaceKeepsTheModeUnlessTheRequestNamesOne) {
  ASSERT_NO_FATAL_FAILURE(
      StartWithDataRule("create_mode: 0600 max_mode: 0640"));
  const std::string path = Data("state");
  ASSERT_TRUE(client_->Write(path, "v1").ok());
  EXPECT_EQ(ModeOf(path), 0600u);
  ASSERT_EQ(chmod(path.c_str(), 0604), 0);

  // No mode in the request: the replaced file's mode stays, even where it
  // exceeds what max_mode would grant a request.
  ASSERT_TRUE(client_->Write(path, "v2").ok());
  EXPECT_EQ(ModeOf(path), 0604u);
  auto status = client_->Stat(path);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->mode, 0604u);

  // A requested mode replaces it.
  WriteOptions options;
  options.mode = 0400;
  ASSERT_TRUE(client_->Write(path, "v3", options).ok());
  EXPECT_EQ(ModeOf(path), 0400u);

  // Masked by max_mode.
  options.mode = 0666;
  ASSERT_TRUE(client_->Write(path, "v4", options).ok());
  EXPECT_EQ(ModeOf(path), 0640u);
  EXPECT_EQ(*ReadFile(path), "v4");
}

TEST_F(VersionsTest, ReplaceKeepsTheOwner) {
  if (geteuid() != 0) GTEST_SKIP() << kNeedsRoot;
  const std::string path = Data("state");
  ASSERT_TRUE(client_->Write(path, "v1").ok());
  ASSERT_EQ(chown(path.c_str(), kNobody, kNobody), 0);
  ASSERT_EQ(chmod(path.c_str(), 0640), 0);

  auto result = client_->Write(path, "v2");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->created);
  const struct stat st = LstatOf(path);
  EXPECT_EQ(st.st_uid, kNobody);
  EXPECT_EQ(st.st_gid, kNobody);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  auto status = client_->Stat(path);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->uid, kNobody);
  EXPECT_EQ(status->gid, kNobody);
  EXPECT_EQ(status->etag, result->etag);
  EXPECT_EQ(*ReadFile(path), "v2");

  // Also when the request names a mode, and through a stream.
  WriteOptions options;
  options.mode = 0600;
  std::string big(200000, 'b');
  ClientOptions streaming;
  streaming.socket_path = daemon_->socket_path();
  streaming.stream_threshold = 1024;
  streaming.chunk_size = 16384;
  Client stream_client(streaming);
  ASSERT_TRUE(stream_client.Write(path, big, options).ok());
  const struct stat after = LstatOf(path);
  EXPECT_EQ(after.st_uid, kNobody);
  EXPECT_EQ(after.st_gid, kNobody);
  EXPECT_EQ(after.st_mode & 07777, 0600u);
}

TEST_F(VersionsTest, CreatedFilesAndDirectoriesGetTheFixedOwner) {
  if (geteuid() != 0) GTEST_SKIP() << kNeedsRoot;
  ASSERT_NO_FATAL_FAILURE(StartWithDataRule(
      "create_owner: OWNER_FIXED owner_uid: 65534 owner_gid: 65534 "
      "allow_create_parents: true"));
  const std::string path = Data("created");
  auto result = client_->Write(path, "x");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->created);
  struct stat st = LstatOf(path);
  EXPECT_EQ(st.st_uid, kNobody);
  EXPECT_EQ(st.st_gid, kNobody);

  WriteOptions parents;
  parents.create_parents = true;
  ASSERT_TRUE(client_->Write(Data("sub/deeper/file"), "y", parents).ok());
  for (const std::string& created :
       {Data("sub"), Data("sub/deeper"), Data("sub/deeper/file")}) {
    SCOPED_TRACE(created);
    st = LstatOf(created);
    EXPECT_EQ(st.st_uid, kNobody);
    EXPECT_EQ(st.st_gid, kNobody);
  }

  // The rule's owner is for created files only; a replaced file keeps its
  // own.
  const std::string existing = Data("existing");
  WriteFileOrDie(existing, "old");
  ASSERT_EQ(chown(existing.c_str(), 1234, 4321), 0);
  ASSERT_TRUE(client_->Write(existing, "new").ok());
  st = LstatOf(existing);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 4321u);
}

TEST_F(VersionsTest, CreatedFilesGetTheCallersOwner) {
  // The daemon runs as the test's uid, so only a caller under another uid
  // tells OWNER_CALLER from OWNER_DAEMON.
  if (geteuid() != 0) GTEST_SKIP() << kNeedsRoot;
  ASSERT_NO_FATAL_FAILURE(StartDaemon(absl::StrCat(
      kSocketLine,
      "rule { root: \"{base}/data\" allow_uid: {uid} allow_uid: 65534 "
      "create_owner: OWNER_CALLER }\n")));
  const std::string path = Data("by_nobody");
  Command command;
  command.argv = {DURABLECTL_BINARY,
                  absl::StrCat("--socket=", daemon_->socket_path()), "write",
                  path};
  command.stdin_data = "from nobody";
  command.uid = kNobody;
  command.gid = kNobody;
  CommandResult run = RunCommand(command);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(*ReadFile(path), "from nobody");
  struct stat st = LstatOf(path);
  EXPECT_EQ(st.st_uid, kNobody);
  EXPECT_EQ(st.st_gid, kNobody);

  // The test's own writes get its uid and gid.
  const std::string own = Data("by_me");
  ASSERT_TRUE(client_->Write(own, "from me").ok());
  st = LstatOf(own);
  EXPECT_EQ(st.st_uid, getuid());
  EXPECT_EQ(st.st_gid, getgid());
}

// --- create_parents ---------------------------------------------------------

TEST_F(VersionsTest, CreateParentsMakesDirectoriesWithSearchBits) {
  ASSERT_NO_FATAL_FAILURE(
      StartWithDataRule("allow_create_parents: true create_mode: 0644"));
  const std::string path = Data("a/b/c/file");
  WriteOptions options;
  options.create_parents = true;
  auto result = client_->Write(path, "deep", options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->created);
  EXPECT_EQ(*ReadFile(path), "deep");
  for (const std::string& dir : {Data("a"), Data("a/b"), Data("a/b/c")}) {
    SCOPED_TRACE(dir);
    const struct stat st = LstatOf(dir);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0755u);
  }
  EXPECT_EQ(ModeOf(path), 0644u);
  EXPECT_EQ(ListDirectory(Data("a/b/c")), std::vector<std::string>{"file"});

  // Existing parents are fine, and only the missing ones are made.
  ASSERT_EQ(chmod(Data("a").c_str(), 0711), 0);
  ASSERT_TRUE(client_->Write(Data("a/x/file"), "x", options).ok());
  EXPECT_EQ(ModeOf(Data("a")), 0711u);
  EXPECT_EQ(ModeOf(Data("a/x")), 0755u);
}

TEST_F(VersionsTest, CreateParentsIsDeniedWithoutTheRule) {
  const std::string path = Data("a/b/file");
  WriteOptions options;
  options.create_parents = true;
  auto result = client_->Write(path, "x", options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied)
      << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr(path));
  EXPECT_THAT(ListDirectory(daemon_->data()), IsEmpty());
}

TEST_F(VersionsTest, DirectoriesCreatedForAFailedWriteAreRemoved) {
  ASSERT_NO_FATAL_FAILURE(
      StartWithDataRule("allow_create_parents: true max_file_size: 1024"));
  ASSERT_EQ(mkdir(Data("kept").c_str(), 0755), 0);
  WriteOptions options;
  options.create_parents = true;

  // Fails at the digest check, after the content was staged.
  options.expected_sha256 = Sha256::Of("not this");
  auto result = client_->Write(Data("kept/b/c/file"), "content", options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss)
      << result.status();
  EXPECT_THAT(ListDirectory(Data("kept")), IsEmpty());

  // Fails while the content arrives.
  options.expected_sha256.clear();
  result = client_->Write(Data("new/b/file"), std::string(2048, 'x'), options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted)
      << result.status();

  // Fails at the if_match check.
  options.if_match = "0123456789abcdef";
  result = client_->Write(Data("new/b/file"), "x", options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAborted)
      << result.status();

  EXPECT_EQ(ListDirectory(daemon_->data()), std::vector<std::string>{"kept"});
  EXPECT_THAT(ListDirectory(Data("kept")), IsEmpty());
}

// --- Remove -----------------------------------------------------------------

TEST_F(VersionsTest, RemoveDeletesTheFileAndReturnsItsEtag) {
  const std::string path = Data("state");
  auto written = client_->Write(path, "bye");
  ASSERT_TRUE(written.ok());
  ASSERT_TRUE(client_->Write(Data("neighbour"), "stays").ok());
  auto removed = client_->Remove(path);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, written->etag);
  EXPECT_FALSE(PathExists(path));
  EXPECT_EQ(client_->Stat(path).status().code(), absl::StatusCode::kNotFound);
  // No temp name is left where the file was.
  EXPECT_EQ(ListDirectory(daemon_->data()),
            std::vector<std::string>{"neighbour"});

  // With the current etag as if_match.
  written = client_->Write(path, "again");
  ASSERT_TRUE(written.ok());
  removed = client_->Remove(path, written->etag);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, written->etag);
  EXPECT_FALSE(PathExists(path));
}

TEST_F(VersionsTest, RemoveOfAMissingFileIsNotFound) {
  const std::string path = Data("missing");
  auto removed = client_->Remove(path);
  EXPECT_EQ(removed.status().code(), absl::StatusCode::kNotFound)
      << removed.status();
  EXPECT_THAT(std::string(removed.status().message()), HasSubstr(path));
}

TEST_F(VersionsTest, RemoveWithAStaleEtagIsAbortedAndKeepsTheFile) {
  const std::string path = Data("state");
  auto first = client_->Write(path, "v1");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(client_->Write(path, "v2").ok());
  auto removed = client_->Remove(path, first->etag);
  EXPECT_EQ(removed.status().code(), absl::StatusCode::kAborted)
      << removed.status();
  EXPECT_THAT(std::string(removed.status().message()), HasSubstr(path));
  EXPECT_EQ(*ReadFile(path), "v2");
  EXPECT_EQ(ListDirectory(daemon_->data()), std::vector<std::string>{"state"});
}

TEST_F(VersionsTest, RemoveOfADirectoryIsFailedPrecondition) {
  ASSERT_EQ(mkdir(Data("dir").c_str(), 0755), 0);
  auto removed = client_->Remove(Data("dir"));
  EXPECT_EQ(removed.status().code(), absl::StatusCode::kFailedPrecondition)
      << removed.status();
  const struct stat st = LstatOf(Data("dir"));
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST_F(VersionsTest, RemoveIsDeniedWhereTheRuleForbidsOverwriting) {
  ASSERT_NO_FATAL_FAILURE(StartWithDataRule("allow_overwrite: false"));
  const std::string path = Data("kept");
  ASSERT_TRUE(client_->Write(path, "forever").ok());
  auto removed = client_->Remove(path);
  EXPECT_EQ(removed.status().code(), absl::StatusCode::kPermissionDenied)
      << removed.status();
  EXPECT_THAT(std::string(removed.status().message()), HasSubstr(path));
  EXPECT_EQ(*ReadFile(path), "forever");
}

TEST_F(VersionsTest, RemoveOutsideRootsIsPermissionDenied) {
  const std::string path = daemon_->outside() + "/file";
  WriteFileOrDie(path, "not yours");
  auto removed = client_->Remove(path);
  EXPECT_EQ(removed.status().code(), absl::StatusCode::kPermissionDenied)
      << removed.status();
  EXPECT_EQ(*ReadFile(path), "not yours");
}

// --- WhoAmI -----------------------------------------------------------------

TEST_F(VersionsTest, WhoAmIReportsTheCallerAndItsGrant) {
  ASSERT_NO_FATAL_FAILURE(StartWithDataRule(
      "max_file_size: 1048576 create_mode: 0640 max_mode: 0660 "
      "allow_overwrite: false allow_create_parents: true "
      "directory_mode: 0750"));
  auto identity = client_->WhoAmI();
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(identity->uid, getuid());
  EXPECT_EQ(identity->gid, getgid());
  EXPECT_EQ(identity->pid, getpid());
  std::vector<gid_t> groups(static_cast<size_t>(getgroups(0, nullptr)));
  ASSERT_EQ(getgroups(static_cast<int>(groups.size()), groups.data()),
            static_cast<int>(groups.size()));
  std::vector<gid_t> reported = identity->groups;
  std::sort(groups.begin(), groups.end());
  std::sort(reported.begin(), reported.end());
  EXPECT_EQ(reported, groups);

  ASSERT_EQ(identity->grants.size(), 1u);
  const CallerInfo::Grant& grant = identity->grants[0];
  EXPECT_EQ(grant.root, daemon_->data());
  EXPECT_EQ(grant.max_file_size, 1048576u);
  EXPECT_EQ(grant.create_mode, 0640u);
  EXPECT_EQ(grant.max_mode, 0660u);
  EXPECT_FALSE(grant.allow_overwrite);
  EXPECT_TRUE(grant.allow_create_parents);
  EXPECT_EQ(grant.directory_mode, 0750u);
  EXPECT_THAT(identity->denied_roots, IsEmpty());
}

TEST_F(VersionsTest, WhoAmIGrantShowsTheRuleDefaults) {
  auto identity = client_->WhoAmI();
  ASSERT_TRUE(identity.ok()) << identity.status();
  ASSERT_EQ(identity->grants.size(), 1u);
  const CallerInfo::Grant& grant = identity->grants[0];
  EXPECT_EQ(grant.root, daemon_->data());
  EXPECT_EQ(grant.max_file_size, uint64_t{64} << 20);
  EXPECT_EQ(grant.create_mode, 0644u);
  EXPECT_EQ(grant.max_mode, 0666u);
  EXPECT_TRUE(grant.allow_overwrite);
  EXPECT_FALSE(grant.allow_create_parents);
  EXPECT_EQ(grant.directory_mode, 0755u);
}

TEST_F(VersionsTest, WhoAmIListsOnlyDeniedRootsNestedInAGrant) {
  ASSERT_NE(getuid(), 4242u);
  ASSERT_NO_FATAL_FAILURE(StartDaemon(
      absl::StrCat(kSocketLine,
                   "rule { root: \"{base}/data\" allow_uid: {uid} }\n"
                   "rule { root: \"{base}/data/locked\" allow_uid: 4242 }\n"
                   "rule { root: \"{base}/outside\" allow_uid: 4242 }\n"),
      {"data/locked"}));
  auto identity = client_->WhoAmI();
  ASSERT_TRUE(identity.ok()) << identity.status();
  ASSERT_EQ(identity->grants.size(), 1u);
  EXPECT_EQ(identity->grants[0].root, daemon_->data());
  EXPECT_THAT(identity->denied_roots, ElementsAre(Data("locked")));

  // And the denial it explains is real.
  auto result = client_->Write(Data("locked/file"), "x");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied)
      << result.status();
  EXPECT_TRUE(client_->Write(Data("open"), "x").ok());
}

}  // namespace
}  // namespace durable::test
