// durabled: durable, atomic file replacement for local callers.
//
// main wires the pieces together and owns the only process-wide state:
// signal mask, umask, the policy store and the listener.
#include <grp.h>
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/base/errno_status.h"
#include "server/base/logging.h"
#include "server/daemon/call_accounting.h"
#include "server/daemon/grpc_server_options.h"
#include "server/daemon/metrics.h"
#include "server/daemon/writable_paths.h"
#include "server/engine/commit_queue.h"
#include "server/engine/file_replacer.h"
#include "server/engine/pending_directories.h"
#include "server/engine/posix_file_system.h"
#include "server/engine/set_replacer.h"
#include "server/engine/temp_file_sweeper.h"
#include "server/engine/usage_ledger.h"
#include "server/engine/versioned_set_replacer.h"
#include "server/policy/config_loader.h"
#include "server/policy/policy_store.h"
#include "server/policy/root_locks.h"
#include "server/service/durable_service.h"
#include "server/service/stream_watchdog.h"
#include "server/service/worker_pool.h"
#include "server/service/write_admission.h"
#include "server/service/write_operation.h"
#include "server/transport/peer_registry.h"
#include "server/transport/unix_listener.h"

ABSL_FLAG(std::string, config, durable::kDefaultConfigPath,
          "Path of the config file (Protobuf text format, schema "
          "durable.v1.DaemonConfig).");
ABSL_FLAG(std::string, socket, "",
          "Listen on this socket path instead of the config's socket.path.");
ABSL_FLAG(bool, check, false,
          "Only check the config (parse it, open every root) and exit: 0 if "
          "the daemon would start with it, 1 with the reason if not.");
ABSL_FLAG(int, worker_threads, 8,
          "Threads for the blocking work of every call (filesystem I/O, "
          "fsync, waiting for a target's turn).");
ABSL_FLAG(std::string, flush_strategy, "",
          "Overrides the config's commit.flush: auto, fsync or syncfs (for "
          "measuring one against another).");
ABSL_FLAG(bool, print_writable_paths, false,
          "Print the paths the daemon must be able to write (each rule's "
          "root, the socket's directory), one per line, and exit; reads only "
          "the config (for the systemd generator's ReadWritePaths=).");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(30),
          "On SIGTERM, how long in-flight calls may take to finish.");

namespace {

constexpr char kUsage[] =
    "durabled --config=FILE [--socket=PATH]\n"
    "Performs durable, atomic file writes for local callers over a Unix "
    "socket.";

// --help: the usage and each of durabled's own flags on one line (Abseil's
// own --help lists no flag unless asked for a substring; --helpfull still
// lists Abseil's and gRPC's too).
void PrintHelp() {
  std::vector<const absl::CommandLineFlag*> own;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (absl::EndsWith(flag->Filename(), "daemon/main.cc")) own.push_back(flag);
  }
  std::sort(own.begin(), own.end(),
            [](const auto* a, const auto* b) { return a->Name() < b->Name(); });
  std::string help = absl::StrCat("usage: ", kUsage, "\n\nFlags:\n");
  for (const absl::CommandLineFlag* flag : own) {
    absl::StrAppend(
        &help, "  --", flag->Name(), " (default ",
        flag->DefaultValue().empty() ? "\"\"" : flag->DefaultValue(),
        "): ", flag->Help(), "\n");
  }
  absl::StrAppend(&help,
                  "  --help: print this help and exit\n"
                  "  --helpfull: also list the flags of Abseil and gRPC\n"
                  "  --version: print durabled's version and exit\n");
  std::fputs(help.c_str(), stdout);
}

}  // namespace

namespace durable {
namespace {

// Resolves a group name or numeric gid.
absl::StatusOr<std::optional<gid_t>> ResolveGroup(const std::string& group) {
  if (group.empty()) return std::nullopt;
  gid_t gid;
  if (absl::SimpleAtoi(group, &gid)) return gid;
  struct group entry;
  struct group* found = nullptr;
  std::vector<char> buffer(16384);
  if (getgrnam_r(group.c_str(), &entry, buffer.data(), buffer.size(), &found) !=
          0 ||
      found == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("socket group \"", group, "\" does not exist"));
  }
  return found->gr_gid;
}

absl::StatusOr<std::shared_ptr<const ActivePolicy>> LoadPolicy(
    const std::string& config_path, durable::v1::DaemonConfig* config_out) {
  absl::StatusOr<durable::v1::DaemonConfig> config =
      LoadConfigFile(config_path);
  if (!config.ok()) return config.status();
  auto policy = BuildActivePolicy(*config);
  if (!policy.ok()) return policy.status();
  if (config_out != nullptr) *config_out = std::move(*config);
  return policy;
}

// The roots of `policy`, as RootLocks takes them.
std::vector<RootLocks::Root> RootsOf(const ActivePolicy& policy) {
  std::vector<RootLocks::Root> roots;
  for (size_t i = 0; i < policy.roots.size(); ++i) {
    roots.push_back(
        {policy.policy.rules()[i].root_template.base(), policy.roots.fd(i)});
  }
  return roots;
}

void Reload(const std::string& config_path, PolicyStore& policies,
            RootLocks& root_locks) {
  auto policy = LoadPolicy(config_path, nullptr);
  if (policy.ok()) {
    // A new root must not overlap another daemon's either.
    absl::Status locked = root_locks.LockExactly(RootsOf(**policy));
    if (!locked.ok()) policy = locked;
  }
  if (!policy.ok()) {
    LogError(absl::StrCat("reload refused, the old policy stays in force: ",
                          policy.status().message()));
    sd_notifyf(0, "STATUS=reload refused: %s",
               std::string(policy.status().message()).c_str());
    return;
  }
  for (const std::string& warning : (*policy)->roots.warnings()) {
    LogWarning(warning);
  }
  sd_notify(0, "STATUS=running");
  policies.Replace(*std::move(policy));
  LogInfo(absl::StrCat("reloaded ", config_path, ": ",
                       policies.Current()->policy.rules().size(), " rules"));
}

// The commit queue's settings from the config (and --flush_strategy).
absl::StatusOr<CommitQueueOptions> CommitQueueOptionsFrom(
    const durable::v1::DaemonConfig& config) {
  using durable::v1::CommitConfig;
  const CommitConfig& commit = config.commit();
  CommitQueueOptions options;
  CommitConfig::FlushStrategy flush = commit.flush();
  const std::string flag = absl::GetFlag(FLAGS_flush_strategy);
  if (!flag.empty() &&
      !CommitConfig::FlushStrategy_Parse(
          absl::StrCat("FLUSH_", absl::AsciiStrToUpper(flag)), &flush)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--flush_strategy=", flag, " is none of auto, fsync, syncfs"));
  }
  switch (flush) {
    case CommitConfig::FLUSH_FSYNC:
      options.flush = FlushStrategy::kFsyncEach;
      break;
    case CommitConfig::FLUSH_SYNCFS:
      options.flush = FlushStrategy::kSyncfs;
      break;
    default:
      options.flush = FlushStrategy::kAuto;
  }
  options.max_batch =
      commit.max_batch() != 0 ? commit.max_batch() : kDefaultCommitBatch;
  options.max_committers = static_cast<int>(
      commit.committers() != 0 ? commit.committers() : kDefaultCommitters);
  options.coalesce = !commit.has_coalesce() || commit.coalesce();
  return options;
}

// The listening socket, bound here or passed by systemd.
struct OpenedListener {
  UnixListener listener;
  std::string description;  // for the log
  std::string bound_path;   // empty unless durabled bound it (and removes it)
};

absl::StatusOr<OpenedListener> OpenListener(
    const durable::v1::DaemonConfig& config) {
  if (sd_listen_fds(1) == 1) {
    absl::StatusOr<UnixListener> adopted =
        UnixListener::Adopt(SD_LISTEN_FDS_START);
    if (!adopted.ok()) return adopted.status();
    if (config.has_socket()) {
      LogInfo(
          "socket activation: the config's socket block (path, mode, "
          "group) does not apply; the socket unit decides them");
    }
    return OpenedListener{*std::move(adopted), "(socket passed by systemd)",
                          ""};
  }
  std::string path = absl::GetFlag(FLAGS_socket);
  if (path.empty()) path = config.socket().path();
  absl::StatusOr<std::optional<gid_t>> group =
      ResolveGroup(config.socket().group());
  if (!group.ok()) return group.status();
  absl::StatusOr<UnixListener> bound =
      UnixListener::Bind(path, config.socket().mode(), *group);
  if (!bound.ok()) return bound.status();
  return OpenedListener{*std::move(bound), path, path};
}

// Locks the roots against a second daemon, then sweeps the temp files an
// earlier run left in them. Only once the roots are locked is every temp
// file beneath them a leftover, safe to remove.
absl::Status PrepareRoots(const ActivePolicy& policy, FileSystem& fs,
                          RootLocks& root_locks) {
  absl::Status locked = root_locks.LockExactly(RootsOf(policy));
  if (!locked.ok()) return locked;
  for (size_t i = 0; i < policy.roots.size(); ++i) {
    const std::string& root = policy.policy.rules()[i].root_template.base();
    absl::StatusOr<SweepResult> swept =
        SweepTempFiles(fs, policy.roots.fd(i), root);
    if (!swept.ok()) {
      // A committed set may be unfinished there, and its temp files are its
      // content: serving writes now could lose it or mix it.
      return Annotate(swept.status(),
                      absl::StrCat("the start-up recovery of root ",
                                   EscapeName(root), " failed"));
    }
    if (swept->sets_finished > 0) {
      LogNotice(absl::StrCat("start-up recovery of ", EscapeName(root),
                             ": finished ", swept->sets_finished,
                             " committed sets"));
    }
    if (swept->removed > 0) {
      LogNotice(absl::StrCat("start-up sweep of ", EscapeName(root),
                             ": removed ", swept->removed,
                             " leftover temp files"));
    }
  }
  return absl::OkStatus();
}

// Who may connect at all: a caller some rule could allow, within its
// connection limit.
AdmissionCheck MakeAdmissionCheck(const PolicyStore& policies,
                                  PeerRegistry& peers, Metrics& metrics,
                                  uint32_t max_connections) {
  return [&policies, &peers, &metrics,
          max_connections](const PeerCredentials& peer) -> absl::Status {
    absl::Status admitted = absl::OkStatus();
    if (!policies.Current()->policy.CouldEverAllow(peer)) {
      admitted = absl::PermissionDeniedError(
          absl::StrCat("no rule allows uid ", peer.uid, " or its groups"));
    } else if (peers.LiveConnectionsOf(peer.uid) >= max_connections) {
      admitted = absl::ResourceExhaustedError(
          absl::StrCat("uid ", peer.uid, " already has ", max_connections,
                       " connections open, the limit per uid"));
    }
    metrics.RecordConnection(admitted.ok());
    return admitted;
  };
}

// Serves signals until SIGTERM or SIGINT: SIGHUP reloads the config.
void WaitForStop(const std::string& config_path, PolicyStore& policies,
                 RootLocks& root_locks) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  while (true) {
    int signal_number = 0;
    if (sigwait(&signals, &signal_number) != 0) continue;
    if (signal_number != SIGHUP) return;
    sd_notify(0, "RELOADING=1");
    Reload(config_path, policies, root_locks);
    sd_notify(0, "READY=1");
  }
}

// Writes in progress finish; new ones get UNAVAILABLE. Then the server
// stops at once: waiting for idle connections to say goodbye would only
// delay the exit (gRPC waits for each one).
void Drain(WriteAdmission& admission, grpc::Server& server) {
  admission.StopAdmitting();
  if (!admission.WaitUntilIdle(absl::GetFlag(FLAGS_drain_timeout))) {
    LogWarning(absl::StrCat("drain timeout: ", admission.in_progress(),
                            " writes still in progress are cancelled"));
  }
  server.Shutdown(std::chrono::system_clock::now());
  server.Wait();
}

int Run() {
  // 1. The config, or only its check.
  const std::string config_path = absl::GetFlag(FLAGS_config);
  if (absl::GetFlag(FLAGS_worker_threads) < 1) {
    LogError("cannot start: --worker_threads must be at least 1");
    return EXIT_FAILURE;
  }
  if (absl::GetFlag(FLAGS_print_writable_paths)) {
    absl::StatusOr<durable::v1::DaemonConfig> parsed =
        LoadConfigFile(config_path);
    if (!parsed.ok()) {
      LogError(std::string(parsed.status().message()));
      return EXIT_FAILURE;
    }
    for (const std::string& path : WritablePaths(*parsed)) {
      std::printf("%s\n", path.c_str());
    }
    return EXIT_SUCCESS;
  }
  durable::v1::DaemonConfig config;
  auto initial = LoadPolicy(config_path, &config);
  if (!initial.ok()) {
    LogError(absl::StrCat("cannot start: ", initial.status().message()));
    return EXIT_FAILURE;
  }
  for (const std::string& warning : (*initial)->roots.warnings()) {
    LogWarning(warning);
  }
  if (absl::GetFlag(FLAGS_check)) {
    LogInfo(absl::StrCat(config_path, ": OK, ", config.rule_size(), " rules"));
    return EXIT_SUCCESS;
  }

  // 2. The pieces, from the filesystem up to the service.
  Metrics metrics;
  CallAccounting accounting(&metrics);
  PosixFileSystem fs(&metrics);
  PolicyStore policies(*std::move(initial));
  PeerRegistry peers;
  FileReplacer replacer(&fs);
  absl::StatusOr<CommitQueueOptions> commit_options =
      CommitQueueOptionsFrom(config);
  if (!commit_options.ok()) {
    LogError(absl::StrCat("cannot start: ", commit_options.status().message()));
    return EXIT_FAILURE;
  }
  // The answers of a batch run on the worker pool. The pool is made after
  // the queue and so goes first: its threads are the committers, and once
  // they are joined nothing uses the queue any more.
  WorkerPool* answer_pool = nullptr;
  commit_options->answer_executor =
      [&answer_pool](uint64_t tenant, std::function<void()> answer) {
        answer_pool->Submit(tenant, std::move(answer));
      };
  CommitQueue commits(&replacer, *commit_options, &metrics);
  const durable::v1::Limits limits_config = EffectiveLimits(config);
  WriteAdmission admission(limits_config.max_concurrent_writes(),
                           limits_config.max_concurrent_writes_per_uid());
  PendingDirectories pending_directories;
  UsageLedger usage(&fs);
  // The watchdog outlives the pool: a queued task may still touch it.
  StreamWatchdog watchdog;
  WorkerPool workers(absl::GetFlag(FLAGS_worker_threads));
  answer_pool = &workers;
  ServiceLimits limits;
  limits.stream_idle_timeout = StreamIdleTimeout(config);
  limits.request_arrival_timeout =
      absl::Milliseconds(limits_config.request_arrival_timeout_ms());
  limits.sets.max_members = limits_config.max_set_members();
  limits.sets.max_bytes = limits_config.max_set_bytes();
  SetReplacer sets(&fs, &replacer);
  VersionedSetReplacer versioned_sets(&fs, &replacer);
  DurableService service(
      WriteDependencies{&policies, &fs, &replacer, &commits, &admission,
                        &pending_directories, &usage, &sets, &versioned_sets},
      &peers, &workers, &watchdog, &accounting, limits);

  // 3. The gRPC server, with no listening port of its own.
  grpc::ServerBuilder builder;
  ConfigureServerBuilder(limits_config, config.enable_reflection(), &builder);
  builder.RegisterService(&service);
  // The unary methods arrive here (see DurableService), and so does any
  // unknown method (UNIMPLEMENTED).
  builder.RegisterCallbackGenericService(service.unary_methods());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    LogError("cannot start: the gRPC server did not start");
    return EXIT_FAILURE;
  }

  // 4. The socket (a second daemon on the same config stops here), then the
  // roots (one with an overlapping root stops there).
  absl::StatusOr<OpenedListener> opened = OpenListener(config);
  if (!opened.ok()) {
    LogError(absl::StrCat("cannot start: ", opened.status().message()));
    return EXIT_FAILURE;
  }
  RootLocks root_locks;
  absl::Status prepared = PrepareRoots(*policies.Current(), fs, root_locks);
  if (!prepared.ok()) {
    LogError(absl::StrCat("cannot start: ", prepared.message()));
    if (!opened->bound_path.empty()) unlink(opened->bound_path.c_str());
    return EXIT_FAILURE;
  }

  // 5. Serve until told to stop.
  std::thread acceptor([&] {
    opened->listener.Serve(
        server.get(), &peers,
        MakeAdmissionCheck(policies, peers, metrics,
                           limits_config.max_connections_per_uid()));
  });
  LogInfo(absl::StrCat("durabled listening on ", opened->description, " with ",
                       config.rule_size(), " rules from ", config_path));
  sd_notify(0, "READY=1");
  WaitForStop(config_path, policies, root_locks);

  // 6. Stop: no new connections, drain the writes in flight.
  LogInfo("stopping: no new connections or writes, draining writes in flight");
  sd_notify(0, "STOPPING=1");
  opened->listener.Stop();
  acceptor.join();
  if (!opened->bound_path.empty()) unlink(opened->bound_path.c_str());
  Drain(admission, *server);
  LogInfo("stopped");
  return EXIT_SUCCESS;
}

}  // namespace
}  // namespace durable

int main(int argc, char** argv) {
  // Files are created with explicit modes; the socket is bound with nothing
  // open to others before its mode is set.
  umask(077);
  // Block the signals handled by sigwait before any thread exists, so every
  // thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Past a file-size limit (LimitFSIZE=, ulimit -f) a write must fail with
  // EFBIG, not kill the daemon.
  signal(SIGXFSZ, SIG_IGN);

  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig usage_config;
  usage_config.version_string = [] {
    return std::string("durabled " DURABLED_VERSION "\n");
  };
  absl::SetFlagsUsageConfig(usage_config);
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == "--help" || arg == "-help" || arg == "-h") {
      PrintHelp();
      return 0;
    }
  }
  absl::ParseCommandLine(argc, argv);
  // Streamed content passes through 1 MiB buffers (gRPC slices, messages).
  // With glibc's defaults each was mmapped or trimmed back with madvise
  // when freed and faulted in again: a fifth of a stream's CPU in page
  // faults and TLB shootdowns. Kept in the heap instead, they are reused.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  // Debian's Abseil checks every Mutex acquisition for lock-order cycles
  // (GraphCycles showed in profiles of the write path); durabled's lock
  // order is fixed by design and tested, so the check only costs.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return durable::Run();
}
