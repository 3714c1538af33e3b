#include "server/transport/peer_cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_cgroups.h"
#include "server/base/unique_fd.h"
#include "server/transport/socket_credentials.h"
#include "tests/support/status_matchers.h"

namespace durable {
namespace {

using test::IsOk;
using test::StatusIs;
using testing::HasSubstr;
using testing::Not;

// --- UnitFromCgroup ---------------------------------------------------------

TEST(UnitFromCgroupTest, SystemService) {
  EXPECT_EQ(UnitFromCgroup("/system.slice/agent@7.service"), "agent@7.service");
  EXPECT_EQ(UnitFromCgroup("/system.slice/ssh.service"), "ssh.service");
}

TEST(UnitFromCgroupTest, UserManagerOwnsItsSubtree) {
  // The user's own manager names the units below it; the unit is the
  // first one, which the system manager made.
  EXPECT_EQ(UnitFromCgroup("/user.slice/user-1000.slice/user@1000.service/"
                           "app.slice/x.service"),
            "user@1000.service");
}

TEST(UnitFromCgroupTest, ScopesAndOtherTypes) {
  EXPECT_EQ(UnitFromCgroup("/user.slice/user-1000.slice/session-3.scope"),
            "session-3.scope");
  EXPECT_EQ(UnitFromCgroup("/init.scope"), "init.scope");
  for (absl::string_view suffix :
       {".service", ".scope", ".socket", ".mount", ".swap", ".target",
        ".device", ".automount", ".timer", ".path"}) {
    const std::string unit = absl::StrCat("u", suffix);
    EXPECT_EQ(UnitFromCgroup(absl::StrCat("/system.slice/", unit)), unit);
  }
}

TEST(UnitFromCgroupTest, NestedSlicesAreSkipped) {
  EXPECT_EQ(UnitFromCgroup("/a.slice/a-b.slice/a-b-c.slice/x.service"),
            "x.service");
  EXPECT_EQ(UnitFromCgroup("/-.slice/x.service"), "x.service");
  EXPECT_EQ(UnitFromCgroup("//system.slice//x.service//"), "x.service");
}

TEST(UnitFromCgroupTest, SubCgroupsOfAUnitBelongToIt) {
  EXPECT_EQ(UnitFromCgroup("/system.slice/agent@7.service/worker"),
            "agent@7.service");
  // A delegated unit naming its own sub-cgroup like a unit gains nothing.
  EXPECT_EQ(UnitFromCgroup("/system.slice/agent@7.service/sshd.service"),
            "agent@7.service");
}

TEST(UnitFromCgroupTest, NoUnit) {
  EXPECT_EQ(UnitFromCgroup(""), "");
  EXPECT_EQ(UnitFromCgroup("/"), "");
  EXPECT_EQ(UnitFromCgroup("/system.slice"), "");
  EXPECT_EQ(UnitFromCgroup("/user.slice/user-1000.slice"), "");
  // Only what follows the slices counts: a foreign hierarchy (a container
  // manager's, a delegated subtree) cannot lend a unit name to a process
  // deeper down.
  EXPECT_EQ(UnitFromCgroup("/machine/x.service"), "");
  EXPECT_EQ(UnitFromCgroup("/system.slice/worker/x.service"), "");
  EXPECT_EQ(UnitFromCgroup("/probe-1234"), "");
}

TEST(UnitFromCgroupTest, InvalidUnitNamesAreNone) {
  EXPECT_EQ(UnitFromCgroup("/system.slice/.service"), "");
  EXPECT_EQ(UnitFromCgroup("/system.slice/foo@.service"), "");  // template
  EXPECT_EQ(UnitFromCgroup("/system.slice/@x.service"), "");
  EXPECT_EQ(UnitFromCgroup("/system.slice/a@b@c.service"), "");
  EXPECT_EQ(UnitFromCgroup("/system.slice/bad name.service"), "");
  EXPECT_EQ(UnitFromCgroup("/system.slice/x.unknowntype"), "");
  EXPECT_EQ(UnitFromCgroup("/system.slice/x.slice.d"), "");
  EXPECT_EQ(UnitFromCgroup("/system.slice/x.service\x1b"), "");
  EXPECT_EQ(UnitFromCgroup("/system.slice/" + std::string(248, 'a') +
                           ".service"),  // 256 bytes, over UNIT_NAME_MAX
            "");
  EXPECT_EQ(
      UnitFromCgroup("/system.slice/" + std::string(247, 'a') + ".service"),
      std::string(247, 'a') + ".service");
  // A slice holds no processes of its own, and has no instances.
  EXPECT_EQ(UnitFromCgroup("/foo@bar.slice/x.service"), "");
}

TEST(UnitFromCgroupTest, SystemdEscapeIsRemoved) {
  // systemd creates unit "cpu.service" as cgroup "_cpu.service".
  EXPECT_EQ(UnitFromCgroup("/system.slice/_cpu.service"), "cpu.service");
  EXPECT_EQ(UnitFromCgroup("/_system.slice/x.service"), "x.service");
}

// --- Processes and cgroups --------------------------------------------------

int PidfdOpen(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// The "0::" line of /proc/<pid>/cgroup, or "" if there is none.
std::string UnifiedCgroupOf(pid_t pid) {
  for (absl::string_view line : absl::StrSplit(
           ReadWholeFile(absl::StrCat("/proc/", pid, "/cgroup")), '\n')) {
    if (absl::ConsumePrefix(&line, "0::")) return std::string(line);
  }
  return "";
}

// A forked child that does nothing until it is ended. Ended (killed and
// reaped) on destruction if still running.
class Child {
 public:
  static std::unique_ptr<Child> Start() {
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) return nullptr;
    pid_t pid = fork();
    if (pid < 0) return nullptr;
    if (pid == 0) {
      close(pipe_fds[1]);
      char byte;
      while (read(pipe_fds[0], &byte, 1) < 0 && errno == EINTR) {
      }
      _exit(0);
    }
    close(pipe_fds[0]);
    return std::unique_ptr<Child>(new Child(pid, UniqueFd(pipe_fds[1])));
  }

  ~Child() { EndAndReap(); }

  pid_t pid() const { return pid_; }

  // Kills the child and waits for it, so that its pid is free for reuse.
  void EndAndReap() {
    if (reaped_) return;
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }

 private:
  Child(pid_t pid, UniqueFd release)
      : pid_(pid), release_(std::move(release)) {}

  pid_t pid_;
  UniqueFd release_;  // the child exits when this closes
  bool reaped_ = false;
};

// A cgroup "<unique>.slice/agent@<n>.service" made for one test under the
// root of the cgroup v2 hierarchy, removed (with its slice) at the end.
class TestCgroup {
 public:
  // Null, with `why`, where this process may not make one.
  static std::unique_ptr<TestCgroup> Create(std::string* why) {
    if (geteuid() != 0) {
      *why = "creating a cgroup needs root";
      return nullptr;
    }
    std::optional<test::Cgroup2Mount> mount = test::FindCgroup2Mount();
    if (!mount.has_value()) {
      *why = "no cgroup2 hierarchy in /proc/self/mountinfo";
      return nullptr;
    }
    static std::atomic<int> next{0};
    const int n = next++;
    const std::string slice =
        absl::StrCat("durabled-peer-cgroup-test-", getpid(), "-", n, ".slice");
    const std::string unit = absl::StrCat("agent@", n, ".service");
    auto cgroup = std::unique_ptr<TestCgroup>(new TestCgroup());
    cgroup->slice_directory_ = absl::StrCat(mount->mount_point, "/", slice);
    if (mkdir(cgroup->slice_directory_.c_str(), 0755) != 0) {
      *why = absl::StrCat("mkdir ", cgroup->slice_directory_, ": ",
                          strerror(errno));
      return nullptr;
    }
    cgroup->directory_ = absl::StrCat(cgroup->slice_directory_, "/", unit);
    if (mkdir(cgroup->directory_.c_str(), 0755) != 0) {
      *why = absl::StrCat("mkdir ", cgroup->directory_, ": ", strerror(errno));
      cgroup->directory_.clear();
      return nullptr;
    }
    cgroup->path_ = absl::StrCat(mount->root == "/" ? "" : mount->root, "/",
                                 slice, "/", unit);
    cgroup->unit_ = unit;
    return cgroup;
  }

  ~TestCgroup() {
    // Emptied by now (its processes reaped); the kernel may take a moment
    // to notice.
    for (const std::string& directory : {directory_, slice_directory_}) {
      if (directory.empty()) continue;
      for (int attempt = 0; attempt < 100; ++attempt) {
        if (rmdir(directory.c_str()) == 0 || errno != EBUSY) break;
        absl::SleepFor(absl::Milliseconds(10));
      }
    }
  }

  // Moves process `pid` into this cgroup.
  bool Add(pid_t pid) {
    const std::string procs = directory_ + "/cgroup.procs";
    UniqueFd fd(open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) return false;
    const std::string text = absl::StrCat(pid);
    return write(fd.get(), text.data(), text.size()) ==
           static_cast<ssize_t>(text.size());
  }

  // The cgroup as /proc/<pid>/cgroup names it.
  const std::string& path() const { return path_; }
  const std::string& unit() const { return unit_; }
  const std::string& directory() const { return directory_; }

 private:
  TestCgroup() = default;

  std::string slice_directory_;
  std::string directory_;
  std::string path_;
  std::string unit_;
};

#define CREATE_TEST_CGROUP_OR_SKIP(name)                              \
  std::string name##_why;                                             \
  std::unique_ptr<TestCgroup> name = TestCgroup::Create(&name##_why); \
  if (name == nullptr) {                                              \
    GTEST_SKIP() << "no test cgroup: " << name##_why;                 \
  }

// A child running in a cgroup of its own, with a pidfd for it.
struct ChildInCgroup {
  std::unique_ptr<TestCgroup> cgroup;
  std::unique_ptr<Child> child;
  UniqueFd pidfd;
};

// Starts a child, moves it into a fresh test cgroup, takes its pidfd.
// Null (with `why`) if that cannot be done here.
std::unique_ptr<ChildInCgroup> StartChildInCgroup(std::string* why) {
  auto result = std::make_unique<ChildInCgroup>();
  result->cgroup = TestCgroup::Create(why);
  if (result->cgroup == nullptr) return nullptr;
  result->child = Child::Start();
  if (result->child == nullptr) {
    *why = absl::StrCat("fork: ", strerror(errno));
    return nullptr;
  }
  if (!result->cgroup->Add(result->child->pid())) {
    *why = absl::StrCat("moving pid ", result->child->pid(), " into ",
                        result->cgroup->directory(), ": ", strerror(errno));
    return nullptr;
  }
  result->pidfd = UniqueFd(PidfdOpen(result->child->pid()));
  if (!result->pidfd.valid()) {
    *why = absl::StrCat("pidfd_open: ", strerror(errno));
    return nullptr;
  }
  return result;
}

// Gives the next new process pid `pid` by writing ns_last_pid (root in
// the pid namespace's owning user namespace), and starts a child there.
// Null if the pid could not be had (another process took it first, or
// ns_last_pid is not writable).
std::unique_ptr<Child> StartChildWithPid(pid_t pid) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    {
      UniqueFd last(open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC));
      if (!last.valid()) return nullptr;
      const std::string text = absl::StrCat(pid - 1);
      if (write(last.get(), text.data(), text.size()) !=
          static_cast<ssize_t>(text.size())) {
        return nullptr;
      }
    }
    std::unique_ptr<Child> child = Child::Start();
    if (child == nullptr) return nullptr;
    if (child->pid() == pid) return child;
  }
  return nullptr;
}

TEST(ReadCgroupOfPidfdTest, OwnProcess) {
  UniqueFd pidfd(PidfdOpen(getpid()));
  ASSERT_TRUE(pidfd.valid()) << strerror(errno);
  absl::StatusOr<std::string> cgroup = ReadCgroupOfPidfd(pidfd.get(), getpid());
  ASSERT_THAT(cgroup, IsOk());
  EXPECT_EQ(*cgroup, UnifiedCgroupOf(getpid()));
}

TEST(ReadCgroupOfPidfdTest, LiveChildInTestCgroup) {
  std::string why;
  std::unique_ptr<ChildInCgroup> running = StartChildInCgroup(&why);
  if (running == nullptr) GTEST_SKIP() << why;

  absl::StatusOr<std::string> cgroup =
      ReadCgroupOfPidfd(running->pidfd.get(), running->child->pid());
  ASSERT_THAT(cgroup, IsOk());
  EXPECT_EQ(*cgroup, running->cgroup->path());
  EXPECT_EQ(UnitFromCgroup(*cgroup), running->cgroup->unit());
  running->child->EndAndReap();
}

TEST(ReadCgroupOfPidfdTest, PidOfAnotherProcessIsRefused) {
  // The pidfd names one live child, the claimed pid another.
  std::unique_ptr<Child> first = Child::Start();
  std::unique_ptr<Child> second = Child::Start();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  UniqueFd pidfd(PidfdOpen(first->pid()));
  ASSERT_TRUE(pidfd.valid()) << strerror(errno);

  EXPECT_THAT(ReadCgroupOfPidfd(pidfd.get(), second->pid()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr(absl::StrCat("names pid ", first->pid()))));
  EXPECT_THAT(ReadCgroupOfPidfd(pidfd.get(), first->pid()), IsOk());
}

// SO_PEERCRED's pid outlives the process: once it exited and was reaped,
// the number may name someone else. The pidfd knows it is gone.
TEST(ReadCgroupOfPidfdTest, ExitedAndReapedProcessIsRefused) {
  std::unique_ptr<Child> gone = Child::Start();
  ASSERT_NE(gone, nullptr);
  UniqueFd pidfd(PidfdOpen(gone->pid()));
  ASSERT_TRUE(pidfd.valid()) << strerror(errno);
  const pid_t gone_pid = gone->pid();
  gone->EndAndReap();

  // Another process, in a cgroup of its own where that can be made, is
  // what the stale pid might name now.
  std::string why;
  std::unique_ptr<ChildInCgroup> other = StartChildInCgroup(&why);
  std::unique_ptr<Child> plain_other;
  pid_t other_pid;
  if (other != nullptr) {
    other_pid = other->child->pid();
  } else {
    plain_other = Child::Start();
    ASSERT_NE(plain_other, nullptr);
    other_pid = plain_other->pid();
  }

  EXPECT_THAT(ReadCgroupOfPidfd(pidfd.get(), other_pid),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("has exited")));
  EXPECT_THAT(ReadCgroupOfPidfd(pidfd.get(), gone_pid),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("has exited")));
}

// The real reuse: the stale pid is handed to a new process in another
// cgroup, and /proc/<pid>/cgroup then shows that process's cgroup.
TEST(ReadCgroupOfPidfdTest, ReusedPidIsRefused) {
  std::string why;
  std::unique_ptr<ChildInCgroup> original = StartChildInCgroup(&why);
  if (original == nullptr) GTEST_SKIP() << why;
  CREATE_TEST_CGROUP_OR_SKIP(impostor_cgroup);
  const pid_t pid = original->child->pid();
  original->child->EndAndReap();

  std::unique_ptr<Child> impostor = StartChildWithPid(pid);
  if (impostor == nullptr) {
    GTEST_SKIP() << "could not hand pid " << pid << " to a new process "
                 << "(ns_last_pid not writable, or other processes forking)";
  }
  ASSERT_TRUE(impostor_cgroup->Add(pid)) << strerror(errno);
  ASSERT_EQ(UnifiedCgroupOf(pid), impostor_cgroup->path());

  EXPECT_THAT(ReadCgroupOfPidfd(original->pidfd.get(), pid),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("has exited")));
}

// The window the second check closes: the process ends after the pidfd
// was found to hold the pid, before its cgroup file is opened.
TEST(ReadCgroupOfPidfdTest, ProcessEndingBeforeTheReadIsRefused) {
  std::unique_ptr<Child> child = Child::Start();
  ASSERT_NE(child, nullptr);
  UniqueFd pidfd(PidfdOpen(child->pid()));
  ASSERT_TRUE(pidfd.valid()) << strerror(errno);

  EXPECT_THAT(peer_cgroup_internal::ReadCgroupOfPidfd(
                  pidfd.get(), child->pid(), [&] { child->EndAndReap(); }),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("exited while its cgroup was read")));
}

TEST(ReadCgroupOfPidfdTest, PidReusedBeforeTheReadIsRefused) {
  std::string why;
  std::unique_ptr<ChildInCgroup> original = StartChildInCgroup(&why);
  if (original == nullptr) GTEST_SKIP() << why;
  CREATE_TEST_CGROUP_OR_SKIP(impostor_cgroup);
  const pid_t pid = original->child->pid();

  std::unique_ptr<Child> impostor;
  std::string impostor_cgroup_seen;
  absl::StatusOr<std::string> cgroup =
      peer_cgroup_internal::ReadCgroupOfPidfd(original->pidfd.get(), pid, [&] {
        original->child->EndAndReap();
        impostor = StartChildWithPid(pid);
        if (impostor != nullptr && impostor_cgroup->Add(pid)) {
          impostor_cgroup_seen = UnifiedCgroupOf(pid);
        }
      });
  if (impostor == nullptr) {
    GTEST_SKIP() << "could not hand pid " << pid << " to a new process "
                 << "(ns_last_pid not writable, or other processes forking)";
  }
  // Without the second check, the read would have returned this:
  ASSERT_EQ(impostor_cgroup_seen, impostor_cgroup->path());
  EXPECT_THAT(cgroup, StatusIs(absl::StatusCode::kNotFound,
                               HasSubstr("exited while its cgroup was read")));
}

TEST(ReadCgroupOfPidfdTest, NotAPidfdIsRefused) {
  UniqueFd file(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(file.valid());
  EXPECT_THAT(
      ReadCgroupOfPidfd(file.get(), getpid()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a pidfd")));
  // Not open at all: refused, and not taken for a /proc that hides pids.
  absl::StatusOr<std::string> closed = ReadCgroupOfPidfd(100000, getpid());
  EXPECT_THAT(closed, Not(IsOk()));
  EXPECT_FALSE(ProcHidesPeer(closed.status()));
}

TEST(ReadCgroupOfPidfdTest, NonPositivePidIsRefused) {
  UniqueFd pidfd(PidfdOpen(getpid()));
  ASSERT_TRUE(pidfd.valid()) << strerror(errno);
  EXPECT_THAT(ReadCgroupOfPidfd(pidfd.get(), 0),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(ReadCgroupOfPidfd(pidfd.get(), -1),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

// --- Over a socket ----------------------------------------------------------

int CountOpenFds() {
  int count = 0;
  UniqueFd directory(open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  std::unique_ptr<DIR, int (*)(DIR*)> listing(fdopendir(directory.release()),
                                              closedir);
  while (readdir(listing.get()) != nullptr) ++count;
  return count;
}

// A pidfd for a socket's peer, or a reason to skip on an old kernel.
#define PEER_PIDFD_OR_SKIP(name, socket_fd)                          \
  absl::StatusOr<UniqueFd> name = PeerPidfd(socket_fd);              \
  if (!name.ok() && KernelLacksPeerPidfd(name.status())) {           \
    GTEST_SKIP() << "kernel has no SO_PEERPIDFD: " << name.status(); \
  }                                                                  \
  ASSERT_THAT(name, IsOk())

TEST(PeerPidfdTest, SocketpairNamesItsCreator) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  UniqueFd left(fds[0]), right(fds[1]);

  PEER_PIDFD_OR_SKIP(pidfd, left.get());
  EXPECT_NE(fcntl(pidfd->get(), F_GETFD) & FD_CLOEXEC, 0);
  absl::StatusOr<std::string> cgroup =
      ReadCgroupOfPidfd(pidfd->get(), getpid());
  ASSERT_THAT(cgroup, IsOk());
  EXPECT_EQ(*cgroup, UnifiedCgroupOf(getpid()));

  const int fds_before = CountOpenFds();
  absl::StatusOr<PeerCredentials> peer = ReadPeerCredentials(right.get());
  ASSERT_THAT(peer, IsOk());
  EXPECT_EQ(CountOpenFds(), fds_before) << "the pidfd leaked";
  EXPECT_EQ(peer->pid, getpid());
  EXPECT_TRUE(peer->cgroup_known);
  EXPECT_EQ(peer->cgroup, UnifiedCgroupOf(getpid()));
  EXPECT_EQ(peer->unit, UnitFromCgroup(peer->cgroup));
}

// A listening Unix socket at an abstract address unique to this test.
struct Listener {
  UniqueFd fd;
  sockaddr_un address = {};
  socklen_t address_length = 0;
};

Listener Listen() {
  static std::atomic<int> next{0};
  Listener listener;
  listener.fd = UniqueFd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  listener.address.sun_family = AF_UNIX;
  const std::string name =
      absl::StrCat("durabled-peer-cgroup-test-", getpid(), "-", next++);
  // Abstract: sun_path[0] is NUL, the name follows.
  memcpy(listener.address.sun_path + 1, name.data(), name.size());
  listener.address_length =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (bind(listener.fd.get(),
           reinterpret_cast<const sockaddr*>(&listener.address),
           listener.address_length) != 0 ||
      listen(listener.fd.get(), 4) != 0) {
    listener.fd.reset();
  }
  return listener;
}

// A child that connects to `listener` once told to, then holds the
// connection until it is ended (on destruction at the latest).
class Connector {
 public:
  explicit Connector(const Listener& listener) {
    int go[2];
    if (pipe2(go, O_CLOEXEC) != 0) return;
    pid_t pid = fork();
    if (pid < 0) return;
    if (pid == 0) {
      // Only async-signal-safe calls after fork.
      close(go[1]);
      char byte;
      if (read(go[0], &byte, 1) != 1) _exit(1);
      int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0 ||
          connect(fd, reinterpret_cast<const sockaddr*>(&listener.address),
                  listener.address_length) != 0) {
        _exit(2);
      }
      while (read(go[0], &byte, 1) < 0 && errno == EINTR) {
      }
      _exit(0);
    }
    close(go[0]);
    pid_ = pid;
    go_ = UniqueFd(go[1]);
  }
  Connector(const Connector&) = delete;
  Connector& operator=(const Connector&) = delete;
  ~Connector() { EndAndReap(); }

  // -1 if it could not be started.
  pid_t pid() const { return pid_; }

  bool Connect() { return write(go_.get(), "c", 1) == 1; }

  void EndAndReap() {
    if (pid_ <= 0) return;
    go_.reset();
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  UniqueFd go_;  // a byte: connect; closed: exit
};

UniqueFd AcceptWithin(int listener, absl::Duration timeout) {
  pollfd watched = {listener, POLLIN, 0};
  if (poll(&watched, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) !=
      1) {
    return UniqueFd();
  }
  return UniqueFd(accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
}

TEST(ReadPeerCredentialsTest, ConnectorsCgroupAndUnit) {
  CREATE_TEST_CGROUP_OR_SKIP(cgroup);
  Listener listener = Listen();
  ASSERT_TRUE(listener.fd.valid()) << strerror(errno);
  Connector connector(listener);
  ASSERT_GT(connector.pid(), 0) << strerror(errno);
  ASSERT_TRUE(cgroup->Add(connector.pid())) << strerror(errno);
  ASSERT_TRUE(connector.Connect());

  UniqueFd connection = AcceptWithin(listener.fd.get(), absl::Seconds(10));
  ASSERT_TRUE(connection.valid()) << "the child did not connect";

  // The raw pieces: SO_PEERPIDFD and the reader.
  PEER_PIDFD_OR_SKIP(pidfd, connection.get());
  absl::StatusOr<std::string> read =
      ReadCgroupOfPidfd(pidfd->get(), connector.pid());
  ASSERT_THAT(read, IsOk());
  EXPECT_EQ(*read, cgroup->path());

  // And what the listener records.
  const int fds_before = CountOpenFds();
  absl::StatusOr<PeerCredentials> peer = ReadPeerCredentials(connection.get());
  ASSERT_THAT(peer, IsOk());
  EXPECT_EQ(CountOpenFds(), fds_before) << "the pidfd leaked";
  EXPECT_EQ(peer->pid, connector.pid());
  EXPECT_EQ(peer->uid, geteuid());
  EXPECT_TRUE(peer->cgroup_known);
  EXPECT_EQ(peer->cgroup, cgroup->path());
  EXPECT_EQ(peer->unit, cgroup->unit());
  connector.EndAndReap();
}

// A cgroup that cannot be read costs the caller its cgroup, not its
// connection.
TEST(ReadPeerCredentialsTest, ConnectorGoneBeforeAcceptKeepsUidOnly) {
  Listener listener = Listen();
  ASSERT_TRUE(listener.fd.valid()) << strerror(errno);
  Connector connector(listener);
  ASSERT_GT(connector.pid(), 0) << strerror(errno);
  ASSERT_TRUE(connector.Connect());
  // Connected (it is queued) before it exits and is reaped.
  pollfd watched = {listener.fd.get(), POLLIN, 0};
  ASSERT_EQ(poll(&watched, 1, 10000), 1);
  const pid_t connector_pid = connector.pid();
  connector.EndAndReap();

  UniqueFd connection = AcceptWithin(listener.fd.get(), absl::Seconds(10));
  ASSERT_TRUE(connection.valid());
  const int fds_before = CountOpenFds();
  absl::StatusOr<PeerCredentials> peer = ReadPeerCredentials(connection.get());
  ASSERT_THAT(peer, IsOk());
  EXPECT_EQ(CountOpenFds(), fds_before) << "the pidfd leaked";
  EXPECT_EQ(peer->pid, connector_pid);
  EXPECT_EQ(peer->uid, geteuid());
  EXPECT_FALSE(peer->cgroup_known);
  EXPECT_EQ(peer->cgroup, "");
  EXPECT_EQ(peer->unit, "");
}

}  // namespace
}  // namespace durable
