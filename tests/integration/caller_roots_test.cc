// Named roots, per-caller roots and quotas, against the real daemon over
// its real socket, with callers under other uids (durablectl run as them).
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_daemon.h"

namespace durable::test {
namespace {

using testing::HasSubstr;
using testing::IsEmpty;
using testing::Not;

constexpr uid_t kNobody = 65534;
constexpr uid_t kOther = 65533;
constexpr char kNeedsRoot[] = "needs root (other uids, mounts)";

// Runs `argv` as root, with `stdin_data`.
CommandResult RunAsRoot(std::vector<std::string> argv,
                        std::string stdin_data = "") {
  Command command;
  command.argv = std::move(argv);
  command.stdin_data = std::move(stdin_data);
  return RunCommand(command);
}

// durablectl as `uid` (gid the same), content from stdin.
CommandResult Ctl(const TestDaemon& daemon, std::optional<uid_t> uid,
                  std::vector<std::string> args, std::string stdin_data = "") {
  Command command;
  command.argv = {DURABLECTL_BINARY, "--socket=" + daemon.socket_path()};
  command.argv.insert(command.argv.end(), args.begin(), args.end());
  command.stdin_data = std::move(stdin_data);
  command.uid = uid;
  command.gid = uid;
  return RunCommand(command);
}

struct stat StatOf(const std::string& path) {
  struct stat st = {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st;
}

class CallerRootsTest : public testing::Test {
 protected:
  void Start(const std::string& rules,
             const std::vector<std::string>& dirs = {"agents", "shared"}) {
    absl::StatusOr<std::unique_ptr<TestDaemon>> daemon = TestDaemon::Start(
        absl::StrCat("socket { path: \"{base}/durabled.sock\" mode: 0666 }\n",
                     "rule { root: \"{base}/data\" allow_uid: {uid} }\n",
                     rules),
        dirs);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
  }

  std::unique_ptr<TestDaemon> daemon_;
};

TEST_F(CallerRootsTest, NamedRootWritesStatsAndRemoves) {
  ASSERT_NO_FATAL_FAILURE(
      Start("rule { root: \"{base}/shared\" name: \"state\" allow_uid: {uid} "
            "allow_create_parents: true }\n"));
  CommandResult written =
      Ctl(*daemon_, std::nullopt, {"write", "state:agent/x.json", "--parents"},
          "{\"v\":1}");
  ASSERT_EQ(written.exit_code, 0) << written.err;
  // The answer speaks in the caller's terms.
  EXPECT_THAT(written.out, HasSubstr("state:agent/x.json"));
  EXPECT_THAT(written.out, Not(HasSubstr(daemon_->base())));
  EXPECT_EQ(ReadFile(daemon_->Path("shared/agent/x.json")).value_or(""),
            "{\"v\":1}");

  CommandResult stat =
      Ctl(*daemon_, std::nullopt, {"stat", "state:agent/x.json"});
  ASSERT_EQ(stat.exit_code, 0) << stat.err;
  EXPECT_THAT(stat.out, HasSubstr("7"));  // size

  // Errors too: a missing parent, named as the caller named it.
  CommandResult missing =
      Ctl(*daemon_, std::nullopt, {"write", "state:nodir/x"}, "x");
  EXPECT_EQ(missing.exit_code, 4) << missing.err;
  EXPECT_THAT(missing.err, HasSubstr("state:nodir/x"));
  EXPECT_THAT(missing.err, Not(HasSubstr(daemon_->base())));

  CommandResult removed =
      Ctl(*daemon_, std::nullopt, {"rm", "state:agent/x.json"});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_FALSE(PathExists(daemon_->Path("shared/agent/x.json")));

  // whoami lists the name.
  CommandResult who = Ctl(*daemon_, std::nullopt, {"whoami"});
  ASSERT_EQ(who.exit_code, 0) << who.err;
  EXPECT_THAT(who.out, HasSubstr("state: ("));
}

TEST_F(CallerRootsTest, BadNamesAndRelativePathsChangeNothing) {
  ASSERT_NO_FATAL_FAILURE(Start(
      "rule { root: \"{base}/shared\" name: \"state\" allow_uid: {uid} }\n"));
  for (const std::string& bad :
       {std::string("state:../data/x"), std::string("state:/x"),
        std::string("state:a/../../x")}) {
    CommandResult result = Ctl(*daemon_, std::nullopt, {"write", bad}, "x");
    EXPECT_EQ(result.exit_code, 6) << bad << ": " << result.err;
  }
  // Relative paths without a valid root name (durablectl would make them
  // absolute against its working directory, so they go through the
  // library, which sends them as they are), and NUL inside the root name
  // or the relative path (an argv cannot carry one).
  std::unique_ptr<Client> client = daemon_->NewClient();
  for (const std::string& bad :
       {std::string("../state:x"), std::string("st/ate:x"),
        std::string("state"), std::string("x/y"), std::string("sta\0te:x", 8),
        std::string("state:a\0/x", 10), std::string("state:\0", 7)}) {
    absl::StatusOr<WriteResult> result = client->Write(bad, "x");
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
        << result.status();
  }
  CommandResult unknown =
      Ctl(*daemon_, std::nullopt, {"write", "nosuch:x"}, "x");
  EXPECT_EQ(unknown.exit_code, 3) << unknown.err;
  EXPECT_THAT(unknown.err, HasSubstr("no root named \"nosuch\""));
  EXPECT_THAT(ListDirectory(daemon_->Path("shared")), IsEmpty());
  EXPECT_THAT(ListDirectory(daemon_->data()), IsEmpty());
}

TEST_F(CallerRootsTest, HiddenRootIsNeverShown) {
  ASSERT_NO_FATAL_FAILURE(
      Start("rule { root: \"{base}/shared\" name: \"state\" hide_root: true "
            "allow_uid: {uid} }\n"));
  CommandResult who = Ctl(*daemon_, std::nullopt, {"whoami"});
  ASSERT_EQ(who.exit_code, 0) << who.err;
  EXPECT_THAT(who.out, HasSubstr("may write under state: "));
  EXPECT_THAT(who.out, Not(HasSubstr("/shared")));
  CommandResult missing =
      Ctl(*daemon_, std::nullopt, {"write", "state:no/such/dir/x"}, "x");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_THAT(missing.err, Not(HasSubstr(daemon_->base())));
}

TEST_F(CallerRootsTest, UidRootsAreCreatedOnFirstUseAndIsolated) {
  if (geteuid() != 0) GTEST_SKIP() << kNeedsRoot;
  ASSERT_NO_FATAL_FAILURE(Start(absl::StrCat(
      "rule { root: \"{base}/agents/${uid}\" name: \"state\" allow_uid: ",
      kNobody, " allow_uid: ", kOther,
      " create_root: true create_owner: OWNER_CALLER directory_mode: 0700 "
      "}\n")));
  ASSERT_EQ(chmod(daemon_->base().c_str(), 0755), 0);
  // A stat or remove before the first write changes nothing.
  EXPECT_EQ(Ctl(*daemon_, kNobody, {"stat", "state:mine"}).exit_code, 4);
  EXPECT_EQ(Ctl(*daemon_, kNobody, {"rm", "state:mine"}).exit_code, 4);
  EXPECT_THAT(ListDirectory(daemon_->Path("agents")), IsEmpty());
  for (uid_t uid : {kNobody, kOther}) {
    CommandResult written =
        Ctl(*daemon_, uid, {"write", "state:mine"}, absl::StrCat("uid ", uid));
    ASSERT_EQ(written.exit_code, 0) << uid << ": " << written.err;
    const std::string dir = daemon_->Path(absl::StrCat("agents/", uid));
    const struct stat st = StatOf(dir);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_uid, uid);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    EXPECT_EQ(ReadFile(dir + "/mine").value_or(""), absl::StrCat("uid ", uid));
  }
  // One caller cannot reach the other's directory by absolute path ...
  const std::string others =
      daemon_->Path(absl::StrCat("agents/", kOther, "/mine"));
  CommandResult cross = Ctl(*daemon_, kNobody, {"write", others}, "stolen");
  EXPECT_EQ(cross.exit_code, 3) << cross.err;
  CommandResult peek = Ctl(*daemon_, kNobody, {"stat", others});
  EXPECT_EQ(peek.exit_code, 3) << peek.err;
  // ... nor through a symlink planted in its own (the daemon never follows
  // one).
  const std::string mine = daemon_->Path(absl::StrCat("agents/", kNobody));
  ASSERT_EQ(symlink(daemon_->Path(absl::StrCat("agents/", kOther)).c_str(),
                    (mine + "/link").c_str()),
            0);
  CommandResult through =
      Ctl(*daemon_, kNobody, {"write", "state:link/mine"}, "x");
  EXPECT_EQ(through.exit_code, 3) << through.err;
  EXPECT_EQ(ReadFile(others).value_or(""), absl::StrCat("uid ", kOther));
}

TEST_F(CallerRootsTest, MissingUidRootWithoutCreateRootIsNotFound) {
  if (geteuid() != 0) GTEST_SKIP() << kNeedsRoot;
  ASSERT_NO_FATAL_FAILURE(Start(absl::StrCat(
      "rule { root: \"{base}/agents/${uid}\" name: \"state\" allow_uid: ",
      kNobody, " }\n")));
  ASSERT_EQ(chmod(daemon_->base().c_str(), 0755), 0);
  CommandResult result = Ctl(*daemon_, kNobody, {"write", "state:x"}, "x");
  EXPECT_EQ(result.exit_code, 4) << result.err;
  EXPECT_THAT(result.err, HasSubstr("does not exist yet"));
  EXPECT_THAT(ListDirectory(daemon_->Path("agents")), IsEmpty());
}

// A loop-mounted ext4 under the scratch tree, unmounted and detached again
// at the end.
class LoopExt4 {
 public:
  static std::unique_ptr<LoopExt4> Make(const std::string& image,
                                        const std::string& mount_point) {
    CommandResult made = RunAsRoot(
        {"/bin/sh", "-c",
         absl::StrCat("truncate -s 64M ", image, " && mkfs.ext4 -q -F ", image,
                      " && mount -o loop ", image, " ", mount_point)});
    if (made.exit_code != 0) {
      ADD_FAILURE() << "cannot make a loop-mounted ext4: " << made.err;
      return nullptr;
    }
    return std::unique_ptr<LoopExt4>(new LoopExt4(mount_point));
  }
  ~LoopExt4() { umount2(mount_point_.c_str(), MNT_DETACH); }

 private:
  explicit LoopExt4(std::string mount_point)
      : mount_point_(std::move(mount_point)) {}
  std::string mount_point_;
};

bool CanLoopMount() {
  return geteuid() == 0 && access("/dev/loop-control", R_OK | W_OK) == 0 &&
         access("/usr/sbin/mkfs.ext4", X_OK) == 0;
}

TEST_F(CallerRootsTest, QuotaOnLoopExt4CapsBytesAndFiles) {
  if (!CanLoopMount())
    GTEST_SKIP() << "needs root, /dev/loop-control, mkfs.ext4";
  // The mount must exist before the daemon opens the root.
  char base_template[] = "/tmp/durabled-quota.XXXXXX";
  ASSERT_NE(mkdtemp(base_template), nullptr);
  const std::string scratch = base_template;
  const std::string mount_point = scratch + "/fs";
  ASSERT_EQ(mkdir(mount_point.c_str(), 0755), 0);
  std::unique_ptr<LoopExt4> fs =
      LoopExt4::Make(scratch + "/image", mount_point);
  ASSERT_NE(fs, nullptr);
  ASSERT_EQ(mkdir((mount_point + "/agents").c_str(), 0755), 0);
  ASSERT_EQ(chmod(scratch.c_str(), 0755), 0);
  // A file that was there before start counts.
  WriteFileOrDie(mount_point + "/agents/" + std::to_string(kNobody), "");
  ASSERT_EQ(
      unlink((mount_point + "/agents/" + std::to_string(kNobody)).c_str()), 0);
  ASSERT_EQ(
      mkdir((mount_point + "/agents/" + std::to_string(kNobody)).c_str(), 0755),
      0);
  WriteFileOrDie(mount_point + "/agents/" + std::to_string(kNobody) + "/old",
                 std::string(1000, 'o'));
  ASSERT_NO_FATAL_FAILURE(
      Start(absl::StrCat("rule { root: \"", mount_point,
                         "/agents/${uid}\" name: \"q\" allow_uid: ", kNobody,
                         " max_bytes: 5000 max_files: 4 }\n")));

  // 1000 (old) + 2000 + 2000 = 5000: at the cap, accepted.
  ASSERT_EQ(Ctl(*daemon_, kNobody, {"write", "q:a"}, std::string(2000, 'a'))
                .exit_code,
            0);
  CommandResult b =
      Ctl(*daemon_, kNobody, {"write", "q:b"}, std::string(2000, 'b'));
  ASSERT_EQ(b.exit_code, 0) << b.err;
  // One byte more: refused, naming the cap, nothing written.
  CommandResult over = Ctl(*daemon_, kNobody, {"write", "q:c"}, "c");
  EXPECT_EQ(over.exit_code, 8) << over.err;
  EXPECT_THAT(over.err, HasSubstr("5000 bytes (max_bytes)"));
  const std::string dir = mount_point + "/agents/" + std::to_string(kNobody);
  EXPECT_FALSE(PathExists(dir + "/c"));
  EXPECT_THAT(TempFilesIn(dir), IsEmpty());
  // Replacing a file by one of the same size needs no room.
  EXPECT_EQ(Ctl(*daemon_, kNobody, {"write", "q:b"}, std::string(2000, 'B'))
                .exit_code,
            0);
  // A stream over the cap is refused as well.
  const std::string big = scratch + "/big";
  WriteFileOrDie(big, std::string(5 << 20, 'z'));
  ASSERT_EQ(chmod(big.c_str(), 0644), 0);
  CommandResult stream = Ctl(
      *daemon_, kNobody, {"write", "q:big", "--from=" + big, "--no-progress"});
  EXPECT_EQ(stream.exit_code, 8) << stream.err;
  EXPECT_FALSE(PathExists(dir + "/big"));
  // A remove frees room again; then the file count caps at 4 (old, b, c, d).
  ASSERT_EQ(Ctl(*daemon_, kNobody, {"rm", "q:a"}).exit_code, 0);
  CommandResult c = Ctl(*daemon_, kNobody, {"write", "q:c"}, "c");
  EXPECT_EQ(c.exit_code, 0) << c.err;
  CommandResult d = Ctl(*daemon_, kNobody, {"write", "q:d"}, "d");
  EXPECT_EQ(d.exit_code, 0) << d.err;
  CommandResult fifth = Ctl(*daemon_, kNobody, {"write", "q:e"}, "e");
  EXPECT_EQ(fifth.exit_code, 8) << fifth.err;
  EXPECT_THAT(fifth.err, HasSubstr("4 files (max_files)"));
  EXPECT_FALSE(PathExists(dir + "/e"));

  // The count is rebuilt from disk at the next start: still 4 files.
  daemon_->StopWith(SIGTERM);
  ASSERT_TRUE(daemon_->Restart().ok());
  CommandResult after = Ctl(*daemon_, kNobody, {"write", "q:e"}, "e");
  EXPECT_EQ(after.exit_code, 8) << after.err;
  EXPECT_THAT(after.err, HasSubstr("4 files (max_files)"));
  // A remove as a root's first use after start: 1000 + 2000 + 1 bytes
  // stay, so 2000 more would pass the cap by one byte.
  ASSERT_TRUE(daemon_->StopWith(SIGTERM) == 0);
  ASSERT_TRUE(daemon_->Restart().ok());
  ASSERT_EQ(Ctl(*daemon_, kNobody, {"rm", "q:d"}).exit_code, 0);
  CommandResult by_one =
      Ctl(*daemon_, kNobody, {"write", "q:e"}, std::string(2000, 'e'));
  EXPECT_EQ(by_one.exit_code, 8) << by_one.err;
  EXPECT_THAT(by_one.err, HasSubstr("5000 bytes (max_bytes)"));
  EXPECT_EQ(Ctl(*daemon_, kNobody, {"write", "q:e"}, std::string(1999, 'e'))
                .exit_code,
            0);
  daemon_.reset();
  fs.reset();
  RunAsRoot({"/bin/rm", "-rf", scratch});
}

TEST_F(CallerRootsTest, CallerInAMountNamespaceThatSeesOnlyTheSocket) {
  if (geteuid() != 0 || access("/usr/bin/unshare", X_OK) != 0) {
    GTEST_SKIP() << "needs root and unshare";
  }
  ASSERT_NO_FATAL_FAILURE(Start(absl::StrCat(
      "rule { root: \"{base}/agents/${uid}\" name: \"state\" allow_uid: ",
      kNobody, " create_root: true }\n")));
  ASSERT_EQ(chmod(daemon_->base().c_str(), 0755), 0);
  // In its own mount namespace the caller's whole root is an empty tmpfs
  // holding only the daemon's socket (bind-mounted) and durablectl (with
  // the libraries it loads, for a dynamically linked build): no root of the
  // policy, nothing of the host's tree.
  const std::string new_root = daemon_->base() + "-sandbox";
  ASSERT_EQ(mkdir(new_root.c_str(), 0755), 0);
  const std::string script = absl::StrCat(
      "set -e; N=", new_root, "; mount --make-rprivate /; ",
      "mount -t tmpfs -o mode=0755 tmpfs $N; ",
      "touch $N/durable.sock; mount --bind ", daemon_->socket_path(),
      " $N/durable.sock; ",
      "mkdir $N/bin; touch $N/bin/durablectl; mount --bind ", DURABLECTL_BINARY,
      " $N/bin/durablectl; ", "for lib in $(ldd ", DURABLECTL_BINARY,
      " 2>/dev/null | grep -o '/[^ ]*' || true); do ",
      "mkdir -p $N$(dirname $lib); touch $N$lib; mount --bind $lib $N$lib; "
      "done; ",
      // What the sandbox sees: the socket, durablectl, libraries; no data.
      "test ! -e $N", daemon_->base(), "; ",
      "test -z \"$(find $N -type f ! -path '*/lib*' ! -name durablectl ! -name "
      "durable.sock)\"; ",
      "exec chroot --userspec=", kNobody, ":", kNobody, " $N /bin/durablectl",
      " --socket=/durable.sock write state:from-the-sandbox");
  CommandResult result =
      RunAsRoot({"/usr/bin/unshare", "--mount", "/bin/sh", "-c", script},
                "hello from inside");
  rmdir(new_root.c_str());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("state:from-the-sandbox"));
  EXPECT_EQ(ReadFile(daemon_->Path(
                         absl::StrCat("agents/", kNobody, "/from-the-sandbox")))
                .value_or(""),
            "hello from inside");
}

}  // namespace
}  // namespace durable::test
