// WriteSet under a rule with versioned_layout, against a real daemon over
// its socket: the layout sets build (D/..data -> version directory, D/NAME
// -> ..data/NAME), what a set carries, replaces and removes, readers that
// see whole versions while sets run, what is refused (leaving everything as
// it was), and the start-up tidying of leftovers.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "durable/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/base/unique_fd.h"
#include "server/engine/versioned_layout.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_daemon.h"

namespace durable::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kConfig[] =
    "socket { path: \"{base}/durabled.sock\" mode: 0600 }\n"
    "rule { name: \"v\" root: \"{base}/data\" allow_uid: {uid}\n"
    "       versioned_layout: true allow_create_parents: true }\n"
    "rule { name: \"q\" root: \"{base}/quota\" allow_uid: {uid}\n"
    "       versioned_layout: true max_bytes: 1500 }\n";

std::optional<std::string> LinkTarget(const std::string& path) {
  char buffer[4096];
  const ssize_t n = readlink(path.c_str(), buffer, sizeof buffer);
  if (n < 0) return std::nullopt;
  return std::string(buffer, n);
}

std::optional<std::string> ReadAt(int dir_fd, const std::string& name) {
  UniqueFd fd(openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  std::string content;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd.get(), buffer, sizeof buffer)) > 0) {
    content.append(buffer, n);
  }
  return content;
}

uint64_t InodeOf(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

class VersionedSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestDaemonOptions options;
    options.config = kConfig;
    options.extra_dirs = {"data/conf", "data/other", "quota"};
    absl::StatusOr<std::unique_ptr<TestDaemon>> daemon =
        TestDaemon::Start(options);
    ASSERT_THAT(daemon, IsOk());
    daemon_ = *std::move(daemon);
    client_ = daemon_->NewClient();
  }

  std::string Conf(const std::string& leaf = "") const {
    return daemon_->Path(leaf.empty() ? "data/conf"
                                      : absl::StrCat("data/conf/", leaf));
  }
  // The version directories in data/conf.
  std::vector<std::string> Versions() const {
    std::vector<std::string> versions;
    for (const std::string& name : ListDirectory(Conf())) {
      if (IsVersionName(name)) versions.push_back(name);
    }
    return versions;
  }
  absl::Status WriteSet(
      const std::vector<std::pair<std::string, std::string>>& writes,
      const std::vector<std::string>& removes = {}) {
    WriteSetBuilder set;
    for (const auto& [leaf, content] : writes) set.Write(Conf(leaf), content);
    for (const std::string& leaf : removes) set.Remove(Conf(leaf));
    return client_->WriteSet(set).status();
  }
  // The layout as it was before a refused set, for comparison.
  std::vector<std::string> Snapshot() const {
    std::vector<std::string> out;
    for (const std::string& name : ListDirectory(Conf())) {
      const std::string path = Conf(name);
      std::optional<std::string> link = LinkTarget(path);
      absl::StatusOr<std::string> content = ReadFile(path);
      out.push_back(absl::StrCat(name, " -> ", link.value_or("-"), " = ",
                                 content.ok() ? *content : "-"));
    }
    return out;
  }

  std::unique_ptr<TestDaemon> daemon_;
  std::unique_ptr<Client> client_;
};

TEST_F(VersionedSetTest, FirstSetBuildsTheLayout) {
  ASSERT_THAT(WriteSet({{"tls.crt", "cert 1"}, {"tls.key", "key 1"}}), IsOk());
  const std::vector<std::string> versions = Versions();
  ASSERT_THAT(versions, SizeIs(1));
  EXPECT_EQ(LinkTarget(Conf("..data")), versions[0]);
  EXPECT_EQ(LinkTarget(Conf("tls.crt")), "..data/tls.crt");
  EXPECT_EQ(LinkTarget(Conf("tls.key")), "..data/tls.key");
  EXPECT_EQ(ReadFile(Conf("tls.crt")).value_or(""), "cert 1");
  EXPECT_EQ(ReadFile(Conf("tls.key")).value_or(""), "key 1");
  EXPECT_THAT(ListDirectory(Conf()),
              ElementsAre("..data", versions[0], "tls.crt", "tls.key"));
  struct stat st;
  ASSERT_EQ(lstat(Conf(versions[0]).c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 01755u);  // the sticky bit marks a version
  EXPECT_EQ(st.st_uid, geteuid());
  // WhoAmI tells callers the rule keeps sets so.
  absl::StatusOr<CallerInfo> me = client_->WhoAmI();
  ASSERT_THAT(me, IsOk());
  ASSERT_THAT(me->grants, SizeIs(2));
  for (const CallerInfo::Grant& grant : me->grants) {
    EXPECT_TRUE(grant.versioned_layout) << grant.name;
  }
}

TEST_F(VersionedSetTest, NextSetReplacesCarriesAndRemoves) {
  ASSERT_THAT(WriteSet({{"a", "a 1"}, {"b", "b 1"}, {"c", "c 1"}}), IsOk());
  const std::string first = Versions().at(0);
  const uint64_t b_inode = InodeOf(Conf("b"));
  WriteSetBuilder set;
  set.Write(Conf("a"), "a 2").Write(Conf("d"), "d 2").Remove(Conf("c"));
  absl::StatusOr<std::vector<SetMemberResult>> results = client_->WriteSet(set);
  ASSERT_THAT(results, IsOk());
  ASSERT_THAT(*results, SizeIs(3));
  EXPECT_FALSE((*results)[0].created);
  EXPECT_TRUE((*results)[1].created);
  EXPECT_TRUE((*results)[2].removed);
  const std::vector<std::string> versions = Versions();
  ASSERT_THAT(versions, SizeIs(1));
  EXPECT_NE(versions[0], first);  // the old version is removed
  EXPECT_EQ(LinkTarget(Conf("..data")), versions[0]);
  EXPECT_EQ(ReadFile(Conf("a")).value_or(""), "a 2");
  EXPECT_EQ(ReadFile(Conf("b")).value_or(""), "b 1");
  EXPECT_EQ(ReadFile(Conf("d")).value_or(""), "d 2");
  EXPECT_FALSE(PathExists(Conf("c")));
  EXPECT_EQ(InodeOf(Conf("b")), b_inode);  // carried as a hard link
  EXPECT_THAT(ListDirectory(Conf(versions[0])), ElementsAre("a", "b", "d"));
  EXPECT_THAT(ListDirectory(Conf()),
              ElementsAre("..data", versions[0], "a", "b", "d"));
  // An if_match against the answer's etag holds for the next set.
  WriteSetBuilder next;
  WriteOptions match;
  match.if_match = (*results)[0].etag;
  next.Write(Conf("a"), "a 3", match);
  ASSERT_THAT(client_->WriteSet(next), IsOk());
  EXPECT_EQ(ReadFile(Conf("a")).value_or(""), "a 3");
  EXPECT_TRUE(daemon_->WaitForLog("op=write_set"));
}

// A reader that opens ..data once reads one version whole, however the
// sets interleave with it.
TEST_F(VersionedSetTest, ReadersThroughDataSeeWholeVersions) {
  ASSERT_THAT(WriteSet({{"x", "0"}, {"y", "0"}, {"z", "0"}}), IsOk());
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::atomic<int> mixed{0};
  std::thread reader([&] {
    const std::string data = Conf("..data");
    while (!done.load()) {
      UniqueFd dir(open(data.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!dir.valid()) continue;
      std::optional<std::string> x = ReadAt(dir.get(), "x");
      std::optional<std::string> y = ReadAt(dir.get(), "y");
      std::optional<std::string> z = ReadAt(dir.get(), "z");
      // The old version may be removed while we hold it: unlinked files
      // cannot be opened by name any more, which is not a mix.
      if (!x || !y || !z) continue;
      if (*x != *y || *y != *z) mixed.fetch_add(1);
      reads.fetch_add(1);
    }
  });
  constexpr int kSets = 60;
  for (int i = 1; i <= kSets; ++i) {
    const std::string generation = std::to_string(i);
    ASSERT_THAT(
        WriteSet({{"x", generation}, {"y", generation}, {"z", generation}}),
        IsOk());
  }
  done = true;
  reader.join();
  EXPECT_EQ(mixed.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(ReadFile(Conf("x")).value_or(""), std::to_string(kSets));
  EXPECT_THAT(Versions(), SizeIs(1));
}

TEST_F(VersionedSetTest, RefusedSetsChangeNothing) {
  ASSERT_THAT(WriteSet({{"a", "a 1"}, {"b", "b 1"}}), IsOk());
  const std::vector<std::string> before = Snapshot();
  // Members in two directories.
  WriteSetBuilder two_dirs;
  two_dirs.Write(Conf("a"), "a 2")
      .Write(daemon_->Path("data/other/x"), "elsewhere");
  absl::Status status = client_->WriteSet(two_dirs).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(status.message(), HasSubstr("one directory"));
  EXPECT_FALSE(PathExists(daemon_->Path("data/other/x")));
  // Names of the layout's own.
  for (const char* leaf : {"..data", "..x"}) {
    status = WriteSet({{"a", "a 2"}, {leaf, "mine"}});
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
        << leaf << ": " << status;
  }
  status = WriteSet({{"a", "a 2"}}, {"missing"});
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  // A precondition of one member fails the whole set.
  WriteSetBuilder stale;
  WriteOptions match;
  match.if_match = "0123456789abcdef";
  stale.Write(Conf("a"), "a 2").Write(Conf("b"), "b 2", match);
  status = client_->WriteSet(stale).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted) << status;
  // A regular file where the layout would put its link.
  WriteFileOrDie(Conf("intruder"), "not the layout's");
  const std::vector<std::string> with_intruder = Snapshot();
  status = WriteSet({{"a", "a 2"}, {"intruder", "taken over"}});
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(status.message(), HasSubstr("outside the versioned layout"));
  EXPECT_EQ(Snapshot(), with_intruder);
  ASSERT_EQ(unlink(Conf("intruder").c_str()), 0);
  EXPECT_EQ(Snapshot(), before);
}

// The quota counts a member's file in the current version, not the link
// readers open: replacing 1000 bytes with 1000 bytes needs no more room.
TEST_F(VersionedSetTest, QuotaCountsTheVersionsFilesOnce) {
  const std::string dir = daemon_->Path("quota");
  auto write_set = [&](const std::string& leaf, size_t size,
                       const std::vector<std::string>& removes = {}) {
    WriteSetBuilder set;
    set.Write(absl::StrCat(dir, "/", leaf), std::string(size, 'q'));
    for (const std::string& gone : removes) {
      set.Remove(absl::StrCat(dir, "/", gone));
    }
    return client_->WriteSet(set).status();
  };
  ASSERT_THAT(write_set("a", 1000), IsOk());
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(write_set("a", 1000), IsOk()) << "replacement " << i;
  }
  absl::Status over = write_set("b", 600);
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted) << over;
  EXPECT_THAT(over.message(), HasSubstr("max_bytes"));
  EXPECT_FALSE(PathExists(absl::StrCat(dir, "/b")));
  // Removing a gives its room back.
  WriteSetBuilder remove;
  remove.Write(absl::StrCat(dir, "/c"), "c").Remove(absl::StrCat(dir, "/a"));
  ASSERT_THAT(client_->WriteSet(remove).status(), IsOk());
  EXPECT_THAT(write_set("b", 1400), IsOk());
  EXPECT_EQ(ReadFile(absl::StrCat(dir, "/b")).value_or(""),
            std::string(1400, 'q'));
}

TEST_F(VersionedSetTest, SingleCallsCannotReachIntoTheLayout) {
  ASSERT_THAT(WriteSet({{"a", "a 1"}}), IsOk());
  const std::string version = Versions().at(0);
  const std::vector<std::string> before = Snapshot();
  // The reader link is a symlink: not a file a Write may replace.
  absl::StatusOr<WriteResult> written = client_->Write(Conf("a"), "a 2");
  EXPECT_EQ(written.status().code(), absl::StatusCode::kFailedPrecondition)
      << written.status();
  // Names beginning with "..", the layout's own, are refused before
  // anything is looked up: through ..data, into a version directory, a
  // ..data where the layout has none yet (which would block later sets).
  for (const std::string& path :
       {Conf("..data/a"), Conf(absl::StrCat(version, "/a")), Conf("..data"),
        daemon_->Path("data/other/..data"),
        daemon_->Path("data/other/..data/x")}) {
    written = client_->Write(path, "a 2");
    EXPECT_EQ(written.status().code(), absl::StatusCode::kInvalidArgument)
        << path << ": " << written.status();
    EXPECT_THAT(written.status().message(), HasSubstr("reserved"));
  }
  EXPECT_FALSE(PathExists(daemon_->Path("data/other/..data")));
  EXPECT_FALSE(client_->Remove(Conf("a")).ok());
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(VersionedSetTest, ForeignDataLinkIsNotTakenOver) {
  // An AtomicWriter-style layout another program made.
  ASSERT_EQ(
      mkdir(daemon_->Path("data/conf/..2026_12_01_00_00_00.1").c_str(), 0755),
      0);
  ASSERT_EQ(symlink("..2026_12_01_00_00_00.1", Conf("..data").c_str()), 0);
  const std::vector<std::string> before = Snapshot();
  absl::Status status = WriteSet({{"a", "a 1"}});
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(status.message(), HasSubstr("..data"));
  EXPECT_EQ(Snapshot(), before);
  // Nor does the start-up sweep touch it.
  daemon_->StopWith(SIGTERM);
  ASSERT_THAT(daemon_->Restart(), IsOk());
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(VersionedSetTest, StartUpTidiesLeftovers) {
  ASSERT_THAT(WriteSet({{"a", "a 1"}, {"b", "b 1"}}), IsOk());
  const std::string current = Versions().at(0);
  daemon_->StopWith(SIGTERM);
  // What a crash can leave: an unpublished version, a temp ..data link,
  // a dangling link to a name the version lacks, a missing link.
  const std::string stale = Conf("..durabled-v.00000000000000ff");
  ASSERT_EQ(mkdir(stale.c_str(), 0755), 0);
  ASSERT_EQ(chmod(stale.c_str(), 01755), 0);
  WriteFileOrDie(stale + "/a", "never published");
  ASSERT_EQ(symlink("..durabled-v.00000000000000ff",
                    Conf("..durabled-data.00000000000000ee").c_str()),
            0);
  ASSERT_EQ(symlink("..data/new", Conf("new").c_str()), 0);
  ASSERT_EQ(unlink(Conf("b").c_str()), 0);
  ASSERT_THAT(daemon_->Restart(), IsOk());
  EXPECT_THAT(ListDirectory(Conf()), ElementsAre("..data", current, "a", "b"));
  EXPECT_EQ(ReadFile(Conf("a")).value_or(""), "a 1");
  EXPECT_EQ(ReadFile(Conf("b")).value_or(""), "b 1");
}

// Whoever may write D directly can plant entries with the layout's names:
// a directory the daemon made (create_parents makes them; here root, the
// daemon's uid, stands in) renamed to a version's name, a directory named
// like a temp ..data link, a symlink named like a version. The daemon
// still starts, takes none of them for its own, and deletes nothing in
// them.
TEST_F(VersionedSetTest, PlantedLookAlikesNeitherStopTheDaemonNorLoseData) {
  ASSERT_THAT(WriteSet({{"a", "a 1"}}), IsOk());
  daemon_->StopWith(SIGTERM);
  const std::string renamed = Conf("..durabled-v.0000000000000abc");
  ASSERT_EQ(mkdir(renamed.c_str(), 0755), 0);
  WriteFileOrDie(renamed + "/precious", "someone's data");
  ASSERT_EQ(mkdir(Conf("..durabled-data.0000000000000def").c_str(), 0755), 0);
  ASSERT_EQ(symlink("/etc", Conf("..durabled-v.0000000000000123").c_str()), 0);
  ASSERT_THAT(daemon_->Restart(), IsOk());
  client_ = daemon_->NewClient();
  EXPECT_EQ(ReadFile(renamed + "/precious").value_or(""), "someone's data");
  EXPECT_TRUE(PathExists(Conf("..durabled-data.0000000000000def")));
  // A set leaves them too, and ..data pointed at the look-alike is refused.
  ASSERT_THAT(WriteSet({{"a", "a 2"}}), IsOk());
  EXPECT_EQ(ReadFile(renamed + "/precious").value_or(""), "someone's data");
  EXPECT_EQ(ReadFile(Conf("a")).value_or(""), "a 2");
  ASSERT_EQ(unlink(Conf("..data").c_str()), 0);
  ASSERT_EQ(symlink("..durabled-v.0000000000000abc", Conf("..data").c_str()),
            0);
  absl::Status status = WriteSet({{"a", "a 3"}});
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(status.message(), HasSubstr("not a version directory"));
  EXPECT_EQ(ReadFile(renamed + "/precious").value_or(""), "someone's data");
}

}  // namespace
}  // namespace durable::test
