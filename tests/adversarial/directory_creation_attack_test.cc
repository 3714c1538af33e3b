// Directories created for a write (create_parents) in a parent that others
// may write (group-writable, not sticky): between the daemon's mkdir and
// its chown another process can put a victim's directory under the new
// name. The daemon must notice and leave the victim's directory alone
// instead of giving it to the caller.
#include <fcntl.h>
#include <grp.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "durable/client.h"
#include "server/engine/posix_file_system.h"
#include "server/policy/config_loader.h"
#include "server/policy/path_resolver.h"
#include "server/policy/policy_store.h"
#include "tests/adversarial/adversarial_support.h"
#include "tests/support/forwarding_file_system.h"

namespace durable::test::adversarial {
namespace {

using testing::Gt;
using testing::HasSubstr;

constexpr uid_t kCaller = 4000;

struct stat LstatOrDie(const std::string& path) {
  struct stat st = {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st;
}

// Plays the other process at the step after mkdir: moves the daemon's new
// directory aside and renames the victim's directory to its name.
class SwapAfterMakeDirectory : public ForwardingFileSystem {
 public:
  using ForwardingFileSystem::ForwardingFileSystem;

  absl::Status MakeDirectory(int dir_fd, const std::string& name) override {
    absl::Status made = base()->MakeDirectory(dir_fd, name);
    if (made.ok() && name == "sub") {
      EXPECT_EQ(renameat(dir_fd, "sub", dir_fd, "ours"), 0);
      EXPECT_EQ(renameat(dir_fd, "victim", dir_fd, "sub"), 0);
    }
    return made;
  }
};

TEST(DirectoryCreationSwap, VictimDirectorySwappedInAfterMkdirIsNotTaken) {
  SKIP_UNLESS_ROOT();
  char path[] = "/tmp/durabled-directory-swap.XXXXXX";
  ASSERT_NE(mkdtemp(path), nullptr);
  const std::string root = path;
  ASSERT_EQ(chmod(root.c_str(), 0777), 0);  // writable by all, not sticky
  const std::string victim = root + "/victim";
  ASSERT_EQ(mkdir(victim.c_str(), 0750), 0);
  ASSERT_EQ(chown(victim.c_str(), kNeighbour, kNeighbour), 0);
  const ino_t victim_inode = LstatOrDie(victim).st_ino;

  absl::StatusOr<durable::v1::DaemonConfig> config = ParseConfig(
      absl::StrCat("rule { root: \"", root, "\" allow_uid: ", kCaller,
                   " allow_create_parents: true create_owner: OWNER_CALLER "
                   "directory_mode: 0777 }\n"),
      "test.conf");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::StatusOr<std::shared_ptr<const ActivePolicy>> policy =
      BuildActivePolicy(*config);
  ASSERT_TRUE(policy.ok()) << policy.status();
  PosixFileSystem posix;
  SwapAfterMakeDirectory fs(&posix);
  PeerCredentials caller;
  caller.uid = kCaller;
  caller.gid = kCaller;
  ResolveOptions options;
  options.create_parents = true;

  absl::StatusOr<ResolvedTarget> target =
      ResolveTarget(*policy, fs, caller, root + "/sub/file", options);

  ASSERT_FALSE(target.ok()) << "resolved into the victim's directory";
  EXPECT_EQ(target.status().code(), absl::StatusCode::kAborted)
      << target.status();
  EXPECT_THAT(target.status().message(),
              HasSubstr("replaced by another process"));
  struct stat st = LstatOrDie(root + "/sub");
  EXPECT_EQ(st.st_ino, victim_inode);
  EXPECT_EQ(st.st_uid, kNeighbour);
  EXPECT_EQ(st.st_gid, kNeighbour);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  std::filesystem::remove_all(root);
}

// The same race with real processes: an attacker of another uid, allowed
// to write the group-writable parent, keeps exchanging the victim's
// directory with the name the daemon is about to create, while writes
// with create_parents run. The victim's directory must never change owner
// or mode, and the race must have been hit.
class DirectoryCreationRace : public AdversarialTest {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "needs root (other uids)";
    ASSERT_NO_FATAL_FAILURE(
        StartDaemon("socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
                    "rule { root: \"{base}/data\" allow_uid: {uid} "
                    "allow_create_parents: true create_owner: OWNER_CALLER }\n",
                    {}, {"data"}));
  }
};

TEST_F(DirectoryCreationRace, VictimDirectoryNeverChangesOwner) {
  const std::string shared = Data() + "/shared";
  ASSERT_EQ(mkdir(shared.c_str(), 0775), 0);
  ASSERT_EQ(chown(shared.c_str(), 0, kSharedGroup), 0);
  ASSERT_EQ(chmod(shared.c_str(), 0775), 0);  // group-writable, not sticky
  const std::string victim = shared + "/victim";
  ASSERT_EQ(mkdir(victim.c_str(), 0700), 0);
  ASSERT_EQ(chown(victim.c_str(), kNeighbour, kNeighbour), 0);
  const ino_t victim_inode = LstatOrDie(victim).st_ino;
  ArmSentinel();

  // Shared with the attacker: which name to attack, and when to stop.
  struct Control {
    std::atomic<int> round{-1};
    std::atomic<bool> stop{false};
    std::atomic<long> swaps{0};
  };
  void* memory = mmap(nullptr, sizeof(Control), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(memory, MAP_FAILED);
  Control* control = new (memory) Control;
  UniqueFd shared_fd(open(shared.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(shared_fd.valid());

  const pid_t attacker = fork();
  ASSERT_GE(attacker, 0);
  if (attacker == 0) {
    // Async-signal-safe calls only.
    const gid_t groups[] = {kSharedGroup};
    if (setgroups(1, groups) != 0 || setgid(kNobody) != 0 ||
        setuid(kNobody) != 0) {
      _exit(2);
    }
    while (!control->stop.load()) {
      const int round = control->round.load();
      if (round < 0) continue;
      char name[16] = "sub";
      // "sub<round>", without snprintf.
      int n = round, digits = 0;
      char reversed[12];
      do {
        reversed[digits++] = static_cast<char>('0' + n % 10);
        n /= 10;
      } while (n > 0);
      for (int i = 0; i < digits; ++i) name[3 + i] = reversed[digits - 1 - i];
      name[3 + digits] = '\0';
      if (syscall(SYS_renameat2, shared_fd.get(), name, shared_fd.get(),
                  "victim", RENAME_EXCHANGE) == 0) {
        for (volatile int spin = 0; spin < 200; ++spin) {
        }
        // Put the victim back under its own name.
        while (syscall(SYS_renameat2, shared_fd.get(), name, shared_fd.get(),
                       "victim", RENAME_EXCHANGE) != 0) {
        }
        control->swaps.fetch_add(1);
      }
    }
    _exit(0);
  }
  // However the test ends, the attacker stops and is reaped.
  struct StopAttacker {
    Control* control;
    pid_t pid;
    ~StopAttacker() {
      control->stop.store(true);
      if (pid > 0) waitpid(pid, nullptr, 0);
      munmap(control, sizeof(Control));
    }
  } stop_attacker{control, attacker};

  ClientOptions options;
  options.socket_path = Socket();
  options.timeout = absl::Seconds(20);
  Client client(options);
  WriteOptions write_options;
  write_options.create_parents = true;
  constexpr int kRounds = 400;
  int ok = 0, aborted = 0, other = 0;
  std::string others;
  for (int round = 0; round < kRounds; ++round) {
    control->round.store(round);
    absl::StatusOr<WriteResult> result = client.Write(
        absl::StrCat(shared, "/sub", round, "/f"), "data", write_options);
    if (result.ok()) {
      ++ok;
    } else if (absl::IsAborted(result.status())) {
      ++aborted;
    } else {
      ++other;
      others = std::string(result.status().message());
    }
    struct stat st = LstatOrDie(shared + "/victim");
    if (st.st_ino == victim_inode) {
      ASSERT_EQ(st.st_uid, kNeighbour) << "round " << round;
      ASSERT_EQ(st.st_mode & 07777, 0700u) << "round " << round;
    }
  }
  control->stop.store(true);
  int status = 0;
  ASSERT_EQ(waitpid(attacker, &status, 0), attacker);
  stop_attacker.pid = 0;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  struct stat st = LstatOrDie(victim);
  ASSERT_EQ(st.st_ino, victim_inode) << "the victim's directory moved";
  EXPECT_EQ(st.st_uid, kNeighbour);
  EXPECT_EQ(st.st_gid, kNeighbour);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_THAT(control->swaps.load(), Gt(0));
  EXPECT_THAT(ok, Gt(0));
  EXPECT_THAT(aborted, Gt(0)) << "the race was never hit; the test proves "
                                 "nothing ("
                              << ok << " OK)";
  EXPECT_EQ(other, 0) << others;
}

}  // namespace
}  // namespace durable::test::adversarial

int main(int argc, char** argv) {
  return durable::test::adversarial::AdversarialMain(argc, argv);
}
