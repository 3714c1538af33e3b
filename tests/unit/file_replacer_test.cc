#include "server/engine/file_replacer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/base/errno_status.h"
#include "server/base/unique_fd.h"
#include "server/engine/etag.h"
#include "server/engine/file_system.h"
#include "server/engine/posix_file_system.h"
#include "server/engine/sha256.h"
#include "tests/support/fault_injection_file_system.h"
#include "tests/support/status_matchers.h"

namespace durable {

using test::IsOk;
using test::StatusIs;

namespace {

using Operation = FaultInjectionFileSystem::Operation;
using Call = FaultInjectionFileSystem::Call;
using testing::ElementsAre;
using testing::ElementsAreArray;
using testing::IsEmpty;
using testing::SizeIs;

constexpr char kTarget[] = "target.txt";
constexpr char kOldContent[] = "the old content\n";
constexpr char kNewContent[] = "the new content, longer than the old one\n";

// A uid and gid that are not the test's own, for owner tests run as root.
constexpr Owner kOtherOwner = {12345, 23456};

absl::Status InjectedEio() { return SyscallError(EIO, "injected fault"); }

// A fresh directory under /tmp, open as the writer's dir fd; the fixture
// removes it with everything in it.
class FileReplacerTest : public testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/durable_writer_test.XXXXXX";
    ASSERT_NE(mkdtemp(path), nullptr) << strerror(errno);
    dir_path_ = path;
    dir_fd_.reset(open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(dir_fd_.valid()) << strerror(errno);
  }

  void TearDown() override {
    fs_.SetHook(nullptr);
    dir_fd_.reset();
    std::error_code error;
    std::filesystem::remove_all(dir_path_, error);
    EXPECT_FALSE(error) << error.message();
  }

  std::string PathOf(const std::string& name) const {
    return absl::StrCat(dir_path_, "/", name);
  }

  absl::StatusOr<CommitResult> Write(absl::string_view content,
                                     const CommitOptions& options = {}) {
    return writer_.Write(dir_fd_.get(), kTarget, content, options);
  }

  // Creates (or overwrites) `name` with `content` directly, bypassing the
  // writer.
  void PlantFile(const std::string& name, absl::string_view content,
                 mode_t permissions = 0644) {
    UniqueFd fd(open(PathOf(name).c_str(),
                     O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    ASSERT_TRUE(fd.valid()) << name << ": " << strerror(errno);
    ASSERT_EQ(write(fd.get(), content.data(), content.size()),
              static_cast<ssize_t>(content.size()));
    ASSERT_EQ(fchmod(fd.get(), permissions), 0) << strerror(errno);
  }

  // lstat of `name`; fails the test if it cannot be stat'ed.
  struct stat LstatOf(const std::string& name) const {
    struct stat st = {};
    EXPECT_EQ(lstat(PathOf(name).c_str(), &st), 0)
        << name << ": " << strerror(errno);
    return st;
  }

  // The content of the regular file `name`, nullopt if there is no such
  // entry.
  std::optional<std::string> ReadFile(const std::string& name) const {
    struct stat st;
    if (lstat(PathOf(name).c_str(), &st) != 0) {
      EXPECT_EQ(errno, ENOENT) << name << ": " << strerror(errno);
      return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) return "<not a regular file>";
    UniqueFd fd(open(PathOf(name).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    EXPECT_TRUE(fd.valid()) << name << ": " << strerror(errno);
    std::string content;
    char buffer[4096];
    ssize_t n;
    while ((n = read(fd.get(), buffer, sizeof(buffer))) > 0) {
      content.append(buffer, static_cast<size_t>(n));
    }
    EXPECT_EQ(n, 0) << name << ": " << strerror(errno);
    return content;
  }

  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_path_)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::vector<std::string> TempFiles() const {
    std::vector<std::string> names;
    for (const std::string& name : Entries()) {
      if (IsTempFileName(name)) names.push_back(name);
    }
    return names;
  }

  // Every entry of the directory with its type, permissions, inode number
  // and content (or symlink target), to compare the state before and after.
  std::map<std::string, std::string> Snapshot() const {
    std::map<std::string, std::string> snapshot;
    for (const std::string& name : Entries()) {
      struct stat st = LstatOf(name);
      std::string description =
          absl::StrFormat("mode=%o inode=%d", st.st_mode, st.st_ino);
      if (S_ISREG(st.st_mode)) {
        absl::StrAppend(&description, " content=\"",
                        absl::CEscape(ReadFile(name).value_or("")), "\"");
      } else if (S_ISLNK(st.st_mode)) {
        char link[4096];
        ssize_t n = readlink(PathOf(name).c_str(), link, sizeof(link));
        EXPECT_GE(n, 0) << strerror(errno);
        absl::StrAppend(&description, " -> ", std::string(link, n < 0 ? 0 : n));
      }
      snapshot[name] = description;
    }
    return snapshot;
  }

  // Writes kNewContent with `options`; expects the refusal `code` and the
  // directory exactly as it was before.
  void ExpectRefusedUnchanged(absl::StatusCode code,
                              const CommitOptions& options = {}) {
    const auto before = Snapshot();
    EXPECT_THAT(Write(kNewContent, options), StatusIs(code));
    EXPECT_EQ(Snapshot(), before);
  }

  // The etag of the file now at `name`, computed from the disk.
  std::string EtagOnDisk(const std::string& name) {
    UniqueFd fd(open(PathOf(name).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    EXPECT_TRUE(fd.valid()) << strerror(errno);
    absl::StatusOr<FileInfo> info = posix_.Stat(fd.get());
    EXPECT_THAT(info, IsOk());
    return info.ok() ? EtagOf(*info) : "";
  }

  // After every file system call, checks that the target holds either
  // `old_content` (nullopt: is absent) or all of `new_content`: no partial
  // or foreign content is ever visible under the target name.
  void CheckTargetAfterEveryCall(std::optional<std::string> old_content,
                                 std::string new_content) {
    fs_.SetHook([this, old_content, new_content](const Call& call) {
      std::optional<std::string> now = ReadFile(kTarget);
      EXPECT_TRUE(now == old_content || now == new_content)
          << "after " << call.operation << "(" << call.name
          << "): target holds " << (now ? absl::CEscape(*now) : "<absent>");
    });
  }

  // Writes kNewContent while CheckTargetAfterEveryCall(old_content, ...)
  // watches; `*log` is the call log of the successful write.
  void WriteCheckingEveryCall(std::optional<std::string> old_content,
                              std::vector<Call>* log) {
    CheckTargetAfterEveryCall(old_content, kNewContent);
    ASSERT_THAT(Write(kNewContent), IsOk());
    *log = fs_.CallLog();
  }

  // A filesystem without directory fsync: the write still succeeds.
  void ExpectUnsupportedDirectorySyncTolerated() {
    fs_.FailNext(Operation::kSyncDirectory,
                 absl::UnimplementedError("no directory fsync here"));

    absl::StatusOr<CommitResult> result = Write(kNewContent);

    ASSERT_THAT(result, IsOk());
    EXPECT_EQ(fs_.PendingFaults(), 0);
    EXPECT_EQ(ReadFile(kTarget), kNewContent);
    EXPECT_THAT(Entries(), ElementsAre(kTarget));
  }

  PosixFileSystem posix_;
  FaultInjectionFileSystem fs_{&posix_};
  FileReplacer writer_{&fs_};
  std::string dir_path_;
  UniqueFd dir_fd_;
};

// Checks the naming discipline of a successful write's call log: every
// file created is a temp file, the target is renamed onto exactly once (the
// publish step, from a temp name, after the data was synced) and never
// unlinked.
void ExpectTargetOnlyPublishedByRename(const std::vector<Call>& log) {
  int publishes = 0;
  bool synced = false;
  for (const Call& call : log) {
    switch (call.operation) {
      case Operation::kCreateExclusive:
        EXPECT_TRUE(IsTempFileName(call.name)) << call.name;
        break;
      case Operation::kSyncFile:
        synced = true;
        break;
      case Operation::kRename:
        if (call.to == kTarget) {
          ++publishes;
          EXPECT_TRUE(IsTempFileName(call.name)) << call.name;
          EXPECT_TRUE(synced) << "published before the data was synced";
        }
        EXPECT_NE(call.name, kTarget) << "renamed the target away";
        break;
      case Operation::kUnlink:
        EXPECT_NE(call.name, kTarget) << "unlinked the target";
        break;
      default:
        break;
    }
  }
  EXPECT_EQ(publishes, 1);
}

TEST_F(FileReplacerTest, CreateWritesContentPermissionsAndResult) {
  CommitOptions options;
  options.create_permissions = 0640;

  absl::StatusOr<CommitResult> result = Write(kNewContent, options);

  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(ReadFile(kTarget), kNewContent);
  struct stat st = LstatOf(kTarget);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_uid, geteuid());
  EXPECT_TRUE(result->created);
  EXPECT_EQ(result->size, strlen(kNewContent));
  EXPECT_EQ(result->sha256, Sha256::Of(kNewContent));
  EXPECT_EQ(result->sha256.size(), Sha256::kDigestBytes);
  EXPECT_FALSE(result->etag.empty());
  EXPECT_EQ(result->etag, EtagOnDisk(kTarget));
  EXPECT_THAT(Entries(), ElementsAre(kTarget));
}

TEST_F(FileReplacerTest, CreateOfEmptyContent) {
  absl::StatusOr<CommitResult> result = Write("");

  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(ReadFile(kTarget), "");
  EXPECT_EQ(result->size, 0u);
  EXPECT_EQ(result->sha256, Sha256::Of(""));
  EXPECT_THAT(Entries(), ElementsAre(kTarget));
}

TEST_F(FileReplacerTest, CreateSetsCreateOwner) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give a file away";
  CommitOptions options;
  options.create_owner = kOtherOwner;

  absl::StatusOr<CommitResult> result = Write(kNewContent, options);

  ASSERT_THAT(result, IsOk());
  struct stat st = LstatOf(kTarget);
  EXPECT_EQ(st.st_uid, kOtherOwner.uid);
  EXPECT_EQ(st.st_gid, kOtherOwner.gid);
  EXPECT_EQ(ReadFile(kTarget), kNewContent);
}

TEST_F(FileReplacerTest, ReplaceSwapsContentAndKeepsExistingPermissions) {
  absl::StatusOr<CommitResult> first = Write(kOldContent);
  ASSERT_THAT(first, IsOk());
  ASSERT_EQ(chmod(PathOf(kTarget).c_str(), 0600), 0) << strerror(errno);
  const ino_t old_inode = LstatOf(kTarget).st_ino;
  CommitOptions options;
  options.create_permissions = 0644;

  absl::StatusOr<CommitResult> second = Write(kNewContent, options);

  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(ReadFile(kTarget), kNewContent);
  struct stat st = LstatOf(kTarget);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_NE(st.st_ino, old_inode) << "the target was written in place";
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->size, strlen(kNewContent));
  EXPECT_EQ(second->sha256, Sha256::Of(kNewContent));
  EXPECT_NE(second->etag, first->etag);
  EXPECT_EQ(second->etag, EtagOnDisk(kTarget));
  EXPECT_THAT(Entries(), ElementsAre(kTarget));
}

TEST_F(FileReplacerTest, ReplaceKeepsExistingOwner) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give a file away";
  PlantFile(kTarget, kOldContent);
  ASSERT_EQ(chown(PathOf(kTarget).c_str(), kOtherOwner.uid, kOtherOwner.gid), 0)
      << strerror(errno);

  absl::StatusOr<CommitResult> result = Write(kNewContent);

  ASSERT_THAT(result, IsOk());
  struct stat st = LstatOf(kTarget);
  EXPECT_EQ(st.st_uid, kOtherOwner.uid);
  EXPECT_EQ(st.st_gid, kOtherOwner.gid);
  EXPECT_EQ(ReadFile(kTarget), kNewContent);
}

TEST_F(FileReplacerTest, QuickSuccessiveReplacementsGetDistinctEtags) {
  // Same size, written back to back: only the new inode tells them apart.
  std::vector<std::string> etags;
  for (const char* content : {"aaaa", "bbbb", "cccc", "dddd"}) {
    absl::StatusOr<CommitResult> result = Write(content);
    ASSERT_THAT(result, IsOk());
    EXPECT_EQ(result->etag, EtagOnDisk(kTarget));
    etags.push_back(result->etag);
  }
  for (size_t i = 1; i < etags.size(); ++i) {
    EXPECT_NE(etags[i], etags[i - 1]) << "write " << i;
  }
}

TEST_F(FileReplacerTest, StreamedAppendsAreCommittedAsOneContent) {
  PlantFile(kTarget, kOldContent);
  absl::StatusOr<std::unique_ptr<StagedFile>> staged =
      writer_.Stage(dir_fd_.get(), kTarget);
  ASSERT_THAT(staged, IsOk());
  ASSERT_THAT((*staged)->Append("first "), IsOk());
  ASSERT_THAT((*staged)->Append(""), IsOk());
  ASSERT_THAT((*staged)->Append("second"), IsOk());
  EXPECT_EQ((*staged)->size(), 12u);
  EXPECT_EQ(ReadFile(kTarget), kOldContent) << "visible before the commit";

  absl::StatusOr<CommitResult> result = writer_.Commit(**staged, {});

  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(ReadFile(kTarget), "first second");
  EXPECT_EQ(result->size, 12u);
  EXPECT_EQ(result->sha256, Sha256::Of("first second"));
  staged->reset();
  EXPECT_THAT(Entries(), ElementsAre(kTarget));
}

TEST_F(FileReplacerTest, IfAbsentOnExistingTargetIsAlreadyExists) {
  PlantFile(kTarget, kOldContent);
  CommitOptions options;
  options.if_absent = true;

  ExpectRefusedUnchanged(absl::StatusCode::kAlreadyExists, options);
}

TEST_F(FileReplacerTest, IfAbsentOnMissingTargetCreatesWithoutReplacing) {
  CommitOptions options;
  options.if_absent = true;

  absl::StatusOr<CommitResult> result = Write(kNewContent, options);

  ASSERT_THAT(result, IsOk());
  EXPECT_TRUE(result->created);
  EXPECT_EQ(ReadFile(kTarget), kNewContent);
  bool published_no_replace = false;
  for (const Call& call : fs_.CallLog()) {
    if (call.operation == Operation::kRename && call.to == kTarget) {
      published_no_replace = call.rename_mode == RenameMode::kNoReplace;
    }
  }
  EXPECT_TRUE(published_no_replace);
}

TEST_F(FileReplacerTest, OverwriteNotAllowedIsPermissionDenied) {
  PlantFile(kTarget, kOldContent);
  CommitOptions options;
  options.allow_overwrite = false;

  ExpectRefusedUnchanged(absl::StatusCode::kPermissionDenied, options);
}

TEST_F(FileReplacerTest, OverwriteNotAllowedStillCreates) {
  CommitOptions options;
  options.allow_overwrite = false;

  absl::StatusOr<CommitResult> result = Write(kNewContent, options);

  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(ReadFile(kTarget), kNewContent);
}

TEST_F(FileReplacerTest, TargetIsDirectoryIsFailedPrecondition) {
  ASSERT_EQ(mkdir(PathOf(kTarget).c_str(), 0755), 0) << strerror(errno);
  ExpectRefusedUnchanged(absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(std::filesystem::is_empty(PathOf(kTarget)));
}

TEST_F(FileReplacerTest, TargetIsFifoIsFailedPrecondition) {
  ASSERT_EQ(mkfifo(PathOf(kTarget).c_str(), 0644), 0) << strerror(errno);
  ExpectRefusedUnchanged(absl::StatusCode::kFailedPrecondition);
}

TEST_F(FileReplacerTest, TargetIsSymlinkIsFailedPreconditionAndNotFollowed) {
  PlantFile("pointee", kOldContent);
  ASSERT_EQ(symlink("pointee", PathOf(kTarget).c_str()), 0) << strerror(errno);
  // Unchanged: the link, its target and its content.
  ExpectRefusedUnchanged(absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadFile("pointee"), kOldContent);
}

TEST_F(FileReplacerTest,
       TargetIsDanglingSymlinkIsFailedPreconditionAndNotFollowed) {
  ASSERT_EQ(symlink("missing", PathOf(kTarget).c_str()), 0) << strerror(errno);
  ExpectRefusedUnchanged(absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadFile("missing"), std::nullopt);
}

TEST_F(FileReplacerTest, HardLinkPlantedAtTargetKeepsItsContentElsewhere) {
  PlantFile("elsewhere", kOldContent);
  ASSERT_EQ(link(PathOf("elsewhere").c_str(), PathOf(kTarget).c_str()), 0)
      << strerror(errno);

  absl::StatusOr<CommitResult> result = Write(kNewContent);

  ASSERT_THAT(result, IsOk());
  EXPECT_FALSE(result->created);
  EXPECT_EQ(ReadFile(kTarget), kNewContent);
  EXPECT_EQ(ReadFile("elsewhere"), kOldContent);
  EXPECT_EQ(LstatOf("elsewhere").st_nlink, 1u);
  EXPECT_THAT(Entries(), ElementsAre("elsewhere", kTarget));
}

TEST_F(FileReplacerTest, CreateFollowsTheProtocolAndNeverExposesTheTempFile) {
  std::vector<Call> log;
  ASSERT_NO_FATAL_FAILURE(WriteCheckingEveryCall(std::nullopt, &log));
  ASSERT_THAT(
      fs_.Operations(),
      ElementsAre(Operation::kCreateExclusive, Operation::kAppend,
                  Operation::kStatAt, Operation::kSetPermissions,
                  Operation::kStat, Operation::kSyncFile, Operation::kRename,
                  Operation::kStatAt, Operation::kSyncDirectory));
  ExpectTargetOnlyPublishedByRename(log);
  EXPECT_EQ(log[2].name, kTarget);
  EXPECT_EQ(log[6].name, log[0].name);
  EXPECT_EQ(log[6].rename_mode, RenameMode::kReplace);
  EXPECT_EQ(log[7].name, kTarget);  // what was published is verified
  EXPECT_THAT(TempFiles(), IsEmpty());
}

TEST_F(FileReplacerTest, ReplaceFollowsTheProtocolAndNeverExposesTheTempFile) {
  PlantFile(kTarget, kOldContent);
  std::vector<Call> log;
  ASSERT_NO_FATAL_FAILURE(WriteCheckingEveryCall(kOldContent, &log));
  ASSERT_THAT(
      fs_.Operations(),
      ElementsAre(Operation::kCreateExclusive, Operation::kAppend,
                  Operation::kStatAt, Operation::kStat,
                  Operation::kSetPermissions, Operation::kStat,
                  Operation::kSetModificationTime, Operation::kStat,
                  Operation::kSyncFile, Operation::kRename, Operation::kStatAt,
                  Operation::kSyncDirectory, Operation::kUnlink));
  ExpectTargetOnlyPublishedByRename(log);
  EXPECT_EQ(log[9].name, log[0].name);
  EXPECT_EQ(log[9].rename_mode, RenameMode::kExchange);
  EXPECT_EQ(log[10].name, kTarget);  // what was published is verified
  // The old content, swapped to the temp name, is what gets unlinked.
  EXPECT_EQ(log[12].name, log[0].name);
  EXPECT_THAT(Entries(), ElementsAre(kTarget));
}

TEST_F(FileReplacerTest, ShortWriteThenEioFailsAndLeavesNothingBehind) {
  PlantFile(kTarget, kOldContent);
  const auto before = Snapshot();
  constexpr size_t kWritten = 5;
  fs_.FailNextAppend(kWritten, InjectedEio());
  bool saw_short_write = false;
  fs_.SetHook([&](const Call& call) {
    if (call.operation != Operation::kAppend) return;
    ASSERT_THAT(TempFiles(), SizeIs(1));
    EXPECT_EQ(ReadFile(TempFiles()[0]),
              std::string(kNewContent).substr(0, kWritten));
    saw_short_write = true;
  });

  absl::StatusOr<CommitResult> result = Write(kNewContent);

  EXPECT_THAT(result, StatusIs(absl::StatusCode::kInternal)) << result.status();
  EXPECT_TRUE(saw_short_write);
  EXPECT_EQ(fs_.PendingFaults(), 0);
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(FileReplacerTest, NoSpaceOnAppendIsResourceExhausted) {
  PlantFile(kTarget, kOldContent);
  fs_.FailNext(Operation::kAppend, SyscallError(ENOSPC, "injected write"));

  ExpectRefusedUnchanged(absl::StatusCode::kResourceExhausted);
}

TEST_F(FileReplacerTest, CommitAfterFailedAppendIsRefused) {
  PlantFile(kTarget, kOldContent);
  const auto before = Snapshot();
  absl::StatusOr<std::unique_ptr<StagedFile>> staged =
      writer_.Stage(dir_fd_.get(), kTarget);
  ASSERT_THAT(staged, IsOk());
  ASSERT_THAT((*staged)->Append("first "), IsOk());
  fs_.FailNextAppend(3, InjectedEio());
  EXPECT_FALSE((*staged)->Append("second").ok());
  EXPECT_FALSE((*staged)->Append("third").ok()) << "append after a failure";

  absl::StatusOr<CommitResult> result = writer_.Commit(**staged, {});

  EXPECT_THAT(result, StatusIs(absl::StatusCode::kFailedPrecondition))
      << result.status();
  staged->reset();
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(FileReplacerTest, UnsupportedDirectorySyncIsToleratedOnCreate) {
  ExpectUnsupportedDirectorySyncTolerated();
}

TEST_F(FileReplacerTest, UnsupportedDirectorySyncIsToleratedOnReplace) {
  PlantFile(kTarget, kOldContent);
  ExpectUnsupportedDirectorySyncTolerated();
}

TEST_F(FileReplacerTest, MissingRenameExchangeFallsBackToPlainReplace) {
  PlantFile(kTarget, kOldContent);
  fs_.FailNext(Operation::kRename, SyscallError(EINVAL, "injected rename"));

  absl::StatusOr<CommitResult> result = Write(kNewContent);

  ASSERT_THAT(result, IsOk());
  EXPECT_FALSE(result->created);
  EXPECT_EQ(ReadFile(kTarget), kNewContent);
  EXPECT_THAT(Entries(), ElementsAre(kTarget));
  std::vector<RenameMode> renames;
  for (const Call& call : fs_.CallLog()) {
    if (call.operation == Operation::kRename) {
      renames.push_back(call.rename_mode);
    }
  }
  EXPECT_THAT(renames,
              ElementsAre(RenameMode::kExchange, RenameMode::kReplace));
}

TEST_F(FileReplacerTest, StagedFileDestroyedWithoutCommitLeavesNoTempFile) {
  PlantFile(kTarget, kOldContent);
  const auto before = Snapshot();
  absl::StatusOr<std::unique_ptr<StagedFile>> staged =
      writer_.Stage(dir_fd_.get(), kTarget);
  ASSERT_THAT(staged, IsOk());
  ASSERT_THAT((*staged)->Append(kNewContent), IsOk());
  EXPECT_THAT(TempFiles(), ElementsAre((*staged)->temp_name()));
  EXPECT_EQ(ReadFile((*staged)->temp_name()), kNewContent);

  staged->reset();

  EXPECT_EQ(Snapshot(), before);
}

TEST_F(FileReplacerTest, EmptyStagedFileDestroyedLeavesNoTempFile) {
  absl::StatusOr<std::unique_ptr<StagedFile>> staged =
      writer_.Stage(dir_fd_.get(), kTarget);
  ASSERT_THAT(staged, IsOk());
  EXPECT_THAT(TempFiles(), SizeIs(1));

  staged->reset();

  EXPECT_THAT(Entries(), IsEmpty());
}

TEST_F(FileReplacerTest, IsTempFileNameAcceptsTheNamesTheWriterMakes) {
  for (int i = 0; i < 32; ++i) {
    absl::StatusOr<std::unique_ptr<StagedFile>> staged =
        writer_.Stage(dir_fd_.get(), kTarget);
    ASSERT_THAT(staged, IsOk());
    const std::string& name = (*staged)->temp_name();
    EXPECT_TRUE(IsTempFileName(name)) << name;
    // The format itself: the prefix and 16 lowercase hex digits.
    ASSERT_EQ(name.size(), kTempFilePrefix.size() + 16) << name;
    EXPECT_EQ(name.substr(0, kTempFilePrefix.size()), kTempFilePrefix);
    EXPECT_EQ(
        name.find_first_not_of("0123456789abcdef", kTempFilePrefix.size()),
        std::string::npos)
        << name;
  }
}

TEST_F(FileReplacerTest, IsTempFileNameRejectsOtherNames) {
  const std::string prefix(kTempFilePrefix);
  EXPECT_TRUE(IsTempFileName(prefix + "0123456789abcdef"));
  EXPECT_TRUE(IsTempFileName(prefix + "0000000000000000"));
  EXPECT_TRUE(IsTempFileName(prefix + "ffffffffffffffff"));

  EXPECT_FALSE(IsTempFileName(""));
  EXPECT_FALSE(IsTempFileName(prefix));
  EXPECT_FALSE(IsTempFileName(prefix + "0123456789abcde"));    // 15 digits
  EXPECT_FALSE(IsTempFileName(prefix + "0123456789abcdef0"));  // 17 digits
  EXPECT_FALSE(IsTempFileName(prefix + "0123456789ABCDEF"));   // uppercase
  EXPECT_FALSE(IsTempFileName(prefix + "0123456789abcdeF"));
  EXPECT_FALSE(IsTempFileName(prefix + "0123456789abcdeg"));  // not hex
  EXPECT_FALSE(IsTempFileName(prefix + "0123456789abcde-"));
  EXPECT_FALSE(IsTempFileName(prefix + "0123456789abcde/"));
  EXPECT_FALSE(IsTempFileName(prefix + " 123456789abcdef"));
  EXPECT_FALSE(IsTempFileName("x" + prefix + "0123456789abcdef"));
  EXPECT_FALSE(IsTempFileName(".durabled-tmp0123456789abcdef"));
  EXPECT_FALSE(IsTempFileName("durabled-tmp.0123456789abcdef"));
  EXPECT_FALSE(IsTempFileName(".DURABLED-TMP.0123456789abcdef"));
  EXPECT_FALSE(IsTempFileName("0123456789abcdef"));
  EXPECT_FALSE(IsTempFileName(kTarget));
}

// --- A failure at every step of the protocol --------------------------------

struct Scenario {
  const char* name;
  bool target_exists;
  std::optional<Owner> create_owner;
  // The calls of a successful write, in order.
  std::vector<Operation> protocol;
};

void PrintTo(const Scenario& scenario, std::ostream* out) {
  *out << scenario.name;
}

class FileReplacerFaultTest : public FileReplacerTest,
                              public testing::WithParamInterface<Scenario> {
 protected:
  // Empties the directory and plants the old target if the scenario has one.
  void Prepare() {
    for (const std::string& name : Entries()) {
      std::filesystem::remove_all(PathOf(name));
    }
    if (GetParam().target_exists) PlantFile(kTarget, kOldContent, 0640);
    fs_.ClearCallLog();
  }

  std::optional<std::string> OldContent() const {
    if (!GetParam().target_exists) return std::nullopt;
    return kOldContent;
  }

  CommitOptions Options() const {
    CommitOptions options;
    options.create_permissions = 0604;
    options.create_owner = GetParam().create_owner;
    return options;
  }
};

TEST_P(FileReplacerFaultTest, SuccessfulWriteMakesTheExpectedCalls) {
  if (GetParam().create_owner && geteuid() != 0) {
    GTEST_SKIP() << "needs root to give a file away";
  }
  Prepare();
  CheckTargetAfterEveryCall(OldContent(), kNewContent);

  absl::StatusOr<CommitResult> result = Write(kNewContent, Options());

  ASSERT_THAT(result, IsOk());
  EXPECT_THAT(fs_.Operations(), ElementsAreArray(GetParam().protocol));
  ExpectTargetOnlyPublishedByRename(fs_.CallLog());
  EXPECT_EQ(ReadFile(kTarget), kNewContent);
  EXPECT_EQ(LstatOf(kTarget).st_mode & 07777,
            GetParam().target_exists ? 0640u : 0604u);
  EXPECT_THAT(Entries(), ElementsAre(kTarget));
}

TEST_P(FileReplacerFaultTest, EioAtAnyStepLeavesTheOldStateAndNoTempFile) {
  if (GetParam().create_owner && geteuid() != 0) {
    GTEST_SKIP() << "needs root to give a file away";
  }
  const std::vector<Operation>& protocol = GetParam().protocol;
  for (size_t step = 0; step < protocol.size(); ++step) {
    const Operation operation = protocol[step];
    SCOPED_TRACE(
        absl::StrCat("EIO at step ", step, ": ", OperationName(operation)));
    Prepare();
    const auto before = Snapshot();
    int skip = 0;
    for (size_t i = 0; i < step; ++i) skip += protocol[i] == operation;
    fs_.FailNext(operation, InjectedEio(), skip);
    CheckTargetAfterEveryCall(OldContent(), kNewContent);

    absl::StatusOr<CommitResult> result = Write(kNewContent, Options());

    fs_.SetHook(nullptr);
    EXPECT_EQ(fs_.PendingFaults(), 0) << "the fault did not fire";
    fs_.ClearFaults();
    std::vector<Call> log = fs_.CallLog();
    ASSERT_GT(log.size(), step);
    EXPECT_TRUE(log[step].injected);
    for (size_t i = 0; i < step; ++i) {
      EXPECT_EQ(log[i].operation, protocol[i]) << "call " << i;
    }

    const bool unlink_of_old_content = GetParam().target_exists &&
                                       operation == Operation::kUnlink &&
                                       step + 1 == protocol.size();
    if (unlink_of_old_content) {
      // Documented: the write is durable, so it stays OK; the old content
      // is left under a temp name for the start-up sweep.
      ASSERT_THAT(result, IsOk());
      EXPECT_FALSE(result->created);
      EXPECT_EQ(ReadFile(kTarget), kNewContent);
      std::vector<std::string> leftovers = TempFiles();
      ASSERT_THAT(leftovers, SizeIs(1));
      EXPECT_EQ(leftovers[0], log[step].name);
      EXPECT_EQ(ReadFile(leftovers[0]), kOldContent);
      EXPECT_THAT(Entries(), SizeIs(2));
      continue;
    }
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInternal))
        << result.status();
    EXPECT_EQ(ReadFile(kTarget), OldContent());
    EXPECT_THAT(TempFiles(), IsEmpty());
    EXPECT_EQ(Snapshot(), before);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Scenarios, FileReplacerFaultTest,
    testing::Values(
        Scenario{"Create",
                 false,
                 std::nullopt,
                 {Operation::kCreateExclusive, Operation::kAppend,
                  Operation::kStatAt, Operation::kSetPermissions,
                  Operation::kStat, Operation::kSyncFile, Operation::kRename,
                  Operation::kStatAt, Operation::kSyncDirectory}},
        Scenario{"CreateWithOwner",
                 false,
                 kOtherOwner,
                 {Operation::kCreateExclusive, Operation::kAppend,
                  Operation::kStatAt, Operation::kSetPermissions,
                  Operation::kStat, Operation::kSetOwner, Operation::kStat,
                  Operation::kSyncFile, Operation::kRename, Operation::kStatAt,
                  Operation::kSyncDirectory}},
        Scenario{"Replace",
                 true,
                 std::nullopt,
                 {Operation::kCreateExclusive, Operation::kAppend,
                  Operation::kStatAt, Operation::kStat,
                  Operation::kSetPermissions, Operation::kStat,
                  Operation::kSetModificationTime, Operation::kStat,
                  Operation::kSyncFile, Operation::kRename, Operation::kStatAt,
                  Operation::kSyncDirectory, Operation::kUnlink}}),
    [](const testing::TestParamInfo<Scenario>& info) {
      return std::string(info.param.name);
    });

}  // namespace
}  // namespace durable
