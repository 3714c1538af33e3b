// Shared machinery of the adversarial (security) suite. Header-only: every
// tests/adversarial/*_test.cc is its own binary and only those files are
// compiled.
//
// The attacker is always a separate, real process. Each test binary doubles
// as the attacker: the parent forks, drops to the attacker's uid, gid and
// supplementary groups (only async-signal-safe calls between fork and exec),
// and re-executes itself as
//
//   <test binary> --adversarial-helper OP --socket=... [--flag=value]...
//
// which talks to the daemon through the raw generated stub (so that it can
// forge metadata, break the streaming protocol, or open raw sockets) and
// reports "key=value" lines on stdout. Every test file therefore ends with
//
//   int main(int argc, char** argv) {
//     return durable::test::adversarial::AdversarialMain(argc, argv);
//   }
//
// which takes precedence over gtest_main's main (a static archive member is
// only linked when main is still undefined).
//
// Every attack case asserts two things: the exact refusal, and that nothing
// outside the allowed roots changed: AdversarialTest::ArmSentinel snapshots
// the daemon's scratch tree minus the roots the attacker may write (names,
// types, sizes, contents, modes, owners, inode numbers, mtimes), and
// TearDown compares; a test that never arms the sentinel fails.
#ifndef DURABLED_TESTS_ADVERSARIAL_ADVERSARIAL_SUPPORT_H_
#define DURABLED_TESTS_ADVERSARIAL_ADVERSARIAL_SUPPORT_H_

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "durable/v1/durable.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/engine/file_replacer.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_daemon.h"

extern char** environ;

namespace durable::test::adversarial {

// ---------------------------------------------------------------------------
// Identities
// ---------------------------------------------------------------------------

// The unprivileged attacker of most cases.
inline constexpr uid_t kNobody = 65534;
// A uid that no rule of any test lists: closed at accept.
inline constexpr uid_t kStranger = 65533;
// Owns a root of its own, which kNobody attacks.
inline constexpr uid_t kNeighbour = 65532;
// A uid allowed only through the supplementary group kSharedGroup.
inline constexpr uid_t kGroupMember = 65531;
inline constexpr gid_t kSharedGroup = 4242;

inline bool IsRoot() { return geteuid() == 0; }

// The uid, gid and supplementary groups a helper process runs as.
struct ProcessCredentials {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  // False: the child keeps the test's own credentials.
  bool drop = false;
};

// The test's own credentials (no drop).
inline ProcessCredentials OwnCredentials() { return ProcessCredentials{getuid(), getgid(), {}, false}; }

// `uid`, with gid == uid and the supplementary `groups`.
inline ProcessCredentials CredentialsOf(uid_t uid, std::vector<gid_t> groups = {}) {
  return ProcessCredentials{uid, static_cast<gid_t>(uid), std::move(groups), true};
}

// kNobody when the suite can change uids (root, as in CI), else the test's
// own uid: the attack is then still made by a separate process, only not
// under another uid.
inline ProcessCredentials AttackerCredentials() { return IsRoot() ? CredentialsOf(kNobody) : OwnCredentials(); }

#define SKIP_UNLESS_ROOT()                                          \
  do {                                                              \
    if (!::durable::test::adversarial::IsRoot()) {               \
      GTEST_SKIP() << "needs root (other uids, mknod or mount(2))"; \
    }                                                               \
  } while (0)

// ---------------------------------------------------------------------------
// Sentinel snapshots
// ---------------------------------------------------------------------------

struct EntryState {
  char type = '?';  // f d l p s c b
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  int64_t size = 0;
  ino_t inode = 0;
  dev_t rdev = 0;
  int64_t mtime_ns = 0;
  std::string content;  // regular files: the bytes; symlinks: the target

  bool operator==(const EntryState& o) const {
    return type == o.type && mode == o.mode && uid == o.uid && gid == o.gid &&
           size == o.size && inode == o.inode && rdev == o.rdev &&
           mtime_ns == o.mtime_ns && content == o.content;
  }
  std::string Describe() const {
    return absl::StrCat("type=", std::string(1, type),
                        " mode=", absl::StrFormat("0%o", mode & 07777),
                        " uid=", uid, " gid=", gid, " size=", size,
                        " ino=", inode, " mtime_ns=", mtime_ns, " content=\"",
                        absl::CHexEscape(content.substr(0, 64)), "\"");
  }
};

using TreeState = std::map<std::string, EntryState>;

inline char TypeOf(mode_t mode) {
  if (S_ISREG(mode)) return 'f';
  if (S_ISDIR(mode)) return 'd';
  if (S_ISLNK(mode)) return 'l';
  if (S_ISFIFO(mode)) return 'p';
  if (S_ISSOCK(mode)) return 's';
  if (S_ISCHR(mode)) return 'c';
  if (S_ISBLK(mode)) return 'b';
  return '?';
}

// Walks `path` without following symlinks (and without opening anything but
// regular files and directories), skipping the absolute paths in `excluded`.
inline void SnapshotInto(const std::string& path, const std::string& relative,
                         const std::set<std::string>& excluded,
                         TreeState* state) {
  if (excluded.count(path) != 0) return;
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return;
  EntryState entry;
  entry.type = TypeOf(st.st_mode);
  entry.mode = st.st_mode & 07777;
  entry.uid = st.st_uid;
  entry.gid = st.st_gid;
  entry.size = st.st_size;
  entry.inode = st.st_ino;
  entry.rdev = st.st_rdev;
  entry.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  if (entry.type == 'f') {
    int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) {
      char buffer[65536];
      ssize_t n;
      while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
        entry.content.append(buffer, static_cast<size_t>(n));
      }
      close(fd);
    }
  } else if (entry.type == 'l') {
    char target[PATH_MAX];
    ssize_t n = readlink(path.c_str(), target, sizeof(target));
    if (n > 0) entry.content.assign(target, static_cast<size_t>(n));
  }
  (*state)[relative.empty() ? "." : relative] = entry;
  if (entry.type != 'd') return;
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return;
  std::vector<std::string> names;
  while (dirent* d = readdir(dir)) {
    std::string name = d->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(dir);
  for (const std::string& name : names) {
    SnapshotInto(path + "/" + name,
                 relative.empty() ? name : relative + "/" + name, excluded,
                 state);
  }
}

inline TreeState SnapshotTree(const std::string& root,
                              const std::set<std::string>& excluded) {
  TreeState state;
  SnapshotInto(root, "", excluded, &state);
  return state;
}

// Empty if equal; else one line per difference.
inline std::string DiffTrees(const TreeState& before, const TreeState& after) {
  std::string diff;
  for (const auto& [name, entry] : before) {
    auto it = after.find(name);
    if (it == after.end()) {
      absl::StrAppend(&diff, "  removed: ", name, " (", entry.Describe(),
                      ")\n");
    } else if (!(it->second == entry)) {
      absl::StrAppend(&diff, "  changed: ", name,
                      "\n    before: ", entry.Describe(),
                      "\n    after:  ", it->second.Describe(), "\n");
    }
  }
  for (const auto& [name, entry] : after) {
    if (before.count(name) == 0) {
      absl::StrAppend(&diff, "  created: ", name, " (", entry.Describe(),
                      ")\n");
    }
  }
  return diff;
}

// Daemon temp files anywhere under `dir` (names starting with the prefix;
// `ignore` lists squatted names a test planted itself).
inline std::vector<std::string> TempFilesUnder(
    const std::string& dir, const std::set<std::string>& ignore = {}) {
  std::vector<std::string> found;
  TreeState state = SnapshotTree(dir, {});
  for (const auto& [name, entry] : state) {
    std::string leaf = name.substr(name.rfind('/') + 1);
    if (absl::StartsWith(leaf, kTempFilePrefix) && ignore.count(name) == 0) {
      found.push_back(name);
    }
  }
  return found;
}

inline bool WaitUntil(const std::function<bool()>& condition,
                      absl::Duration limit = absl::Seconds(5)) {
  const absl::Time deadline = absl::Now() + limit;
  while (!condition()) {
    if (absl::Now() > deadline) return condition();
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

inline std::string ReadLink(const std::string& path) {
  char target[PATH_MAX];
  ssize_t n = readlink(path.c_str(), target, sizeof(target));
  return n > 0 ? std::string(target, static_cast<size_t>(n)) : "";
}

// One audit record of the daemon's log.
struct AuditRecord {
  std::string op;
  int64_t uid = -1;
  int64_t gid = -1;
  int64_t pid = -1;
  std::string path;
  std::string result;
  int64_t latency_us = -1;
  std::string line;
};

inline std::vector<AuditRecord> AuditRecords(const std::string& log) {
  std::vector<AuditRecord> records;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    size_t start = line.find("audit op=");
    if (start == absl::string_view::npos) continue;
    AuditRecord record;
    record.line = std::string(line);
    absl::string_view rest = line.substr(start + 6);
    // path="..." is CEscaped: find its closing quote by skipping escapes.
    size_t path_at = rest.find("path=\"");
    std::string head(rest.substr(0, path_at));
    std::string tail;
    if (path_at != absl::string_view::npos) {
      size_t i = path_at + 6;
      std::string escaped;
      while (i < rest.size() && rest[i] != '"') {
        if (rest[i] == '\\' && i + 1 < rest.size()) escaped += rest[i++];
        escaped += rest[i++];
      }
      absl::CUnescape(escaped, &record.path);
      tail = std::string(rest.substr(std::min(i + 1, rest.size())));
    }
    for (absl::string_view field : absl::StrSplit(absl::StrCat(head, " ", tail),
                                                  ' ', absl::SkipEmpty())) {
      size_t eq = field.find('=');
      if (eq == absl::string_view::npos) continue;
      absl::string_view key = field.substr(0, eq);
      absl::string_view value = field.substr(eq + 1);
      if (key == "op") record.op = std::string(value);
      if (key == "uid") (void)absl::SimpleAtoi(value, &record.uid);
      if (key == "gid") (void)absl::SimpleAtoi(value, &record.gid);
      if (key == "pid") (void)absl::SimpleAtoi(value, &record.pid);
      if (key == "result") record.result = std::string(value);
      if (key == "latency_us")
        (void)absl::SimpleAtoi(value, &record.latency_us);
    }
    records.push_back(std::move(record));
  }
  return records;
}

inline bool IsAlive(pid_t pid) { return pid > 0 && kill(pid, 0) == 0; }

inline int CountOpenFds(pid_t pid) {
  return static_cast<int>(
      ListDirectory(absl::StrCat("/proc/", pid, "/fd")).size());
}

// ---------------------------------------------------------------------------
// The attacker process (parent side)
// ---------------------------------------------------------------------------

inline constexpr char kHelperFlag[] = "--adversarial-helper";

// What a helper reported: its "key=value" lines (a repeated key keeps every
// value, in order).
struct HelperResult {
  int exit_code = -1;
  int signal = 0;
  std::string out;
  std::string err;
  std::multimap<std::string, std::string> fields;

  std::string Field(const std::string& key) const {
    auto it = fields.find(key);
    return it == fields.end() ? "" : it->second;
  }
  std::vector<std::string> All(const std::string& key) const {
    std::vector<std::string> values;
    auto range = fields.equal_range(key);
    for (auto it = range.first; it != range.second; ++it) {
      values.push_back(it->second);
    }
    return values;
  }
  int64_t Int(const std::string& key, int64_t missing = -1) const {
    int64_t value;
    return absl::SimpleAtoi(Field(key), &value) ? value : missing;
  }
  // The gRPC status code of the (last) call, or -1 if none was reported.
  grpc::StatusCode code() const {
    return static_cast<grpc::StatusCode>(Int("code"));
  }
  std::string message() const { return Field("message"); }
  std::string Describe() const {
    return absl::StrCat("exit=", exit_code, " signal=", signal, "\nstdout:\n",
                        out, "stderr:\n", err);
  }
};

inline std::string CodeName(grpc::StatusCode code) {
  if (static_cast<int>(code) < 0) return "NO_CODE_REPORTED";
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

inline std::string SelfExecutable() {
  static const std::string path = ReadLink("/proc/self/exe");
  return path;
}

inline void ParseFields(const std::string& out,
                        std::multimap<std::string, std::string>* fields) {
  fields->clear();
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    std::string value;
    if (!absl::CUnescape(line.substr(eq + 1), &value)) {
      value = std::string(line.substr(eq + 1));
    }
    fields->emplace(std::string(line.substr(0, eq)), value);
  }
}

// A running helper. Its stdin is a pipe the parent may close (a helper
// waiting for "go away" reads it), stdout and stderr are collected.
class HelperProcess {
 public:
  static std::unique_ptr<HelperProcess> Spawn(
      const ProcessCredentials& who, const std::vector<std::string>& args) {
    // Everything the child needs is prepared before fork.
    std::vector<std::string> argv_strings = {SelfExecutable(), kHelperFlag};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : argv_strings) argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::vector<gid_t> groups = who.groups;
    const gid_t* group_list = groups.empty() ? nullptr : groups.data();
    const size_t group_count = groups.size();

    signal(SIGPIPE, SIG_IGN);
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
        pipe2(err, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2: " << strerror(errno);
      return nullptr;
    }
    pid_t pid = fork();
    if (pid < 0) {
      ADD_FAILURE() << "fork: " << strerror(errno);
      return nullptr;
    }
    if (pid == 0) {
      // Async-signal-safe calls only.
      dup2(in[0], 0);
      dup2(out[1], 1);
      dup2(err[1], 2);
      if (who.drop) {
        if (setgroups(group_count, group_list) != 0) _exit(125);
        if (setgid(who.gid) != 0) _exit(125);
        if (setuid(who.uid) != 0) _exit(125);
      }
      execve(argv[0], argv.data(), environ);
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    auto helper = std::unique_ptr<HelperProcess>(new HelperProcess());
    helper->pid_ = pid;
    helper->stdin_ = in[1];
    helper->stdout_ = out[0];
    helper->stderr_ = err[0];
    fcntl(helper->stdout_, F_SETFL, O_NONBLOCK);
    fcntl(helper->stderr_, F_SETFL, O_NONBLOCK);
    return helper;
  }

  ~HelperProcess() {
    if (!reaped_) {
      kill(pid_, SIGKILL);
      Wait(absl::Seconds(10));
    }
    CloseStdin();
    if (stdout_ >= 0) close(stdout_);
    if (stderr_ >= 0) close(stderr_);
  }

  pid_t pid() const { return pid_; }
  const std::string& out() const { return result_.out; }

  void CloseStdin() {
    if (stdin_ >= 0) close(stdin_);
    stdin_ = -1;
  }

  void Kill(int signal_number) {
    if (!reaped_) kill(pid_, signal_number);
  }

  // Reads whatever output is available without blocking.
  void Pump() {
    char buffer[65536];
    for (int* fd : {&stdout_, &stderr_}) {
      while (*fd >= 0) {
        ssize_t n = read(*fd, buffer, sizeof(buffer));
        if (n > 0) {
          (fd == &stdout_ ? result_.out : result_.err).append(buffer, n);
          continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          close(*fd);
          *fd = -1;
        }
        break;
      }
    }
  }

  // True once the helper printed a line equal to `line`.
  bool WaitForLine(const std::string& line, absl::Duration limit) {
    const absl::Time deadline = absl::Now() + limit;
    while (true) {
      Pump();
      for (absl::string_view l : absl::StrSplit(result_.out, '\n')) {
        if (l == line) return true;
      }
      if (absl::Now() > deadline || stdout_ < 0) return false;
      pollfd p = {stdout_, POLLIN, 0};
      poll(&p, 1, 20);
    }
  }

  // Non-blocking: true (and the result complete) once the helper exited.
  bool TryReap() {
    Pump();
    if (reaped_) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
    Reaped(status);
    return true;
  }

  // Waits for the helper to exit (killing it after `limit`).
  const HelperResult& Wait(absl::Duration limit = absl::Seconds(60)) {
    const absl::Time deadline = absl::Now() + limit;
    while (!TryReap()) {
      if (absl::Now() > deadline) {
        ADD_FAILURE() << "helper " << pid_ << " still running after " << limit
                      << "; killed. Output so far:\n"
                      << result_.out << result_.err;
        kill(pid_, SIGKILL);
        int status = 0;
        while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        Reaped(status);
        break;
      }
      pollfd p[2] = {{stdout_, POLLIN, 0}, {stderr_, POLLIN, 0}};
      poll(p, 2, 20);
    }
    return result_;
  }

  const HelperResult& result() const { return result_; }

 private:
  HelperProcess() = default;

  void Reaped(int status) {
    reaped_ = true;
    // Drain what is left in the pipes (the writer is gone).
    if (stdout_ >= 0) fcntl(stdout_, F_SETFL, 0);
    if (stderr_ >= 0) fcntl(stderr_, F_SETFL, 0);
    char buffer[65536];
    for (int* fd : {&stdout_, &stderr_}) {
      while (*fd >= 0) {
        pollfd p = {*fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) break;  // a grandchild may hold it open
        ssize_t n = read(*fd, buffer, sizeof(buffer));
        if (n <= 0) break;
        (fd == &stdout_ ? result_.out : result_.err).append(buffer, n);
      }
    }
    result_.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result_.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    ParseFields(result_.out, &result_.fields);
  }

  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  int stderr_ = -1;
  bool reaped_ = false;
  HelperResult result_;
};

// Runs one helper to completion.
inline HelperResult RunHelper(const ProcessCredentials& who,
                              const std::vector<std::string>& args,
                              absl::Duration limit = absl::Seconds(60)) {
  std::unique_ptr<HelperProcess> helper = HelperProcess::Spawn(who, args);
  if (helper == nullptr) return HelperResult{};
  helper->CloseStdin();
  return helper->Wait(limit);
}

// Helper arguments.
inline std::string PathArg(absl::string_view path) {
  return absl::StrCat("--path-hex=", absl::BytesToHexString(path));
}
inline std::string DataArg(absl::string_view data) {
  return absl::StrCat("--data-hex=", absl::BytesToHexString(data));
}

// ---------------------------------------------------------------------------
// The attacker process (child side)
// ---------------------------------------------------------------------------

namespace helper {

struct Flags {
  std::string op;
  std::multimap<std::string, std::string> values;

  bool Has(const std::string& name) const { return values.count(name) != 0; }
  std::string Get(const std::string& name,
                  const std::string& fallback = "") const {
    auto it = values.find(name);
    return it == values.end() ? fallback : it->second;
  }
  int64_t Int(const std::string& name, int64_t fallback) const {
    int64_t value;
    return absl::SimpleAtoi(Get(name), &value) ? value : fallback;
  }
  std::vector<std::string> All(const std::string& name) const {
    std::vector<std::string> all;
    auto range = values.equal_range(name);
    for (auto it = range.first; it != range.second; ++it) {
      all.push_back(it->second);
    }
    return all;
  }
};

// One "key=value" line, written at once (a helper may be SIGKILLed at any
// moment; what it printed so far must be whole lines).
inline void Emit(const std::string& key, const std::string& value) {
  std::string line = absl::StrCat(key, "=", absl::CEscape(value), "\n");
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = write(1, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}
inline void Emit(const std::string& key, int64_t value) {
  Emit(key, std::to_string(value));
}

inline void EmitStatus(const grpc::Status& status) {
  Emit("code", static_cast<int64_t>(status.error_code()));
  Emit("code_name", CodeName(status.error_code()));
  Emit("message", status.error_message());
}

inline std::string PathOf(const Flags& flags) {
  if (flags.Has("path-hex"))
    return absl::HexStringToBytes(flags.Get("path-hex"));
  return flags.Get("path");
}

inline std::string DataOf(const Flags& flags) {
  if (flags.Has("data-hex"))
    return absl::HexStringToBytes(flags.Get("data-hex"));
  if (flags.Has("size")) {
    return std::string(static_cast<size_t>(flags.Int("size", 0)), 'x');
  }
  return flags.Get("data");
}

inline std::shared_ptr<grpc::Channel> MakeChannel(const Flags& flags) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxSendMessageSize(-1);
  arguments.SetMaxReceiveMessageSize(-1);
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (flags.Has("authority")) {
    arguments.SetString(GRPC_ARG_DEFAULT_AUTHORITY, flags.Get("authority"));
  }
  return grpc::CreateCustomChannel(absl::StrCat("unix:", flags.Get("socket")),
                                   grpc::InsecureChannelCredentials(),
                                   arguments);
}

// Deadline and forged metadata ("--md=key:value", repeatable).
inline void Prepare(const Flags& flags, grpc::ClientContext* context) {
  context->set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(flags.Int("timeout-ms", 20000)));
  for (const std::string& md : flags.All("md")) {
    size_t colon = md.find(':');
    context->AddMetadata(md.substr(0, colon), md.substr(colon + 1));
  }
}

inline void FillOptions(const Flags& flags,
                        durable::v1::WriteOptions* options) {
  options->set_mode(static_cast<uint32_t>(
      std::strtoul(flags.Get("mode", "0").c_str(), nullptr, 8)));
  options->set_if_absent(flags.Has("if-absent"));
  options->set_create_parents(flags.Has("create-parents"));
}

inline int WhoAmI(const Flags& flags) {
  auto stub = durable::v1::DurableWriter::NewStub(MakeChannel(flags));
  grpc::ClientContext context;
  Prepare(flags, &context);
  durable::v1::WhoAmIRequest request;
  durable::v1::WhoAmIResponse response;
  grpc::Status status = stub->WhoAmI(&context, request, &response);
  EmitStatus(status);
  if (status.ok()) {
    Emit("uid", response.uid());
    Emit("gid", response.gid());
    Emit("pid", response.pid());
    Emit("groups", absl::StrJoin(response.groups(), ","));
    for (const auto& grant : response.grants()) Emit("grant", grant.root());
    for (const auto& denied : response.denied_roots()) Emit("denied", denied);
  }
  return 0;
}

inline int Write(const Flags& flags) {
  auto stub = durable::v1::DurableWriter::NewStub(MakeChannel(flags));
  const int repeat = static_cast<int>(flags.Int("repeat", 1));
  for (int i = 0; i < repeat; ++i) {
    if (i > 0 && flags.Has("pause-between")) {
      // Same connection, later: wait until the parent closes our stdin.
      Emit("paused", 1);
      char byte;
      while (read(0, &byte, 1) > 0) {
      }
    }
    grpc::ClientContext context;
    Prepare(flags, &context);
    durable::v1::WriteRequest request;
    request.set_path(PathOf(flags));
    request.set_data(DataOf(flags));
    FillOptions(flags, request.mutable_options());
    durable::v1::WriteResponse response;
    grpc::Status status = stub->Write(&context, request, &response);
    EmitStatus(status);
    if (status.ok()) {
      Emit("size", static_cast<int64_t>(response.size()));
      Emit("created", response.created() ? 1 : 0);
    }
  }
  return 0;
}

inline int Stats(const Flags& flags) {
  auto stub = durable::v1::DurableWriter::NewStub(MakeChannel(flags));
  grpc::ClientContext context;
  Prepare(flags, &context);
  durable::v1::GetStatsRequest request;
  durable::v1::GetStatsResponse response;
  grpc::Status status = stub->GetStats(&context, request, &response);
  EmitStatus(status);
  return 0;
}

inline int Stat(const Flags& flags) {
  auto stub = durable::v1::DurableWriter::NewStub(MakeChannel(flags));
  grpc::ClientContext context;
  Prepare(flags, &context);
  durable::v1::StatRequest request;
  request.set_path(PathOf(flags));
  durable::v1::StatResponse response;
  grpc::Status status = stub->Stat(&context, request, &response);
  EmitStatus(status);
  if (status.ok()) {
    Emit("size", static_cast<int64_t>(response.size()));
    Emit("mode", response.mode());
    Emit("uid", response.uid());
  }
  return 0;
}

inline int Remove(const Flags& flags) {
  auto stub = durable::v1::DurableWriter::NewStub(MakeChannel(flags));
  grpc::ClientContext context;
  Prepare(flags, &context);
  durable::v1::RemoveRequest request;
  request.set_path(PathOf(flags));
  durable::v1::RemoveResponse response;
  grpc::Status status = stub->Remove(&context, request, &response);
  EmitStatus(status);
  return 0;
}

// A WriteStream that misbehaves as told:
//   --no-header           the first message carries no header
//   --send-nothing        open the stream and send no message at all
//   --idle                after the first message, send nothing more (and
//                         wait for the daemon to end the call)
//   --size=N --chunk=N    content size and chunk size
//   --chunk-delay-ms=N    pause before each chunk (trickle)
//   --no-finish           half-close without the finish marker
//   --second-path-hex=P   after the header, a second message with a header
//                         for path P (and data and finish)
inline void StreamOnce(const Flags& flags) {
  auto stub = durable::v1::DurableWriter::NewStub(MakeChannel(flags));
  grpc::ClientContext context;
  Prepare(flags, &context);
  durable::v1::WriteResponse response;
  const absl::Time start = absl::Now();
  auto writer = stub->WriteStream(&context, &response);
  durable::v1::WriteChunk chunk;
  if (!flags.Has("no-header")) {
    chunk.mutable_header()->set_path(PathOf(flags));
    FillOptions(flags, chunk.mutable_header()->mutable_options());
  }
  int64_t accepted = 0;
  bool broken = false;
  if (!flags.Has("send-nothing")) {
    broken = !writer->Write(chunk);
    if (!broken) ++accepted;
  }
  if (!broken && flags.Has("second-path-hex")) {
    // A second header, trying to redirect the stream mid-way.
    durable::v1::WriteChunk redirect;
    redirect.mutable_header()->set_path(
        absl::HexStringToBytes(flags.Get("second-path-hex")));
    redirect.set_data("redirected");
    redirect.set_finish(true);
    broken = !writer->Write(redirect);
    if (!broken) ++accepted;
  } else if (!broken && !flags.Has("idle") && !flags.Has("send-nothing")) {
    const int64_t size = flags.Int("size", 0);
    const int64_t chunk_size = std::max<int64_t>(1, flags.Int("chunk", 65536));
    const int64_t delay_ms = flags.Int("chunk-delay-ms", 0);
    for (int64_t sent = 0; sent < size && !broken; sent += chunk_size) {
      if (delay_ms > 0) absl::SleepFor(absl::Milliseconds(delay_ms));
      durable::v1::WriteChunk data;
      data.set_data(std::string(
          static_cast<size_t>(std::min(chunk_size, size - sent)), 'y'));
      if (writer->Write(data)) {
        ++accepted;
      } else {
        broken = true;
      }
    }
    if (!broken && !flags.Has("no-finish")) {
      durable::v1::WriteChunk finish;
      finish.set_finish(true);
      broken = !writer->Write(finish);
    }
    if (!broken) writer->WritesDone();
  }
  grpc::Status status = writer->Finish();
  EmitStatus(status);
  Emit("accepted_messages", accepted);
  Emit("elapsed_ms", absl::ToInt64Milliseconds(absl::Now() - start));
}

// --parallel=N runs N such streams at once (own connection each).
inline int Stream(const Flags& flags) {
  const int parallel = static_cast<int>(flags.Int("parallel", 1));
  std::vector<std::thread> streams;
  for (int i = 0; i < parallel; ++i) {
    streams.emplace_back([&flags] { StreamOnce(flags); });
  }
  for (std::thread& stream : streams) stream.join();
  return 0;
}

// Many writes, as fast as possible: --threads=T threads (own connection
// each) write every --path-hex (repeatable) --rounds=R times. Reports
// "count.<CODE>=n" and, per OK write, "ok=<path>".
inline int Burst(const Flags& flags) {
  std::vector<std::string> paths;
  for (const std::string& hex : flags.All("path-hex")) {
    paths.push_back(absl::HexStringToBytes(hex));
  }
  const std::string data = DataOf(flags);
  const int threads = static_cast<int>(flags.Int("threads", 4));
  const int rounds = static_cast<int>(flags.Int("rounds", 10));
  std::mutex mu;
  std::map<std::string, int64_t> counts;
  std::vector<std::string> ok_paths;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto stub = durable::v1::DurableWriter::NewStub(MakeChannel(flags));
      for (int r = 0; r < rounds; ++r) {
        for (size_t i = 0; i < paths.size(); ++i) {
          const std::string& path = paths[(i + t) % paths.size()];
          grpc::ClientContext context;
          Prepare(flags, &context);
          durable::v1::WriteRequest request;
          request.set_path(path);
          request.set_data(data);
          FillOptions(flags, request.mutable_options());
          durable::v1::WriteResponse response;
          grpc::Status status = stub->Write(&context, request, &response);
          std::lock_guard<std::mutex> lock(mu);
          ++counts[CodeName(status.error_code())];
          if (status.ok()) ok_paths.push_back(path);
        }
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  for (const auto& [code, n] : counts) Emit("count." + code, n);
  for (const std::string& path : ok_paths) Emit("ok", path);
  return 0;
}

inline int ConnectUnix(const std::string& socket_path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  strncpy(address.sun_path, socket_path.c_str(), sizeof(address.sun_path) - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
      0) {
    close(fd);
    return -1;
  }
  return fd;
}

// True if the peer closed `fd` within `limit_ms` (reads and discards).
inline bool PeerClosed(int fd, int limit_ms) {
  const absl::Time deadline = absl::Now() + absl::Milliseconds(limit_ms);
  char buffer[4096];
  while (true) {
    int left = static_cast<int>(std::max<int64_t>(
        0, absl::ToInt64Milliseconds(deadline - absl::Now())));
    pollfd p = {fd, POLLIN, 0};
    int ready = poll(&p, 1, left);
    if (ready <= 0) return false;
    ssize_t n = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return true;  // ECONNRESET
  }
}

// A raw, non-gRPC peer: connects, sends --bytes-hex, optionally half-closes
// (--shutdown-write), then reports whether the daemon hung up within
// --hold-ms.
inline int Raw(const Flags& flags) {
  int fd = ConnectUnix(flags.Get("socket"));
  Emit("connected", fd >= 0 ? 1 : 0);
  if (fd < 0) return 0;
  const std::string bytes = absl::HexStringToBytes(flags.Get("bytes-hex"));
  ssize_t sent = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  Emit("sent", static_cast<int64_t>(sent));
  if (flags.Has("shutdown-write")) shutdown(fd, SHUT_WR);
  Emit("peer_closed",
       PeerClosed(fd, static_cast<int>(flags.Int("hold-ms", 1000))) ? 1 : 0);
  close(fd);
  return 0;
}

// Opens --count connections (each sends --bytes-hex, if given), prints
// "ready", holds them until stdin closes (or --hold-ms), then reports how
// many the daemon had closed by then.
inline int Flood(const Flags& flags) {
  const int count = static_cast<int>(flags.Int("count", 100));
  const std::string bytes = absl::HexStringToBytes(flags.Get("bytes-hex"));
  std::vector<int> fds;
  for (int i = 0; i < count; ++i) {
    int fd = ConnectUnix(flags.Get("socket"));
    if (fd < 0) continue;
    if (!bytes.empty()) send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    fds.push_back(fd);
  }
  Emit("connected", static_cast<int64_t>(fds.size()));
  Emit("ready", "1");
  pollfd p = {0, POLLIN, 0};
  poll(&p, 1, static_cast<int>(flags.Int("hold-ms", 30000)));
  int closed = 0;
  for (int fd : fds) {
    if (PeerClosed(fd, 0)) ++closed;
    close(fd);
  }
  Emit("closed_by_daemon", closed);
  return 0;
}

// An operation a test file adds; returns the helper's exit code.
using ExtraOp = int (*)(const Flags& flags);

inline int HelperMain(int argc, char** argv, ExtraOp extra_op) {
  if (argc < 1) return 2;
  Flags flags;
  flags.op = argv[0];
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (!absl::ConsumePrefix(&arg, "--")) return 2;
    size_t eq = arg.find('=');
    flags.values.emplace(std::string(arg.substr(0, eq)),
                         eq == absl::string_view::npos
                             ? std::string()
                             : std::string(arg.substr(eq + 1)));
  }
  Emit("self_uid", getuid());
  Emit("self_pid", getpid());
  if (flags.op == "whoami") return WhoAmI(flags);
  if (flags.op == "write") return Write(flags);
  if (flags.op == "stat") return Stat(flags);
  if (flags.op == "stats") return Stats(flags);
  if (flags.op == "remove") return Remove(flags);
  if (flags.op == "stream") return Stream(flags);
  if (flags.op == "burst") return Burst(flags);
  if (flags.op == "raw") return Raw(flags);
  if (flags.op == "flood") return Flood(flags);
  if (extra_op != nullptr) return extra_op(flags);
  Emit("error", "unknown helper operation " + flags.op);
  return 2;
}

}  // namespace helper

inline int AdversarialMain(int argc, char** argv,
                           helper::ExtraOp extra_op = nullptr) {
  if (argc >= 2 && std::string(argv[1]) == kHelperFlag) {
    return helper::HelperMain(argc - 2, argv + 2, extra_op);
  }
  testing::InitGoogleMock(&argc, argv);
  return RUN_ALL_TESTS();
}

// ---------------------------------------------------------------------------
// The fixture
// ---------------------------------------------------------------------------

// Roots (relative to base) and limits of the default adversarial config:
//   data/   {uid} and kNobody, 4 MiB files, parents may be created
//   small/  {uid} and kNobody, 16-byte files
// max_message_bytes 1 MiB, stream idle timeout 700 ms, 100 connections and
// 16 writes in progress per uid.
inline constexpr char kAdversarialConfig[] =
    "socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
    "limits { max_message_bytes: 1048576 stream_idle_timeout_ms: 700 "
    "max_connections_per_uid: 100 max_concurrent_writes_per_uid: 16 }\n"
    "rule { root: \"{base}/data\" allow_uid: {uid} allow_uid: 65534 "
    "max_file_size: 4194304 allow_create_parents: true }\n"
    "rule { root: \"{base}/small\" allow_uid: {uid} allow_uid: 65534 "
    "max_file_size: 16 }\n";

class AdversarialTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(
        StartDaemon(kAdversarialConfig, {"small"}, {"data", "small"}));
  }

  void TearDown() override {
    if (armed_) {
      EXPECT_EQ(DiffTrees(before_, SnapshotOutside()), "")
          << "something outside the allowed roots changed";
    } else if (!HasFatalFailure() && !IsSkipped()) {
      ADD_FAILURE() << "the test never armed the sentinel (ArmSentinel)";
    }
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) {
      umount2(it->c_str(), MNT_DETACH);
    }
    mounts_.clear();
    daemon_.reset();
  }

  // (Re)starts the daemon with `config`; `dirs` are created under base;
  // `roots` (relative to base) are the allowed roots, excluded from the
  // sentinel. The sentinel tree under outside/ is planted afresh.
  void StartDaemon(const std::string& config,
                   const std::vector<std::string>& dirs,
                   const std::vector<std::string>& roots) {
    armed_ = false;
    daemon_.reset();
    auto daemon = TestDaemon::Start(config, dirs);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    roots_.clear();
    protected_.clear();
    ignore_mtime_.clear();
    for (const std::string& root : roots) roots_.insert(Base() + "/" + root);
    PlantSentinels();
  }

  std::string Base() const { return daemon_->base(); }
  std::string Data() const { return daemon_->data(); }
  std::string Small() const { return Base() + "/small"; }
  std::string Outside() const { return daemon_->outside(); }
  std::string Victim() const { return Outside() + "/victim"; }
  std::string Socket() const { return daemon_->socket_path(); }

  // outside/ holds files an attacker would love to change.
  void PlantSentinels() {
    WriteFileOrDie(Victim(), "precious outside content\n");
    chmod(Victim().c_str(), 0640);
    mkdir((Outside() + "/etc").c_str(), 0755);
    WriteFileOrDie(Outside() + "/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    mkdir((Outside() + "/cron.d").c_str(), 0755);
    symlink("../victim", (Outside() + "/etc/link-to-victim").c_str());
  }

  // The state outside the roots: everything under base except the roots
  // and the daemon's log.
  TreeState SnapshotOutside() const {
    std::set<std::string> excluded = roots_;
    excluded.insert(Base() + "/durabled.log");
    TreeState state = SnapshotTree(Base(), excluded);
    for (const std::string& name : ignore_mtime_) {
      auto it = state.find(name);
      if (it != state.end()) it->second.mtime_ns = 0;
    }
    for (const std::string& path : protected_) {
      for (auto& [name, entry] : SnapshotTree(path, {})) {
        state[absl::StrCat("[protected ", path, "]/", name)] = entry;
      }
    }
    return state;
  }

  // Also watch `path`, although it lies inside an allowed root (a nested
  // root of another uid, squatted names, a directory the attack must not
  // touch).
  void Protect(const std::string& path) { protected_.insert(path); }

  // The test itself renames entries of this directory (relative to base,
  // "." for base itself), so its mtime may change; its entries are still
  // compared.
  void IgnoreMtimeOf(const std::string& relative) {
    ignore_mtime_.insert(relative);
  }

  // Call after planting the attack, right before making it.
  void ArmSentinel() {
    before_ = SnapshotOutside();
    armed_ = true;
  }

  // Mid-test check (the final one happens in TearDown).
  void ExpectOutsideUnchanged() {
    ASSERT_TRUE(armed_);
    EXPECT_EQ(DiffTrees(before_, SnapshotOutside()), "")
        << "something outside the allowed roots changed";
  }

  // No entry called `leaf` appeared in the usual escape destinations.
  void ExpectNoEscapeNamed(const std::string& leaf) {
    std::vector<std::string> places = {"/", "/etc", "/tmp", Outside(),
                                       Outside() + "/etc"};
    if (daemon_->pid() > 0) {
      places.push_back(
          ReadLink(absl::StrCat("/proc/", daemon_->pid(), "/cwd")));
    }
    places.push_back(ReadLink("/proc/self/cwd"));
    for (const std::string& place : places) {
      EXPECT_FALSE(PathExists(place + "/" + leaf))
          << "the attack created " << place << "/" << leaf;
    }
  }

  std::vector<std::string> Args(const std::string& op,
                                std::vector<std::string> more = {}) const {
    std::vector<std::string> args = {op, "--socket=" + Socket()};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  HelperResult AttackAs(const ProcessCredentials& who, const std::string& op,
                        std::vector<std::string> more = {}) {
    HelperResult result = RunHelper(who, Args(op, std::move(more)));
    // The attack really came from a process of that uid.
    EXPECT_EQ(result.Field("self_uid"), std::to_string(who.uid))
        << result.Describe();
    return result;
  }
  HelperResult Attack(const std::string& op,
                      std::vector<std::string> more = {}) {
    return AttackAs(AttackerCredentials(), op, std::move(more));
  }
  HelperResult AttackWrite(const std::string& path,
                           const std::string& data = "pwned",
                           std::vector<std::string> more = {}) {
    more.push_back(PathArg(path));
    more.push_back(DataArg(data));
    return Attack("write", std::move(more));
  }

  // durablectl as `uid` (gid = uid, no supplementary groups).
  CommandResult Durablectl(std::optional<uid_t> uid,
                           std::vector<std::string> args,
                           const std::string& stdin_data = "") {
    Command command;
    command.argv = {DURABLECTL_BINARY, "--socket=" + Socket(), "--timeout=20"};
    command.argv.insert(command.argv.end(), args.begin(), args.end());
    command.stdin_data = stdin_data;
    if (uid.has_value()) {
      command.uid = *uid;
      command.gid = *uid;
    }
    return RunCommand(command);
  }

  // A legitimate caller (the test's own uid, in-process) is still served.
  void ExpectDaemonServes(const std::string& leaf = "still-served") {
    ASSERT_TRUE(IsAlive(daemon_->pid())) << daemon_->Log();
    auto client = daemon_->NewClient();
    const std::string path = Data() + "/" + leaf;
    auto result = client->Write(path, "legit");
    ASSERT_TRUE(result.ok()) << result.status() << "\n" << daemon_->Log();
    EXPECT_EQ(*ReadFile(path), "legit");
  }

  // mount(2), remembered for TearDown. False (and the test skipped) where
  // mounting is not permitted.
  bool Mount(const std::string& source, const std::string& target,
             const char* fstype, unsigned long flags) {
    if (mount(source.c_str(), target.c_str(), fstype, flags, nullptr) != 0) {
      return false;
    }
    mounts_.push_back(target);
    return true;
  }

  std::unique_ptr<TestDaemon> daemon_;
  std::set<std::string> roots_;
  std::set<std::string> protected_;
  std::set<std::string> ignore_mtime_;
  TreeState before_;
  bool armed_ = false;
  std::vector<std::string> mounts_;
};

#define EXPECT_CODE(result, expected)                      \
  EXPECT_EQ(CodeName((result).code()), CodeName(expected)) \
      << (result).Describe()

}  // namespace durable::test::adversarial

#endif  // DURABLED_TESTS_ADVERSARIAL_ADVERSARIAL_SUPPORT_H_
