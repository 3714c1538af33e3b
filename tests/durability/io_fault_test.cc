// I/O faults on the real daemon and the real kernel.
//
// Faults are injected into the running daemon with strace (`-e inject=`),
// aimed at exactly one file or directory with `-P path`: for the data
// writes and the fsync of the new content, the client streams the content,
// waits until the daemon has created its temp file, attaches strace to that
// file's path only, and then sends the rest. Each time the client must get
// a clear error (code, and a message naming the path and the cause), the
// old content must be intact, no temp file may remain, and the daemon must
// serve the next request. The tests skip, saying why, if strace is missing
// or ptrace is not allowed.
//
// strace cannot fake a short write faithfully (`retval=` skips the syscall,
// so nothing is written although a count is returned), so short writes come
// from the kernel itself: RLIMIT_FSIZE (a write crossing the limit is cut
// short, the next one fails with EFBIG) and a pipe interrupted by signals
// for PosixFileSystem::Append's retry loop; and from the FileSystem layer.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "durable/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/base/errno_status.h"
#include "server/base/unique_fd.h"
#include "server/engine/file_replacer.h"
#include "server/engine/posix_file_system.h"
#include "tests/support/fault_injection_file_system.h"
#include "tests/support/status_matchers.h"
#include "tests/support/strace_injector.h"
#include "tests/support/test_daemon.h"

namespace durable {

using test::IsOk;
using test::StatusIs;

namespace {

using test::StraceInjector;
using test::TestDaemon;
using testing::AllOf;
using testing::ElementsAre;
using testing::HasSubstr;
using testing::IsEmpty;
using testing::SizeIs;

constexpr char kOldContent[] = "old content that must survive every fault\n";

std::string NewContent(size_t size) {
  std::string content;
  content.reserve(size);
  for (size_t i = 0; i < size; ++i) {
    content.push_back(static_cast<char>('A' + (i * 7 + i / 13) % 26));
  }
  return content;
}

std::vector<std::string> TempFilesIn(const std::string& dir) {
  std::vector<std::string> temps;
  for (const std::string& name : test::ListDirectory(dir)) {
    if (IsTempFileName(name)) temps.push_back(name);
  }
  return temps;
}

std::string Describe(const absl::Status& status) { return status.ToString(); }

// True while `pid` runs (exists and is not a zombie).
bool IsRunning(pid_t pid) {
  absl::StatusOr<std::string> stat =
      test::ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return false;
  const size_t paren = stat->rfind(')');
  return paren != std::string::npos && paren + 2 < stat->size() &&
         (*stat)[paren + 2] != 'Z';
}

class IoFaultTest : public testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<TestDaemon>> daemon = TestDaemon::Start();
    ASSERT_THAT(daemon, IsOk());
    daemon_ = *std::move(daemon);
    client_ = daemon_->NewClient();
    // Can strace attach at all? A harmless attach tells.
    absl::StatusOr<std::unique_ptr<StraceInjector>> probe =
        StraceInjector::Attach(daemon_->pid(), {"-e", "trace=none"});
    if (!probe.ok()) {
      ASSERT_THAT(probe.status(), StatusIs(absl::StatusCode::kUnavailable))
          << probe.status();
      skip_reason_ = std::string(probe.status().message());
      return;
    }
    (*probe)->Detach();
  }

  std::string Path(const std::string& name) const {
    return daemon_->data() + "/" + name;
  }

  void PlantOld(const std::string& name) {
    absl::StatusOr<WriteResult> planted =
        client_->Write(Path(name), kOldContent);
    ASSERT_THAT(planted, IsOk());
  }

  // Attaches strace to the daemon; nullptr (and a failure) if that fails.
  std::unique_ptr<StraceInjector> Inject(
      const std::vector<std::string>& arguments) {
    absl::StatusOr<std::unique_ptr<StraceInjector>> injector =
        StraceInjector::Attach(daemon_->pid(), arguments);
    EXPECT_THAT(injector, IsOk());
    return injector.ok() ? *std::move(injector) : nullptr;
  }

  // Waits until the daemon's temp file for a write into data/ exists and
  // holds `size` bytes; returns its path.
  std::string WaitForTempFile(size_t size) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      std::vector<std::string> temps = TempFilesIn(daemon_->data());
      if (temps.size() == 1) {
        const std::string path = Path(temps[0]);
        struct stat st;
        if (stat(path.c_str(), &st) == 0 &&
            static_cast<size_t>(st.st_size) >= size) {
          return path;
        }
      }
      absl::SleepFor(absl::Milliseconds(2));
    }
    ADD_FAILURE() << "no temp file of " << size << " bytes appeared";
    return "";
  }

  // Streams `first` then `rest` to `name`; between the two, once the temp
  // file holds `first`, calls `between(temp_path)`.
  absl::StatusOr<WriteResult> StreamWithPause(
      const std::string& name, const std::string& first,
      const std::string& rest,
      const std::function<void(const std::string&)>& between) {
    int calls = 0;
    return client_->WriteStream(
        Path(name),
        [&](char* buffer, size_t capacity) -> absl::StatusOr<size_t> {
          const int call = calls++;
          const std::string* piece = nullptr;
          if (call == 0) piece = &first;
          if (call == 1) {
            between(WaitForTempFile(first.size()));
            piece = &rest;
          }
          if (piece == nullptr) return 0;
          EXPECT_LE(piece->size(), capacity);
          memcpy(buffer, piece->data(), piece->size());
          return piece->size();
        },
        first.size() + rest.size());
  }

  // After a failed write: the old content (or none), no temp file, and the
  // daemon writes the next request durably.
  void ExpectOldStateAndDaemonServes(const std::string& name,
                                     std::optional<std::string> old_content) {
    absl::StatusOr<std::string> now = test::ReadFile(Path(name));
    if (old_content.has_value()) {
      EXPECT_EQ(now.value_or("<absent>"), *old_content);
    } else {
      EXPECT_FALSE(now.ok()) << "the failed create left " << name;
    }
    EXPECT_THAT(TempFilesIn(daemon_->data()), IsEmpty());
    const std::string next = "the next write after the fault\n";
    absl::StatusOr<WriteResult> written = client_->Write(Path(name), next);
    ASSERT_THAT(written, IsOk());
    EXPECT_EQ(test::ReadFile(Path(name)).value_or(""), next);
    EXPECT_THAT(TempFilesIn(daemon_->data()), IsEmpty());
  }

  std::unique_ptr<TestDaemon> daemon_;
  std::unique_ptr<Client> client_;
  std::string skip_reason_;
};

#define SKIP_WITHOUT_STRACE()                                    \
  if (!skip_reason_.empty()) {                                   \
    GTEST_SKIP() << "strace cannot attach to the daemon, so no " \
                    "syscall fault injection here: "             \
                 << skip_reason_;                                \
  }

// --- fsync of the new content ----------------------------------------------

TEST_F(IoFaultTest, EioOnFsyncOfNewContentFailsTheWriteAndIsNeverRetried) {
  SKIP_WITHOUT_STRACE();
  for (bool target_exists : {true, false}) {
    SCOPED_TRACE(target_exists ? "replace" : "create");
    const std::string name = target_exists ? "replaced" : "created";
    if (target_exists) PlantOld(name);
    std::unique_ptr<StraceInjector> strace;
    absl::StatusOr<WriteResult> result = StreamWithPause(
        name, NewContent(1000), NewContent(3000), [&](const std::string& temp) {
          strace = Inject({"-e", "trace=fsync", "-e", "inject=fsync:error=EIO",
                           "-P", temp});
        });
    ASSERT_NE(strace, nullptr);
    strace->Detach();

    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInternal))
        << Describe(result.status());
    EXPECT_THAT(result.status().message(),
                AllOf(HasSubstr(Path(name)), HasSubstr("fsync"),
                      HasSubstr("Input/output error")));
    // Exactly one fsync of the new content, the failed one: no retry.
    std::vector<std::string> fsyncs = strace->LinesWith("fsync(");
    ASSERT_THAT(fsyncs, SizeIs(1)) << strace->Detach();
    EXPECT_THAT(fsyncs[0], AllOf(HasSubstr(".durabled-tmp."), HasSubstr("EIO"),
                                 HasSubstr("(INJECTED)")));
    ExpectOldStateAndDaemonServes(
        name,
        target_exists ? std::optional<std::string>(kOldContent) : std::nullopt);
  }
}

TEST_F(IoFaultTest, EioOnEveryFsyncFailsAUnaryWrite) {
  SKIP_WITHOUT_STRACE();
  PlantOld("target");
  std::unique_ptr<StraceInjector> strace =
      Inject({"-e", "trace=fsync", "-e", "inject=fsync:error=EIO"});
  ASSERT_NE(strace, nullptr);
  absl::StatusOr<WriteResult> result =
      client_->Write(Path("target"), NewContent(5000));
  strace->Detach();

  EXPECT_THAT(result, StatusIs(absl::StatusCode::kInternal))
      << Describe(result.status());
  EXPECT_THAT(
      result.status().message(),
      AllOf(HasSubstr(Path("target")), HasSubstr("Input/output error")));
  std::vector<std::string> fsyncs = strace->LinesWith("fsync(");
  ASSERT_THAT(fsyncs, SizeIs(1)) << strace->Detach();
  EXPECT_THAT(fsyncs[0], HasSubstr(".durabled-tmp."));
  ExpectOldStateAndDaemonServes("target", kOldContent);
}

// --- fsync of the directory --------------------------------------------------

TEST_F(IoFaultTest, EioOnDirectoryFsyncRollsTheWriteBack) {
  SKIP_WITHOUT_STRACE();
  for (bool target_exists : {true, false}) {
    SCOPED_TRACE(target_exists ? "replace" : "create");
    const std::string name = target_exists ? "replaced" : "created";
    if (target_exists) PlantOld(name);
    std::unique_ptr<StraceInjector> strace =
        Inject({"-e", "trace=fsync", "-e", "inject=fsync:error=EIO:when=1",
                "-P", daemon_->data()});
    ASSERT_NE(strace, nullptr);
    absl::StatusOr<WriteResult> result =
        client_->Write(Path(name), NewContent(2000));
    strace->Detach();

    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInternal))
        << Describe(result.status());
    EXPECT_THAT(
        result.status().message(),
        AllOf(HasSubstr(Path(name)), HasSubstr("directory"),
              HasSubstr("Input/output error"), HasSubstr("rolled back")));
    // The failed fsync, then the one that makes the rollback durable.
    std::vector<std::string> fsyncs = strace->LinesWith("fsync(");
    ASSERT_THAT(fsyncs, SizeIs(2)) << strace->Detach();
    EXPECT_THAT(fsyncs[0], AllOf(HasSubstr(daemon_->data() + ">"),
                                 HasSubstr("(INJECTED)")));
    EXPECT_THAT(fsyncs[1],
                AllOf(HasSubstr(daemon_->data() + ">"), HasSubstr(") = 0")));
    ExpectOldStateAndDaemonServes(
        name,
        target_exists ? std::optional<std::string>(kOldContent) : std::nullopt);
  }
}

TEST_F(IoFaultTest, NoSpaceOnDirectoryFsyncFailsTheWrite) {
  SKIP_WITHOUT_STRACE();
  PlantOld("target");
  std::unique_ptr<StraceInjector> strace =
      Inject({"-e", "trace=fsync", "-e", "inject=fsync:error=ENOSPC:when=1",
              "-P", daemon_->data()});
  ASSERT_NE(strace, nullptr);
  absl::StatusOr<WriteResult> result =
      client_->Write(Path("target"), NewContent(2000));
  strace->Detach();
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kResourceExhausted))
      << Describe(result.status());
  EXPECT_THAT(
      result.status().message(),
      AllOf(HasSubstr(Path("target")), HasSubstr("No space left on device")));
  ExpectOldStateAndDaemonServes("target", kOldContent);
}

TEST_F(IoFaultTest, EioOnDirectoryFsyncOfARemovePutsTheFileBack) {
  SKIP_WITHOUT_STRACE();
  PlantOld("target");
  std::unique_ptr<StraceInjector> strace =
      Inject({"-e", "trace=fsync", "-e", "inject=fsync:error=EIO:when=1", "-P",
              daemon_->data()});
  ASSERT_NE(strace, nullptr);
  absl::StatusOr<std::string> removed = client_->Remove(Path("target"));
  strace->Detach();
  EXPECT_THAT(removed, StatusIs(absl::StatusCode::kInternal))
      << Describe(removed.status());
  EXPECT_THAT(removed.status().message(),
              AllOf(HasSubstr(Path("target")), HasSubstr("put back")));
  EXPECT_THAT(strace->LinesWith("(INJECTED)"), SizeIs(1));
  ExpectOldStateAndDaemonServes("target", kOldContent);
  EXPECT_THAT(client_->Remove(Path("target")), IsOk());
  EXPECT_FALSE(test::PathExists(Path("target")));
}

// The documented "not supported by this filesystem" codes are tolerated
// and logged once per filesystem.
TEST_F(IoFaultTest, UnsupportedDirectoryFsyncIsToleratedAndLoggedOnce) {
  SKIP_WITHOUT_STRACE();
  PlantOld("target");
  const std::string warning = "does not support fsync of a directory";
  ASSERT_THAT(daemon_->Log(), testing::Not(HasSubstr(warning)));
  int writes = 0;
  for (const char* error : {"EINVAL", "EOPNOTSUPP"}) {
    SCOPED_TRACE(error);
    std::unique_ptr<StraceInjector> strace = Inject(
        {"-e", "trace=fsync", "-e", absl::StrCat("inject=fsync:error=", error),
         "-P", daemon_->data()});
    ASSERT_NE(strace, nullptr);
    for (const std::string name : {"target", "created"}) {
      const std::string content = NewContent(100 + writes++);
      absl::StatusOr<WriteResult> result = client_->Write(Path(name), content);
      EXPECT_THAT(result, IsOk()) << Describe(result.status());
      EXPECT_EQ(test::ReadFile(Path(name)).value_or(""), content);
    }
    EXPECT_THAT(client_->Remove(Path("created")), IsOk());
    strace->Detach();
    EXPECT_THAT(strace->LinesWith("(INJECTED)"), SizeIs(3));
    EXPECT_THAT(TempFilesIn(daemon_->data()), IsEmpty());
  }
  const std::string log = daemon_->Log();
  size_t count = 0;
  for (size_t at = log.find(warning); at != std::string::npos;
       at = log.find(warning, at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 1u) << log;
}

// --- write of the new content ----------------------------------------------

struct WriteFault {
  const char* errno_name;
  absl::StatusCode code;
  const char* message;
};

TEST_F(IoFaultTest, WriteErrorsFailTheWriteWithAClearError) {
  SKIP_WITHOUT_STRACE();
  for (const WriteFault& fault :
       {WriteFault{"EIO", absl::StatusCode::kInternal, "Input/output error"},
        WriteFault{"ENOSPC", absl::StatusCode::kResourceExhausted,
                   "No space left on device"},
        WriteFault{"EDQUOT", absl::StatusCode::kResourceExhausted,
                   "Disk quota exceeded"}}) {
    SCOPED_TRACE(fault.errno_name);
    PlantOld("target");
    std::unique_ptr<StraceInjector> strace;
    absl::StatusOr<WriteResult> result = StreamWithPause(
        "target", NewContent(1000), NewContent(4000),
        [&](const std::string& temp) {
          strace =
              Inject({"-e", "trace=write", "-e",
                      absl::StrCat("inject=write:error=", fault.errno_name),
                      "-P", temp});
        });
    ASSERT_NE(strace, nullptr);
    strace->Detach();
    EXPECT_THAT(result, StatusIs(fault.code)) << Describe(result.status());
    EXPECT_THAT(result.status().message(),
                AllOf(HasSubstr(Path("target")), HasSubstr("write"),
                      HasSubstr(fault.message)));
    EXPECT_THAT(strace->LinesWith("(INJECTED)"), SizeIs(1));
    ExpectOldStateAndDaemonServes("target", kOldContent);
  }
}

TEST_F(IoFaultTest, EintrOnWriteIsRetriedAndTheWriteSucceeds) {
  SKIP_WITHOUT_STRACE();
  PlantOld("target");
  const std::string first = NewContent(1000);
  const std::string rest = NewContent(6000);
  std::unique_ptr<StraceInjector> strace;
  absl::StatusOr<WriteResult> result =
      StreamWithPause("target", first, rest, [&](const std::string& temp) {
        // The first three writes of the thread to the temp file.
        strace = Inject({"-e", "trace=write", "-e",
                         "inject=write:error=EINTR:when=1..3", "-P", temp});
      });
  ASSERT_NE(strace, nullptr);
  strace->Detach();
  ASSERT_THAT(result, IsOk()) << Describe(result.status());
  EXPECT_EQ(result->size, first.size() + rest.size());
  EXPECT_EQ(test::ReadFile(Path("target")).value_or(""), first + rest);
  std::vector<std::string> interrupted = strace->LinesWith("(INJECTED)");
  EXPECT_THAT(interrupted, SizeIs(3)) << strace->Detach();
  for (const std::string& line : interrupted) {
    EXPECT_THAT(line, HasSubstr("EINTR"));
  }
  EXPECT_THAT(TempFilesIn(daemon_->data()), IsEmpty());
}

// A real short write by the kernel: with RLIMIT_FSIZE, the write that
// crosses the limit is cut short and the next one fails with EFBIG (and
// SIGXFSZ, whose default action kills the process). The daemon must report
// the write as too large and live on.
TEST_F(IoFaultTest, FileSizeLimitShortWriteFailsOnlyThatWrite) {
  PlantOld("target");
  constexpr rlim_t kLimit = 256 << 10;
  // Only the soft limit: restoring it needs no privilege.
  struct rlimit previous;
  ASSERT_EQ(prlimit(daemon_->pid(), RLIMIT_FSIZE, nullptr, &previous), 0)
      << strerror(errno);
  struct rlimit limit = {kLimit, previous.rlim_max};
  ASSERT_EQ(prlimit(daemon_->pid(), RLIMIT_FSIZE, &limit, nullptr), 0)
      << strerror(errno);
  const std::string content = NewContent(kLimit + 100000);
  std::string source = content;
  size_t offset = 0;
  absl::StatusOr<WriteResult> result = client_->WriteStream(
      Path("target"),
      [&](char* buffer, size_t capacity) -> absl::StatusOr<size_t> {
        const size_t n = std::min(capacity, source.size() - offset);
        memcpy(buffer, source.data() + offset, n);
        offset += n;
        return n;
      },
      content.size());
  // Not reaped here: the fixture's TestDaemon reports how it ended.
  const bool alive = IsRunning(daemon_->pid());
  if (alive) {
    EXPECT_EQ(prlimit(daemon_->pid(), RLIMIT_FSIZE, &previous, nullptr), 0)
        << strerror(errno);
  }
  ASSERT_TRUE(alive)
      << "durabled died during a write past RLIMIT_FSIZE (SIGXFSZ, whose "
         "default action kills); it must ignore SIGXFSZ so that the write "
         "fails with EFBIG and the daemon lives on. Log:\n"
      << daemon_->Log();
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kResourceExhausted))
      << Describe(result.status());
  EXPECT_THAT(result.status().message(),
              AllOf(HasSubstr(Path("target")), HasSubstr("File too large")));
  ExpectOldStateAndDaemonServes("target", kOldContent);
}

// --- The kernel's short writes and EINTR in PosixFileSystem::Append ----------

void NoteSignal(int) {}

// The number of write syscalls the calling thread has made, or -1.
long WriteSyscallsOfThisThread() {
  absl::StatusOr<std::string> io =
      test::ReadFile(absl::StrCat("/proc/self/task/", gettid(), "/io"));
  if (!io.ok()) return -1;
  const size_t at = io->find("syscw: ");
  long count;
  if (at == std::string::npos ||
      !absl::SimpleAtoi(io->substr(at + 7, io->find('\n', at) - at - 7),
                        &count)) {
    return -1;
  }
  return count;
}

TEST(PosixAppendTest, CompletesAcrossRealShortWritesAndEintr) {
  // A blocking write to a full pipe that a signal (without SA_RESTART)
  // interrupts returns what it wrote so far (a short write), or fails with
  // EINTR if it wrote nothing. Append must carry on until all is written.
  struct sigaction action = {};
  action.sa_handler = NoteSignal;
  struct sigaction previous;
  ASSERT_EQ(sigaction(SIGUSR1, &action, &previous), 0);
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  fcntl(write_end.get(), F_SETPIPE_SZ, 4096);
  const std::string data = NewContent(1 << 20);

  std::atomic<bool> done{false};
  std::atomic<long> write_calls{-1};
  absl::Status appended;
  pthread_t writer_thread;
  std::atomic<bool> started{false};
  std::thread writer([&] {
    writer_thread = pthread_self();
    started = true;
    PosixFileSystem fs;
    const long before = WriteSyscallsOfThisThread();
    appended = fs.Append(write_end.get(), data);
    const long after = WriteSyscallsOfThisThread();
    if (before >= 0 && after >= 0) write_calls = after - before;
    done = true;
  });
  while (!started) std::this_thread::yield();

  std::string received;
  char buffer[1024];
  int signals = 0;
  while (received.size() < data.size()) {
    if (!done) {
      pthread_kill(writer_thread, SIGUSR1);
      ++signals;
    }
    ssize_t n = read(read_end.get(), buffer, sizeof(buffer));
    ASSERT_GT(n, 0) << strerror(errno);
    received.append(buffer, static_cast<size_t>(n));
    if (received.size() % (64 << 10) < sizeof(buffer)) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  writer.join();
  sigaction(SIGUSR1, &previous, nullptr);

  ASSERT_THAT(appended, IsOk());
  EXPECT_EQ(received.size(), data.size());
  EXPECT_TRUE(received == data) << "the data arrived out of order or torn";
  EXPECT_GT(signals, 0);
  if (write_calls >= 0) {
    // More than one write(2): the kernel did cut the write short (or
    // interrupt it), and Append went on.
    EXPECT_GT(write_calls.load(), 1) << "no short write happened";
    std::printf(
        "[ io      ] 1 MiB Append took %ld write(2) calls, %d signals\n",
        write_calls.load(), signals);
  }
}

// The engine on the real kernel: a write crossing RLIMIT_FSIZE is cut short
// by the kernel and the next fails with EFBIG. Runs in a child process so
// the limit does not touch the test.
TEST(EngineShortWriteTest, FileSizeLimitShortWriteIsResourceExhausted) {
  char path[] = "/tmp/durabled-io-fault.XXXXXX";
  ASSERT_NE(mkdtemp(path), nullptr);
  const std::string dir = path;
  test::WriteFileOrDie(dir + "/target", kOldContent);

  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = {64 << 10, 64 << 10};
    setrlimit(RLIMIT_FSIZE, &limit);
    UniqueFd dir_fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    PosixFileSystem posix;
    FaultInjectionFileSystem fs(&posix);  // for the call log
    FileReplacer writer(&fs);
    absl::StatusOr<CommitResult> result =
        writer.Write(dir_fd.get(), "target", NewContent(200 << 10), {});
    if (result.ok()) _exit(10);
    if (!absl::IsResourceExhausted(result.status())) _exit(11);
    if (ErrnoOf(result.status()) != EFBIG) _exit(12);
    for (const auto& call : fs.CallLog()) {
      if (call.operation == FaultInjectionFileSystem::Operation::kSyncFile ||
          call.operation == FaultInjectionFileSystem::Operation::kRename) {
        _exit(13);  // went on after the failed write
      }
    }
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "child died, status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "10: reported OK, 11: not RESOURCE_EXHAUSTED, 12: errno not EFBIG, "
         "13: synced or published after the failed write";
  EXPECT_EQ(test::ReadFile(dir + "/target").value_or(""), kOldContent);
  EXPECT_THAT(test::ListDirectory(dir), ElementsAre("target"));
  std::filesystem::remove_all(dir);
}

// --- Short writes through the FileSystem layer -------------------------------

class FileSystemLayerFaultTest : public testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/durabled-io-fault.XXXXXX";
    ASSERT_NE(mkdtemp(path), nullptr);
    dir_ = path;
    dir_fd_.reset(open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    test::WriteFileOrDie(dir_ + "/target", kOldContent);
  }
  void TearDown() override {
    dir_fd_.reset();
    std::filesystem::remove_all(dir_);
  }

  PosixFileSystem posix_;
  FaultInjectionFileSystem fs_{&posix_};
  FileReplacer writer_{&fs_};
  std::string dir_;
  UniqueFd dir_fd_;
};

TEST_F(FileSystemLayerFaultTest, ShortWriteInTheMiddleOfAStreamFailsIt) {
  for (int errno_value : {EIO, ENOSPC, EFBIG}) {
    SCOPED_TRACE(strerror(errno_value));
    absl::StatusOr<std::unique_ptr<StagedFile>> staged =
        writer_.Stage(dir_fd_.get(), "target");
    ASSERT_THAT(staged, IsOk());
    ASSERT_THAT((*staged)->Append(NewContent(1000)), IsOk());
    fs_.FailNextAppend(17, SyscallError(errno_value, "write"));
    absl::Status appended = (*staged)->Append(NewContent(5000));
    EXPECT_EQ(ErrnoOf(appended), errno_value) << appended;
    absl::StatusOr<CommitResult> committed = writer_.Commit(**staged, {});
    EXPECT_THAT(committed, StatusIs(absl::StatusCode::kFailedPrecondition))
        << committed.status();
    staged->reset();
    EXPECT_EQ(test::ReadFile(dir_ + "/target").value_or(""), kOldContent);
    EXPECT_THAT(test::ListDirectory(dir_), ElementsAre("target"));
  }
  // And the next write goes through.
  absl::StatusOr<CommitResult> next =
      writer_.Write(dir_fd_.get(), "target", "next", {});
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(test::ReadFile(dir_ + "/target").value_or(""), "next");
}

TEST_F(FileSystemLayerFaultTest, FailedFileSyncIsNeverRetried) {
  fs_.FailNext(FaultInjectionFileSystem::Operation::kSyncFile,
               SyscallError(EIO, "fsync"));
  absl::StatusOr<CommitResult> result =
      writer_.Write(dir_fd_.get(), "target", NewContent(100), {});
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kInternal));
  int syncs = 0;
  for (const auto& call : fs_.CallLog()) {
    syncs += call.operation == FaultInjectionFileSystem::Operation::kSyncFile;
    EXPECT_NE(call.operation, FaultInjectionFileSystem::Operation::kRename)
        << "published after a failed fsync";
  }
  EXPECT_EQ(syncs, 1);
  EXPECT_EQ(test::ReadFile(dir_ + "/target").value_or(""), kOldContent);
  EXPECT_THAT(test::ListDirectory(dir_), ElementsAre("target"));
}

}  // namespace
}  // namespace durable
