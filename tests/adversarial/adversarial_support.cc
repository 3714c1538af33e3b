// Definitions for adversarial_support.h, compiled once into
// durable_adversarial_support.
#include "tests/adversarial/adversarial_support.h"

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
#include "tests/support/spawn.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_daemon.h"

namespace durable::test::adversarial {

bool IsRoot() { return geteuid() == 0; }

ProcessCredentials OwnCredentials() {
  return ProcessCredentials{getuid(), getgid(), {}, false};
}

ProcessCredentials CredentialsOf(uid_t uid, std::vector<gid_t> groups) {
  return ProcessCredentials{uid, static_cast<gid_t>(uid), std::move(groups),
                            true};
}

ProcessCredentials AttackerCredentials() {
  return IsRoot() ? CredentialsOf(kNobody) : OwnCredentials();
}

char TypeOf(mode_t mode) {
  if (S_ISREG(mode)) return 'f';
  if (S_ISDIR(mode)) return 'd';
  if (S_ISLNK(mode)) return 'l';
  if (S_ISFIFO(mode)) return 'p';
  if (S_ISSOCK(mode)) return 's';
  if (S_ISCHR(mode)) return 'c';
  if (S_ISBLK(mode)) return 'b';
  return '?';
}

void SnapshotInto(const std::string& path, const std::string& relative,
                  const std::set<std::string>& excluded, TreeState* state) {
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

TreeState SnapshotTree(const std::string& root,
                       const std::set<std::string>& excluded) {
  TreeState state;
  SnapshotInto(root, "", excluded, &state);
  return state;
}

std::string DiffTrees(const TreeState& before, const TreeState& after) {
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

std::vector<std::string> TempFilesUnder(const std::string& dir,
                                        const std::set<std::string>& ignore) {
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

bool WaitUntil(const std::function<bool()>& condition, absl::Duration limit) {
  const absl::Time deadline = absl::Now() + limit;
  while (!condition()) {
    if (absl::Now() > deadline) return condition();
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

std::string ReadLink(const std::string& path) {
  char target[PATH_MAX];
  ssize_t n = readlink(path.c_str(), target, sizeof(target));
  return n > 0 ? std::string(target, static_cast<size_t>(n)) : "";
}

std::vector<AuditRecord> AuditRecords(const std::string& log) {
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

bool IsAlive(pid_t pid) { return pid > 0 && kill(pid, 0) == 0; }

int CountOpenFds(pid_t pid) {
  return static_cast<int>(
      ListDirectory(absl::StrCat("/proc/", pid, "/fd")).size());
}

std::string CodeName(grpc::StatusCode code) {
  if (static_cast<int>(code) < 0) return "NO_CODE_REPORTED";
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

std::string SelfExecutable() {
  static const std::string path = ReadLink("/proc/self/exe");
  return path;
}

void ParseFields(const std::string& out,
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

HelperResult RunHelper(const ProcessCredentials& who,
                       const std::vector<std::string>& args,
                       absl::Duration limit) {
  std::unique_ptr<HelperProcess> helper = HelperProcess::Spawn(who, args);
  if (helper == nullptr) return HelperResult{};
  helper->CloseStdin();
  return helper->Wait(limit);
}

std::string PathArg(absl::string_view path) {
  return absl::StrCat("--path-hex=", absl::BytesToHexString(path));
}

std::string DataArg(absl::string_view data) {
  return absl::StrCat("--data-hex=", absl::BytesToHexString(data));
}

int AdversarialMain(int argc, char** argv, helper::ExtraOp extra_op) {
  if (argc >= 2 && std::string(argv[1]) == kHelperFlag) {
    return helper::HelperMain(argc - 2, argv + 2, extra_op);
  }
  testing::InitGoogleMock(&argc, argv);
  return RUN_ALL_TESTS();
}

std::unique_ptr<HelperProcess> HelperProcess::Spawn(
    const ProcessCredentials& who, const std::vector<std::string>& args) {
  SpawnOptions spawn;
  spawn.argv = {SelfExecutable(), kHelperFlag};
  spawn.argv.insert(spawn.argv.end(), args.begin(), args.end());
  spawn.credentials = who;

  signal(SIGPIPE, SIG_IGN);
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
      pipe2(err, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << strerror(errno);
    return nullptr;
  }
  spawn.stdin_fd = in[0];
  spawn.stdout_fd = out[1];
  spawn.stderr_fd = err[1];
  absl::StatusOr<pid_t> pid = test::Spawn(spawn);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (!pid.ok()) {
    ADD_FAILURE() << pid.status();
    close(in[1]);
    close(out[0]);
    close(err[0]);
    return nullptr;
  }
  auto helper = std::unique_ptr<HelperProcess>(new HelperProcess());
  helper->pid_ = *pid;
  helper->stdin_ = in[1];
  helper->stdout_ = out[0];
  helper->stderr_ = err[0];
  fcntl(helper->stdout_, F_SETFL, O_NONBLOCK);
  fcntl(helper->stderr_, F_SETFL, O_NONBLOCK);
  return helper;
}

void HelperProcess::Pump() {
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

bool HelperProcess::WaitForLine(const std::string& line, absl::Duration limit) {
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

bool HelperProcess::TryReap() {
  Pump();
  if (reaped_) return true;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
  Reaped(status);
  return true;
}

const HelperResult& HelperProcess::Wait(absl::Duration limit) {
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

void HelperProcess::Reaped(int status) {
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

void AdversarialTest::TearDown() {
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

void AdversarialTest::StartDaemon(const std::string& config,
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

void AdversarialTest::PlantSentinels() {
  WriteFileOrDie(Victim(), "precious outside content\n");
  chmod(Victim().c_str(), 0640);
  mkdir((Outside() + "/etc").c_str(), 0755);
  WriteFileOrDie(Outside() + "/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
  mkdir((Outside() + "/cron.d").c_str(), 0755);
  symlink("../victim", (Outside() + "/etc/link-to-victim").c_str());
}

TreeState AdversarialTest::SnapshotOutside() const {
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

void AdversarialTest::ExpectOutsideUnchanged() {
  ASSERT_TRUE(armed_);
  EXPECT_EQ(DiffTrees(before_, SnapshotOutside()), "")
      << "something outside the allowed roots changed";
}

void AdversarialTest::ExpectNoEscapeNamed(const std::string& leaf) {
  std::vector<std::string> places = {"/", "/etc", "/tmp", Outside(),
                                     Outside() + "/etc"};
  if (daemon_->pid() > 0) {
    places.push_back(ReadLink(absl::StrCat("/proc/", daemon_->pid(), "/cwd")));
  }
  places.push_back(ReadLink("/proc/self/cwd"));
  for (const std::string& place : places) {
    EXPECT_FALSE(PathExists(place + "/" + leaf))
        << "the attack created " << place << "/" << leaf;
  }
}

std::vector<std::string> AdversarialTest::Args(
    const std::string& op, std::vector<std::string> more) const {
  std::vector<std::string> args = {op, "--socket=" + Socket()};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

HelperResult AdversarialTest::AttackAs(const ProcessCredentials& who,
                                       const std::string& op,
                                       std::vector<std::string> more) {
  HelperResult result = RunHelper(who, Args(op, std::move(more)));
  // The attack really came from a process of that uid.
  EXPECT_EQ(result.Field("self_uid"), std::to_string(who.uid))
      << result.Describe();
  return result;
}

HelperResult AdversarialTest::AttackWrite(const std::string& path,
                                          const std::string& data,
                                          std::vector<std::string> more) {
  more.push_back(PathArg(path));
  more.push_back(DataArg(data));
  return Attack("write", std::move(more));
}

CommandResult AdversarialTest::Durablectl(std::optional<uid_t> uid,
                                          std::vector<std::string> args,
                                          const std::string& stdin_data) {
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

void AdversarialTest::ExpectDaemonServes(const std::string& leaf) {
  ASSERT_TRUE(IsAlive(daemon_->pid())) << daemon_->Log();
  auto client = daemon_->NewClient();
  const std::string path = Data() + "/" + leaf;
  auto result = client->Write(path, "legit");
  ASSERT_TRUE(result.ok()) << result.status() << "\n" << daemon_->Log();
  EXPECT_EQ(*ReadFile(path), "legit");
}

bool AdversarialTest::Mount(const std::string& source,
                            const std::string& target, const char* fstype,
                            unsigned long flags) {
  if (mount(source.c_str(), target.c_str(), fstype, flags, nullptr) != 0) {
    return false;
  }
  mounts_.push_back(target);
  return true;
}

namespace helper {

void Emit(const std::string& key, const std::string& value) {
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

void Emit(const std::string& key, int64_t value) {
  Emit(key, std::to_string(value));
}

void EmitStatus(const grpc::Status& status) {
  Emit("code", static_cast<int64_t>(status.error_code()));
  Emit("code_name", CodeName(status.error_code()));
  Emit("message", status.error_message());
}

std::string PathOf(const Flags& flags) {
  if (flags.Has("path-hex"))
    return absl::HexStringToBytes(flags.Get("path-hex"));
  return flags.Get("path");
}

std::string DataOf(const Flags& flags) {
  if (flags.Has("data-hex"))
    return absl::HexStringToBytes(flags.Get("data-hex"));
  if (flags.Has("size")) {
    return std::string(static_cast<size_t>(flags.Int("size", 0)), 'x');
  }
  return flags.Get("data");
}

std::shared_ptr<grpc::Channel> MakeChannel(const Flags& flags) {
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

void Prepare(const Flags& flags, grpc::ClientContext* context) {
  context->set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(flags.Int("timeout-ms", 20000)));
  for (const std::string& md : flags.All("md")) {
    size_t colon = md.find(':');
    context->AddMetadata(md.substr(0, colon), md.substr(colon + 1));
  }
}

void FillOptions(const Flags& flags, durable::v1::WriteOptions* options) {
  options->set_mode(static_cast<uint32_t>(
      std::strtoul(flags.Get("mode", "0").c_str(), nullptr, 8)));
  options->set_if_absent(flags.Has("if-absent"));
  options->set_create_parents(flags.Has("create-parents"));
}

int WhoAmI(const Flags& flags) {
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

int Write(const Flags& flags) {
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

int Stats(const Flags& flags) {
  auto stub = durable::v1::DurableWriter::NewStub(MakeChannel(flags));
  grpc::ClientContext context;
  Prepare(flags, &context);
  durable::v1::GetStatsRequest request;
  durable::v1::GetStatsResponse response;
  grpc::Status status = stub->GetStats(&context, request, &response);
  EmitStatus(status);
  return 0;
}

int Stat(const Flags& flags) {
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

int Remove(const Flags& flags) {
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

void StreamOnce(const Flags& flags) {
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

int Stream(const Flags& flags) {
  const int parallel = static_cast<int>(flags.Int("parallel", 1));
  std::vector<std::thread> streams;
  for (int i = 0; i < parallel; ++i) {
    streams.emplace_back([&flags] { StreamOnce(flags); });
  }
  for (std::thread& stream : streams) stream.join();
  return 0;
}

int Burst(const Flags& flags) {
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

int ConnectUnix(const std::string& socket_path) {
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

bool PeerClosed(int fd, int limit_ms) {
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

int Raw(const Flags& flags) {
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

int Flood(const Flags& flags) {
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

int HelperMain(int argc, char** argv, ExtraOp extra_op) {
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

}  // namespace durable::test::adversarial
