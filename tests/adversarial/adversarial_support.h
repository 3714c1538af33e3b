// Shared machinery of the adversarial (security) suite, declared here and
// defined in adversarial_support.cc, compiled once into the
// durable_adversarial_support library that every
// tests/adversarial/*_test.cc binary links.
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

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "durable/v1/durable.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/engine/file_replacer.h"
#include "tests/support/spawn.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_daemon.h"

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

bool IsRoot();

// The test's own credentials (no drop).
ProcessCredentials OwnCredentials();

// `uid`, with gid == uid and the supplementary `groups`.
ProcessCredentials CredentialsOf(uid_t uid, std::vector<gid_t> groups = {});

// kNobody when the suite can change uids (root, as in CI), else the test's
// own uid: the attack is then still made by a separate process, only not
// under another uid.
ProcessCredentials AttackerCredentials();

#define SKIP_UNLESS_ROOT()                                          \
  do {                                                              \
    if (!::durable::test::adversarial::IsRoot()) {                  \
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

char TypeOf(mode_t mode);

// Walks `path` without following symlinks (and without opening anything but
// regular files and directories), skipping the absolute paths in `excluded`.
void SnapshotInto(const std::string& path, const std::string& relative,
                  const std::set<std::string>& excluded, TreeState* state);

TreeState SnapshotTree(const std::string& root,
                       const std::set<std::string>& excluded);

// Empty if equal; else one line per difference.
std::string DiffTrees(const TreeState& before, const TreeState& after);

// Daemon temp files anywhere under `dir` (names starting with the prefix;
// `ignore` lists squatted names a test planted itself).
std::vector<std::string> TempFilesUnder(
    const std::string& dir, const std::set<std::string>& ignore = {});

bool WaitUntil(const std::function<bool()>& condition,
               absl::Duration limit = absl::Seconds(5));

std::string ReadLink(const std::string& path);

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

std::vector<AuditRecord> AuditRecords(const std::string& log);

bool IsAlive(pid_t pid);

int CountOpenFds(pid_t pid);

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

std::string CodeName(grpc::StatusCode code);

std::string SelfExecutable();

void ParseFields(const std::string& out,
                 std::multimap<std::string, std::string>* fields);

// A running helper. Its stdin is a pipe the parent may close (a helper
// waiting for "go away" reads it), stdout and stderr are collected.
class HelperProcess {
 public:
  static std::unique_ptr<HelperProcess> Spawn(
      const ProcessCredentials& who, const std::vector<std::string>& args);

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
  void Pump();

  // True once the helper printed a line equal to `line`.
  bool WaitForLine(const std::string& line, absl::Duration limit);

  // Non-blocking: true (and the result complete) once the helper exited.
  bool TryReap();

  // Waits for the helper to exit (killing it after `limit`).
  const HelperResult& Wait(absl::Duration limit = absl::Seconds(60));

  const HelperResult& result() const { return result_; }

 private:
  HelperProcess() = default;

  void Reaped(int status);

  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  int stderr_ = -1;
  bool reaped_ = false;
  HelperResult result_;
};

// Runs one helper to completion.
HelperResult RunHelper(const ProcessCredentials& who,
                       const std::vector<std::string>& args,
                       absl::Duration limit = absl::Seconds(60));

// Helper arguments.
std::string PathArg(absl::string_view path);
std::string DataArg(absl::string_view data);

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
void Emit(const std::string& key, const std::string& value);
void Emit(const std::string& key, int64_t value);

void EmitStatus(const grpc::Status& status);

std::string PathOf(const Flags& flags);

std::string DataOf(const Flags& flags);

std::shared_ptr<grpc::Channel> MakeChannel(const Flags& flags);

// Deadline and forged metadata ("--md=key:value", repeatable).
void Prepare(const Flags& flags, grpc::ClientContext* context);

void FillOptions(const Flags& flags, durable::v1::WriteOptions* options);

int WhoAmI(const Flags& flags);

int Write(const Flags& flags);

int Stats(const Flags& flags);

int Stat(const Flags& flags);

int Remove(const Flags& flags);

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
void StreamOnce(const Flags& flags);

// --parallel=N runs N such streams at once (own connection each).
int Stream(const Flags& flags);

// Many writes, as fast as possible: --threads=T threads (own connection
// each) write every --path-hex (repeatable) --rounds=R times. Reports
// "count.<CODE>=n" and, per OK write, "ok=<path>".
int Burst(const Flags& flags);

int ConnectUnix(const std::string& socket_path);

// True if the peer closed `fd` within `limit_ms` (reads and discards).
bool PeerClosed(int fd, int limit_ms);

// A raw, non-gRPC peer: connects, sends --bytes-hex, optionally half-closes
// (--shutdown-write), then reports whether the daemon hung up within
// --hold-ms.
int Raw(const Flags& flags);

// Opens --count connections (each sends --bytes-hex, if given), prints
// "ready", holds them until stdin closes (or --hold-ms), then reports how
// many the daemon had closed by then.
int Flood(const Flags& flags);

// An operation a test file adds; returns the helper's exit code.
using ExtraOp = int (*)(const Flags& flags);

int HelperMain(int argc, char** argv, ExtraOp extra_op);

}  // namespace helper

int AdversarialMain(int argc, char** argv, helper::ExtraOp extra_op = nullptr);

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

  void TearDown() override;

  // (Re)starts the daemon with `config`; `dirs` are created under base;
  // `roots` (relative to base) are the allowed roots, excluded from the
  // sentinel. The sentinel tree under outside/ is planted afresh.
  void StartDaemon(const std::string& config,
                   const std::vector<std::string>& dirs,
                   const std::vector<std::string>& roots);

  std::string Base() const { return daemon_->base(); }
  std::string Data() const { return daemon_->data(); }
  std::string Small() const { return Base() + "/small"; }
  std::string Outside() const { return daemon_->outside(); }
  std::string Victim() const { return Outside() + "/victim"; }
  std::string Socket() const { return daemon_->socket_path(); }

  // outside/ holds files an attacker would love to change.
  void PlantSentinels();

  // The state outside the roots: everything under base except the roots
  // and the daemon's log.
  TreeState SnapshotOutside() const;

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
  void ExpectOutsideUnchanged();

  // No entry called `leaf` appeared in the usual escape destinations.
  void ExpectNoEscapeNamed(const std::string& leaf);

  std::vector<std::string> Args(const std::string& op,
                                std::vector<std::string> more = {}) const;

  HelperResult AttackAs(const ProcessCredentials& who, const std::string& op,
                        std::vector<std::string> more = {});
  HelperResult Attack(const std::string& op,
                      std::vector<std::string> more = {}) {
    return AttackAs(AttackerCredentials(), op, std::move(more));
  }
  HelperResult AttackWrite(const std::string& path,
                           const std::string& data = "pwned",
                           std::vector<std::string> more = {});

  // durablectl as `uid` (gid = uid, no supplementary groups).
  CommandResult Durablectl(std::optional<uid_t> uid,
                           std::vector<std::string> args,
                           const std::string& stdin_data = "");

  // A legitimate caller (the test's own uid, in-process) is still served.
  void ExpectDaemonServes(const std::string& leaf = "still-served");

  // mount(2), remembered for TearDown. False (and the test skipped) where
  // mounting is not permitted.
  bool Mount(const std::string& source, const std::string& target,
             const char* fstype, unsigned long flags);

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
