// Throughput of durabled against the in-process baseline it replaces.
//
// One run starts a private durabled (the binary CMake built, DURABLED_BINARY)
// on a scratch tree under /tmp, then measures side by side, on the same
// filesystem:
//
//   baseline  write a temp file, fsync it, rename it over the target, fsync
//             the directory, all in this process (the protocol of
//             write_durable() that durabled generalises);
//   daemon    the same replacement requested over the Unix socket with
//             durable::Client.
//
// for sequential writes to one target, 8 threads writing 8 targets in one
// directory (one durable::Client each), and one 64 MiB streamed write. Every
// benchmark reports the rate counters "writes" and "MiB" (per second of wall
// time, all threads together); at the end a table gives daemon/baseline for
// each pair. Nothing here asserts on timing: the exit status only says
// whether every write succeeded and the daemon stopped cleanly.
//
//   durable_bench [--benchmark_filter=...] [--benchmark_min_time=...]
//                 [--benchmark_repetitions=...] [--benchmark_out=...]

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "client/client.h"
#include "tests/support/spawn.h"

namespace durable::bench {
namespace {

constexpr size_t kKiB = 1024;
constexpr size_t kMiB = 1024 * 1024;
constexpr int kParallelWriters = 8;
constexpr size_t kSmallWrite = 4 * kKiB;
constexpr size_t kLargeWrite = 1 * kMiB;
constexpr size_t kStreamSize = 64 * kMiB;
// Both sides of the streamed pair move the content in pieces of this size:
// the client's stream chunks, the baseline's write(2) calls.
constexpr size_t kStreamChunk = 1 * kMiB;

// The scratch tree: <base>/data is the daemon's only root, <base>/baseline
// the in-process writer's; both hold one subdirectory per scenario.
struct Scratch {
  std::string base;
  std::string data() const { return base + "/data"; }
  std::string baseline() const { return base + "/baseline"; }
  std::string socket_path() const { return base + "/durabled.sock"; }
  std::string log_path() const { return base + "/durabled.log"; }
};

const char* const kScenarioDirs[] = {"seq", "par", "stream"};

// Set in main before any benchmark runs; read-only afterwards.
const Scratch* g_scratch = nullptr;
std::map<size_t, std::string>* g_payloads = nullptr;

const std::string& Payload(size_t size) { return g_payloads->at(size); }

std::string MakePayload(size_t size) {
  // Incompressible-looking bytes (xorshift), so no layer can shortcut them.
  std::string data(size, '\0');
  uint64_t x = 0x9e3779b97f4a7c15ULL ^ size;
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    data[i] = static_cast<char>(x);
  }
  return data;
}

std::string SizeLabel(size_t size) {
  return size >= kMiB ? absl::StrCat(size / kMiB, "MiB")
                      : absl::StrCat(size / kKiB, "KiB");
}

std::string ErrnoMessage(absl::string_view what, int error_number) {
  return absl::StrCat(what, ": ", strerror(error_number));
}

// ---------------------------------------------------------------------------
// The daemon process.

std::string ReadWholeFile(const std::string& path) {
  std::string content;
  FILE* file = fopen(path.c_str(), "re");
  if (file == nullptr) return content;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), file)) > 0) {
    content.append(buffer, n);
  }
  fclose(file);
  return content;
}

absl::Status WriteSmallFile(const std::string& path,
                            const std::string& content) {
  FILE* file = fopen(path.c_str(), "we");
  if (file == nullptr) return absl::InternalError(ErrnoMessage(path, errno));
  const bool ok =
      fwrite(content.data(), 1, content.size(), file) == content.size();
  if (fclose(file) != 0 || !ok) {
    return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

absl::Status MakeDirectory(const std::string& path) {
  if (mkdir(path.c_str(), 0755) != 0) {
    return absl::InternalError(
        ErrnoMessage(absl::StrCat("mkdir ", path), errno));
  }
  return absl::OkStatus();
}

absl::StatusOr<Scratch> CreateScratch() {
  char base_template[] = "/tmp/durable-bench.XXXXXX";
  if (mkdtemp(base_template) == nullptr) {
    return absl::InternalError(ErrnoMessage("mkdtemp", errno));
  }
  Scratch scratch{base_template};
  chmod(scratch.base.c_str(), 0755);
  for (const std::string& root : {scratch.data(), scratch.baseline()}) {
    absl::Status status = MakeDirectory(root);
    for (const char* dir : kScenarioDirs) {
      if (status.ok()) status = MakeDirectory(absl::StrCat(root, "/", dir));
    }
    if (!status.ok()) return status;
  }
  return scratch;
}

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) {
  return remove(path) == 0 ? 0 : -1;
}

void RemoveScratch(const Scratch& scratch) {
  nftw(scratch.base.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
}

// Starts durabled with `config_path`, its stderr in the scratch log, and
// waits until its socket accepts connections.
absl::StatusOr<pid_t> StartDaemon(const Scratch& scratch,
                                  const std::string& config_path) {
  const std::string binary = DURABLED_BINARY;
  const int log_fd = open(scratch.log_path().c_str(),
                          O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) return absl::InternalError(ErrnoMessage("daemon log", errno));
  test::SpawnOptions spawn;
  spawn.argv = {binary, "--config=" + config_path};
  spawn.stderr_fd = log_fd;
  // The daemon must not outlive a benchmark that crashes.
  spawn.parent_death_signal = SIGTERM;
  const absl::StatusOr<pid_t> pid = test::Spawn(spawn);
  close(log_fd);
  if (!pid.ok()) return pid.status();

  const absl::Status up =
      test::WaitUntilListening(*pid, scratch.socket_path(), absl::Seconds(20));
  if (!up.ok()) {
    if (absl::IsDeadlineExceeded(up)) {
      kill(*pid, SIGKILL);
      int status = 0;
      waitpid(*pid, &status, 0);
    }
    return absl::Status(up.code(),
                        absl::StrCat(binary, " ", up.message(), ": ",
                                     ReadWholeFile(scratch.log_path())));
  }
  return *pid;
}

// SIGTERM, then the exit status as from waitpid.
int StopDaemon(pid_t pid) {
  kill(pid, SIGTERM);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// ---------------------------------------------------------------------------
// The baseline: what a careful program does without the daemon.

// Writes all of `data` to `fd` in pieces of at most `chunk` bytes.
bool WriteAll(int fd, absl::string_view data, size_t chunk,
              std::string* error) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), std::min(chunk, data.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = ErrnoMessage("write", errno);
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Makes `leaf` in `dir_fd` hold `data`, durably: write `temp`, fsync it,
// rename it over `leaf`, fsync the directory.
bool BaselineWrite(int dir_fd, const std::string& leaf, const std::string& temp,
                   absl::string_view data, size_t chunk, std::string* error) {
  const int fd =
      openat(dir_fd, temp.c_str(),
             O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = ErrnoMessage("open temp", errno);
    return false;
  }
  bool ok = WriteAll(fd, data, chunk, error);
  if (ok && fsync(fd) != 0) {
    *error = ErrnoMessage("fsync", errno);
    ok = false;
  }
  if (close(fd) != 0 && ok) {
    *error = ErrnoMessage("close", errno);
    ok = false;
  }
  if (ok && renameat(dir_fd, temp.c_str(), dir_fd, leaf.c_str()) != 0) {
    *error = ErrnoMessage("rename", errno);
    ok = false;
  }
  if (!ok) {
    unlinkat(dir_fd, temp.c_str(), 0);
    return false;
  }
  if (fsync(dir_fd) != 0) {
    *error = ErrnoMessage("fsync(directory)", errno);
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Benchmarks. Each thread writes its own target "target-<thread>" in the
// scenario's directory; a first, untimed write creates it (and, for the
// daemon, connects), so every timed write replaces an existing file.

void SetThroughputCounters(benchmark::State& state, size_t bytes_per_write) {
  const double writes = static_cast<double>(state.iterations());
  // Rates: summed over threads, divided by the wall time of the run, shown
  // as "<value>/s".
  state.counters["writes"] =
      benchmark::Counter(writes, benchmark::Counter::kIsRate);
  state.counters["MiB"] =
      benchmark::Counter(writes * static_cast<double>(bytes_per_write) / kMiB,
                         benchmark::Counter::kIsRate);
}

std::string TargetLeaf(const benchmark::State& state) {
  return absl::StrCat("target-", state.thread_index());
}

void BM_Baseline(benchmark::State& state, const char* scenario, size_t size,
                 size_t chunk) {
  const std::string& data = Payload(size);
  const std::string dir = absl::StrCat(g_scratch->baseline(), "/", scenario);
  const std::string leaf = TargetLeaf(state);
  const std::string temp = leaf + ".tmp";
  const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    state.SkipWithError(ErrnoMessage(dir, errno).c_str());
    return;
  }
  std::string error;
  if (!BaselineWrite(dir_fd, leaf, temp, data, chunk, &error)) {
    state.SkipWithError(error.c_str());
  }
  for (auto _ : state) {
    if (!BaselineWrite(dir_fd, leaf, temp, data, chunk, &error)) {
      state.SkipWithError(error.c_str());
      break;
    }
  }
  close(dir_fd);
  SetThroughputCounters(state, size);
}

std::unique_ptr<Client> NewClient() {
  ClientOptions options;
  options.socket_path = g_scratch->socket_path();
  options.timeout = absl::Minutes(2);
  options.chunk_size = kStreamChunk;
  return std::make_unique<Client>(options);
}

// One Write() per iteration (unary: below the client's stream threshold).
void BM_Daemon(benchmark::State& state, const char* scenario, size_t size) {
  const std::string& data = Payload(size);
  const std::string path =
      absl::StrCat(g_scratch->data(), "/", scenario, "/", TargetLeaf(state));
  std::unique_ptr<Client> client = NewClient();
  absl::StatusOr<WriteResult> result = client->Write(path, data);
  if (!result.ok()) {
    state.SkipWithError(result.status().ToString().c_str());
  } else if (result->size != size) {
    state.SkipWithError(
        absl::StrCat("daemon wrote ", result->size, " bytes, not ", size)
            .c_str());
  }
  for (auto _ : state) {
    result = client->Write(path, data);
    if (!result.ok()) {
      state.SkipWithError(result.status().ToString().c_str());
      break;
    }
  }
  SetThroughputCounters(state, size);
}

// One WriteStream() of `size` bytes per iteration, in kStreamChunk pieces.
void BM_DaemonStream(benchmark::State& state, const char* scenario,
                     size_t size) {
  const std::string& data = Payload(size);
  const std::string path =
      absl::StrCat(g_scratch->data(), "/", scenario, "/", TargetLeaf(state));
  std::unique_ptr<Client> client = NewClient();
  auto stream_once = [&]() -> absl::Status {
    size_t offset = 0;
    ChunkSource source = [&](char* buffer,
                             size_t capacity) -> absl::StatusOr<size_t> {
      const size_t n = std::min(capacity, data.size() - offset);
      memcpy(buffer, data.data() + offset, n);
      offset += n;
      return n;
    };
    absl::StatusOr<WriteResult> result =
        client->WriteStream(path, source, data.size());
    if (!result.ok()) return result.status();
    if (result->size != data.size()) {
      return absl::DataLossError(
          absl::StrCat("daemon wrote ", result->size, " bytes"));
    }
    return absl::OkStatus();
  };
  absl::Status status = stream_once();
  if (!status.ok()) state.SkipWithError(status.ToString().c_str());
  for (auto _ : state) {
    status = stream_once();
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
  }
  SetThroughputCounters(state, size);
}

// A daemon benchmark and the baseline it is compared with.
struct Pair {
  std::string label;  // "4KiB seq"
  std::string baseline;
  std::string daemon;
};

std::vector<Pair> RegisterAll() {
  std::vector<Pair> pairs;
  for (size_t size : {kSmallWrite, kLargeWrite}) {
    const std::string label = SizeLabel(size);
    Pair pair{label + " seq", "baseline/seq/" + label, "daemon/seq/" + label};
    benchmark::RegisterBenchmark(pair.baseline.c_str(), BM_Baseline, "seq",
                                 size, size)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(pair.daemon.c_str(), BM_Daemon, "seq", size)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    pairs.push_back(pair);
  }
  for (size_t size : {kSmallWrite, kLargeWrite}) {
    const std::string label = SizeLabel(size);
    const std::string name = absl::StrCat(kParallelWriters, "threads/", label);
    Pair pair{absl::StrCat(label, " ", kParallelWriters, " threads"),
              "baseline/" + name, "daemon/" + name};
    benchmark::RegisterBenchmark(pair.baseline.c_str(), BM_Baseline, "par",
                                 size, size)
        ->Threads(kParallelWriters)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(pair.daemon.c_str(), BM_Daemon, "par", size)
        ->Threads(kParallelWriters)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    pairs.push_back(pair);
  }
  {
    const std::string label = SizeLabel(kStreamSize);
    Pair pair{label + " stream", "baseline/stream/" + label,
              "daemon/stream/" + label};
    benchmark::RegisterBenchmark(pair.baseline.c_str(), BM_Baseline, "stream",
                                 kStreamSize, kStreamChunk)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(pair.daemon.c_str(), BM_DaemonStream, "stream",
                                 kStreamSize)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    pairs.push_back(pair);
  }
  return pairs;
}

// ---------------------------------------------------------------------------
// Reporting.

// The console reporter, also keeping each benchmark's throughput (the mean
// over repetitions) and whether any run failed.
class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  struct Throughput {
    double writes_per_second = 0;
    double mib_per_second = 0;
  };

  explicit CollectingReporter(OutputOptions options)
      : benchmark::ConsoleReporter(options) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred) {
        failed_.push_back(
            absl::StrCat(run.benchmark_name(), ": ", run.error_message));
        continue;
      }
      // Repetitions are averaged here; with
      // --benchmark_report_aggregates_only only their "mean" arrives.
      Samples* samples = nullptr;
      if (run.run_type == Run::RT_Iteration) {
        samples = &samples_[run.run_name.function_name];
      } else if (run.aggregate_name == "mean") {
        samples = &means_[run.run_name.function_name];
      } else {
        continue;
      }
      samples->writes_per_second += CounterOf(run, "writes");
      samples->mib_per_second += CounterOf(run, "MiB");
      ++samples->count;
    }
    benchmark::ConsoleReporter::ReportRuns(runs);
  }

  // Nullopt if `name` did not run (filtered out or failed).
  std::optional<Throughput> Find(const std::string& name) const {
    auto it = samples_.find(name);
    if (it == samples_.end()) {
      it = means_.find(name);
      if (it == means_.end()) return std::nullopt;
    }
    Throughput throughput;
    throughput.writes_per_second =
        it->second.writes_per_second / it->second.count;
    throughput.mib_per_second = it->second.mib_per_second / it->second.count;
    return throughput;
  }

  const std::vector<std::string>& failed() const { return failed_; }

 private:
  struct Samples {
    double writes_per_second = 0;
    double mib_per_second = 0;
    int count = 0;
  };

  static double CounterOf(const Run& run, const std::string& name) {
    auto it = run.counters.find(name);
    return it == run.counters.end() ? 0 : it->second.value;
  }

  std::map<std::string, Samples> samples_;  // of single runs
  std::map<std::string, Samples> means_;    // of repetitions' means
  std::vector<std::string> failed_;
};

void PrintRatios(const CollectingReporter& reporter,
                 const std::vector<Pair>& pairs) {
  std::printf("\n");
  for (const Pair& pair : pairs) {
    std::optional<CollectingReporter::Throughput> baseline =
        reporter.Find(pair.baseline);
    std::optional<CollectingReporter::Throughput> daemon =
        reporter.Find(pair.daemon);
    if (!baseline.has_value() || !daemon.has_value() ||
        baseline->writes_per_second <= 0) {
      std::printf("ratio daemon/baseline %s: n/a (pair not run)\n",
                  pair.label.c_str());
      continue;
    }
    std::printf(
        "ratio daemon/baseline %s: %.2f  (daemon %.1f writes/s %.1f MiB/s, "
        "baseline %.1f writes/s %.1f MiB/s)\n",
        pair.label.c_str(),
        daemon->writes_per_second / baseline->writes_per_second,
        daemon->writes_per_second, daemon->mib_per_second,
        baseline->writes_per_second, baseline->mib_per_second);
  }
  std::fflush(stdout);
}

std::string FileSystemType(const std::string& path) {
  struct statfs info;
  if (statfs(path.c_str(), &info) != 0) return "unknown";
  switch (static_cast<unsigned long>(info.f_type)) {
    case 0xEF53:
      return "ext2/3/4";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x01021994:
      return "tmpfs";
    case 0x794C7630:
      return "overlayfs";
    default:
      return absl::StrFormat("0x%x", static_cast<unsigned long>(info.f_type));
  }
}

int Main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  absl::StatusOr<Scratch> scratch = CreateScratch();
  if (!scratch.ok()) {
    std::fprintf(stderr, "durable_bench: %s\n",
                 scratch.status().ToString().c_str());
    return 1;
  }
  g_scratch = &*scratch;
  const std::string config_path = scratch->base + "/durabled.conf";
  absl::Status written = WriteSmallFile(
      config_path,
      absl::StrFormat("socket { path: \"%s\" mode: 0600 }\n"
                      "rule { root: \"%s\" allow_uid: %d max_file_size: %d }\n",
                      scratch->socket_path(), scratch->data(), getuid(),
                      2 * kStreamSize));
  absl::StatusOr<pid_t> daemon = written.ok()
                                     ? StartDaemon(*scratch, config_path)
                                     : absl::StatusOr<pid_t>(written);
  if (!daemon.ok()) {
    std::fprintf(stderr, "durable_bench: %s\n",
                 daemon.status().ToString().c_str());
    RemoveScratch(*scratch);
    return 1;
  }

  std::map<size_t, std::string> payloads;
  for (size_t size : {kSmallWrite, kLargeWrite, kStreamSize}) {
    payloads[size] = MakePayload(size);
  }
  g_payloads = &payloads;

  benchmark::AddCustomContext("scratch", scratch->base);
  benchmark::AddCustomContext("filesystem", FileSystemType(scratch->base));
  benchmark::AddCustomContext("durabled", DURABLED_BINARY);
  const std::vector<Pair> pairs = RegisterAll();
  CollectingReporter reporter(isatty(STDOUT_FILENO)
                                  ? benchmark::ConsoleReporter::OO_ColorTabular
                                  : benchmark::ConsoleReporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  PrintRatios(reporter, pairs);

  int exit_code = 0;
  for (const std::string& failure : reporter.failed()) {
    std::fprintf(stderr, "durable_bench: FAILED %s\n", failure.c_str());
    exit_code = 1;
  }
  const int status = StopDaemon(*daemon);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr,
                 "durable_bench: durabled did not exit 0 on SIGTERM (status "
                 "%d); log in %s\n",
                 status, scratch->log_path().c_str());
    return 1;  // Keep the scratch tree for its log.
  }
  if (exit_code != 0) {
    std::fprintf(stderr, "durable_bench: daemon log kept in %s\n",
                 scratch->log_path().c_str());
  } else {
    RemoveScratch(*scratch);
  }
  return exit_code;
}

}  // namespace
}  // namespace durable::bench

int main(int argc, char** argv) { return durable::bench::Main(argc, argv); }
