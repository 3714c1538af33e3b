// Attacks on the cost of single requests and on gRPC itself: a gzip bomb
// in a unary Write, unary requests that never finish arriving (slowly, or
// large and held one byte short), ten thousand idle streams from one uid
// by a client that ignores the daemon's HTTP/2 SETTINGS, and a rapid-reset
// flood (CVE-2023-44487). The misbehaving
// HTTP/2 client is tests/adversarial/http2_abuse.py (raw frames, Debian's
// python3-hyperframe and python3-hpack), run as the attacker's uid.
//
// Timed and measured assertions (RSS, threads, latency) print the figure
// they measured.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tests/adversarial/adversarial_support.h"

namespace durable::test::adversarial {
namespace {

using testing::AllOf;
using testing::Ge;
using testing::HasSubstr;
using testing::Lt;

constexpr int64_t kMiB = 1 << 20;

// Under AddressSanitizer (DURABLED_SANITIZE builds the daemon and the tests
// alike) the daemon's RSS is mostly the sanitizer's: shadow memory and a
// quarantine of up to 256 MiB of freed blocks. The absolute RSS bounds are
// then printed but not asserted; growth bounds (a GiB-sized inflation would
// still show) and thread bounds are.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kRssIsMeaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kRssIsMeaningful = false;
#else
constexpr bool kRssIsMeaningful = true;
#endif
#else
constexpr bool kRssIsMeaningful = true;
#endif

// Expects the daemon's peak RSS under `limit`, where that is meaningful.
void ExpectRssUnder(int64_t peak_rss, int64_t limit) {
  if (!kRssIsMeaningful) {
    std::cout << "(AddressSanitizer build: peak RSS " << peak_rss / kMiB
              << " MiB not compared with " << limit / kMiB << " MiB)\n";
    return;
  }
  EXPECT_THAT(peak_rss, Lt(limit));
}

// A field of /proc/<pid>/status in kB ("VmRSS", "VmHWM") or as a count
// ("Threads"); -1 if unreadable.
int64_t ProcStatus(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, field + ":")) continue;
    std::vector<std::string> parts =
        absl::StrSplit(line.substr(field.size() + 1), ' ', absl::SkipEmpty());
    int64_t value;
    for (std::string& part : parts) {
      absl::StripAsciiWhitespace(&part);
      if (absl::SimpleAtoi(part, &value)) return value;
    }
  }
  return -1;
}

// Samples the daemon's threads and RSS every 10 ms while it lives.
class Sampler {
 public:
  explicit Sampler(pid_t pid)
      : thread_([this, pid] {
          while (!stop_.load()) {
            const int64_t threads = ProcStatus(pid, "Threads");
            const int64_t rss_kb = ProcStatus(pid, "VmRSS");
            max_threads_ = std::max<int64_t>(max_threads_, threads);
            max_rss_kb_ = std::max<int64_t>(max_rss_kb_, rss_kb);
            absl::SleepFor(absl::Milliseconds(10));
          }
        }) {}
  ~Sampler() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t max_threads() const { return max_threads_; }
  int64_t max_rss_bytes() const { return max_rss_kb_.load() * 1024; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> max_threads_{0};
  std::atomic<int64_t> max_rss_kb_{0};
  std::thread thread_;
};

// Arguments for the "python" helper op: runs http2_abuse.py `mode` with
// `args`.
std::vector<std::string> PythonArgs(const std::string& socket,
                                    const std::string& mode,
                                    const std::vector<std::string>& args) {
  std::vector<std::string> out = {"python", "--mode=" + mode,
                                  "--socket=" + socket};
  for (const std::string& arg : args) out.push_back("--py=" + arg);
  return out;
}

// The adversarial config with `limits` added to its limits block.
std::string WithLimits(const std::string& limits) {
  return absl::StrReplaceAll(
      kAdversarialConfig,
      {{"limits { ", absl::StrCat("limits { ", limits, " ")}});
}

class GrpcLimitsAttack : public AdversarialTest {
 protected:
  // A write by the test's own uid (not the attacker's): its latency.
  absl::Duration TimedLegitWrite(const std::string& leaf) {
    auto client = daemon_->NewClient();
    const std::string path = Data() + "/" + leaf;
    const absl::Time start = absl::Now();
    auto result = client->Write(path, "legit");
    const absl::Duration latency = absl::Now() - start;
    EXPECT_TRUE(result.ok()) << result.status() << "\n" << daemon_->Log();
    EXPECT_EQ(*ReadFile(path), "legit");
    return latency;
  }
};

TEST_F(GrpcLimitsAttack, GzipBombWriteIsRefusedBeforeInflating) {
  // 512 MiB of zeros, about 0.5 MiB gzipped: under max_message_bytes
  // (1 MiB) on the wire.
  ArmSentinel();
  const pid_t pid = daemon_->pid();
  const int64_t rss_before = ProcStatus(pid, "VmRSS") * 1024;
  HelperResult result =
      Attack("gzip-write", {PathArg(Data() + "/bomb"), "--size=536870912"});
  const int64_t peak = ProcStatus(pid, "VmHWM") * 1024;
  std::cout << "gzip bomb: status " << CodeName(result.code()) << " \""
            << result.message() << "\"; daemon RSS before " << rss_before / kMiB
            << " MiB, peak (VmHWM) after " << peak / kMiB << " MiB, growth "
            << (peak - rss_before) / kMiB << " MiB\n";
  EXPECT_CODE(result, grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(result.message(), HasSubstr("gzip"));
  EXPECT_THAT(peak - rss_before, Lt(64 * kMiB));
  EXPECT_FALSE(PathExists(Data() + "/bomb"));
  EXPECT_TRUE(TempFilesUnder(Data()).empty());
  ExpectDaemonServes();
}

TEST_F(GrpcLimitsAttack, UnaryRequestThatDoesNotArriveInTimeIsDropped) {
  // Each unary method: the message header announces 1000 bytes, 10 come.
  ASSERT_NO_FATAL_FAILURE(
      StartDaemon(WithLimits("request_arrival_timeout_ms: 1000"), {"small"},
                  {"data", "small"}));
  ArmSentinel();
  const std::vector<std::string> methods = {"Write", "Stat", "Remove", "WhoAmI",
                                            "GetStats"};
  std::vector<std::unique_ptr<HelperProcess>> helpers;
  for (const std::string& method : methods) {
    helpers.push_back(HelperProcess::Spawn(
        AttackerCredentials(),
        PythonArgs(
            Socket(), "slow-unary",
            {"--path=/durable.v1.DurableWriter/" + method,
             "--prefix-length=1000", "--send-bytes=10", "--hold-s=20"})));
    ASSERT_NE(helpers.back(), nullptr);
  }
  for (size_t i = 0; i < methods.size(); ++i) {
    helpers[i]->CloseStdin();
    const HelperResult& result = helpers[i]->Wait();
    std::cout << methods[i] << ": status " << result.Field("status")
              << " after " << result.Field("elapsed_ms") << " ms: \""
              << result.Field("message") << "\"\n";
    EXPECT_EQ(result.Field("self_uid"),
              std::to_string(AttackerCredentials().uid));
    EXPECT_EQ(result.Field("status"), "4") << result.Describe();  // DEADLINE
    EXPECT_THAT(result.Field("message"),
                HasSubstr("did not arrive within 1000 ms"));
    EXPECT_THAT(result.Int("elapsed_ms"), AllOf(Ge(900), Lt(5000)));
  }
  ExpectDaemonServes();
}

TEST_F(GrpcLimitsAttack, TenThousandIdleStreamsFromOneUid) {
  // 125 connections x 80 streams (HEADERS, no END_STREAM, no data) of one
  // allowed uid, whatever the daemon's SETTINGS say; the streams' own
  // timeouts are long, so only the daemon's caps can help. Meanwhile the
  // daemon stays under 256 threads and under its memory quota (default
  // 256 MiB), and a write by another allowed uid takes under 1 s.
  SKIP_UNLESS_ROOT();  // the attacker and the legitimate client differ in uid
  ASSERT_NO_FATAL_FAILURE(StartDaemon(
      absl::StrReplaceAll(
          kAdversarialConfig,
          {{"stream_idle_timeout_ms: 700", "stream_idle_timeout_ms: 60000"}}),
      {"small"}, {"data", "small"}));
  ArmSentinel();
  Sampler sampler(daemon_->pid());
  const std::vector<std::string> paths = {
      "--path=/durable.v1.DurableWriter/WriteStream",
      "--path=/durable.v1.DurableWriter/Write",
      "--path=/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      "--path=/grpc.health.v1.Health/Watch",
      "--path=/grpc.health.v1.Health/Check"};
  // Phase 1: 10000 streams, 80 a connection. Phase 2: exactly as many as
  // the daemon allows (16 a connection, 100 connections), held open.
  struct Phase {
    std::string name;
    int connections;
    int streams;
  };
  for (const Phase& phase : {Phase{"10000 idle streams", 125, 80},
                             Phase{"1600 idle streams at the caps", 100, 16}}) {
    std::vector<std::string> args = {
        absl::StrCat("--connections=", phase.connections),
        absl::StrCat("--streams=", phase.streams), "--hold-s=60"};
    args.insert(args.end(), paths.begin(), paths.end());
    std::unique_ptr<HelperProcess> attack = HelperProcess::Spawn(
        AttackerCredentials(), PythonArgs(Socket(), "idle", args));
    ASSERT_NE(attack, nullptr);
    ASSERT_TRUE(attack->WaitForLine("ready=1", absl::Seconds(120)))
        << attack->out();
    absl::SleepFor(absl::Milliseconds(500));  // let the daemon take it in
    const absl::Duration latency = TimedLegitWrite("other-uid");
    absl::SleepFor(absl::Milliseconds(500));
    ASSERT_TRUE(IsAlive(daemon_->pid())) << daemon_->Log();
    attack->CloseStdin();
    const HelperResult& result = attack->Wait(absl::Seconds(60));
    std::cout << phase.name << ": " << result.Field("headers_sent")
              << " HEADERS sent on " << result.Field("connections_opened")
              << " connections ("
              << result.Field("connections_closed_by_daemon")
              << " closed by the daemon, " << result.Field("resets_received")
              << " streams reset, " << result.Field("connections_open_at_end")
              << " still open at the end); daemon peak so far "
              << sampler.max_threads() << " threads, "
              << sampler.max_rss_bytes() / kMiB
              << " MiB RSS; other uid's write took " << latency << "\n";
    EXPECT_EQ(result.Field("self_uid"),
              std::to_string(AttackerCredentials().uid));
    EXPECT_THAT(result.Int("headers_sent"), Ge(1000)) << result.Describe();
    EXPECT_LT(latency, absl::Seconds(1));
  }
  sampler.Stop();
  EXPECT_THAT(sampler.max_threads(), Lt(256));
  ExpectRssUnder(sampler.max_rss_bytes(), 256 * kMiB);
  ExpectDaemonServes();
}

TEST_F(GrpcLimitsAttack, ReflectionStreamsWhenEnabledAreBoundedByThreadQuota) {
  // Reflection is synchronous (a thread per stream); where an operator
  // enables it, gRPC's threads are still capped by max_grpc_threads (64 by
  // default): 1600 idle reflection streams of one uid do not make 1600
  // threads, the ones beyond the quota are refused, and another uid is
  // served.
  SKIP_UNLESS_ROOT();  // the attacker and the legitimate client differ in uid
  ASSERT_NO_FATAL_FAILURE(StartDaemon(
      absl::StrCat("enable_reflection: true\n",
                   absl::StrReplaceAll(kAdversarialConfig,
                                       {{"stream_idle_timeout_ms: 700",
                                         "stream_idle_timeout_ms: 60000"}})),
      {"small"}, {"data", "small"}));
  ArmSentinel();
  Sampler sampler(daemon_->pid());
  std::unique_ptr<HelperProcess> attack = HelperProcess::Spawn(
      AttackerCredentials(),
      PythonArgs(Socket(), "idle",
                 {"--connections=100", "--streams=16", "--hold-s=60",
                  "--path=/grpc.reflection.v1alpha.ServerReflection/"
                  "ServerReflectionInfo"}));
  ASSERT_NE(attack, nullptr);
  ASSERT_TRUE(attack->WaitForLine("ready=1", absl::Seconds(120)))
      << attack->out();
  absl::SleepFor(absl::Milliseconds(500));
  const absl::Duration latency = TimedLegitWrite("other-uid");
  absl::SleepFor(absl::Milliseconds(500));
  attack->CloseStdin();
  const HelperResult& result = attack->Wait(absl::Seconds(60));
  sampler.Stop();
  std::cout << "1600 idle reflection streams: " << result.Field("headers_sent")
            << " HEADERS sent, " << result.Field("resets_received")
            << " streams refused; daemon peak " << sampler.max_threads()
            << " threads, " << sampler.max_rss_bytes() / kMiB
            << " MiB RSS; other uid's write took " << latency << "\n";
  EXPECT_THAT(result.Int("headers_sent"), Ge(1600)) << result.Describe();
  EXPECT_THAT(sampler.max_threads(), Lt(128));
  EXPECT_LT(latency, absl::Seconds(1));
  ExpectDaemonServes();
}

TEST_F(GrpcLimitsAttack, UnfinishedUnaryMessagesAreBoundedByTheMemoryQuota) {
  // 64 unary Writes (4 connections x 16 streams) each announce a 16 MB
  // message and send all of it that flow control lets through but the last
  // byte: gRPC buffers a message until it is whole, so without a bound that
  // is 1 GB. grpc_memory_bytes (128 MiB here) bounds it: the daemon's RSS
  // stays under the quota plus 64 MiB for everything else, and another uid
  // is served meanwhile.
  SKIP_UNLESS_ROOT();  // the attacker and the legitimate client differ in uid
  constexpr int64_t kQuota = 128 * kMiB;
  ASSERT_NO_FATAL_FAILURE(StartDaemon(
      absl::StrReplaceAll(
          kAdversarialConfig,
          {{"max_message_bytes: 1048576",
            absl::StrCat("max_message_bytes: 17825792 grpc_memory_bytes: ",
                         kQuota)}}),
      {"small"}, {"data", "small"}));
  ArmSentinel();
  Sampler sampler(daemon_->pid());
  std::unique_ptr<HelperProcess> attack = HelperProcess::Spawn(
      AttackerCredentials(),
      PythonArgs(Socket(), "fill",
                 {"--connections=4", "--streams=16", "--prefix-length=16000000",
                  "--hold-s=60", "--path=/durable.v1.DurableWriter/Write"}));
  ASSERT_NE(attack, nullptr);
  // "ready": the daemon stopped taking more.
  ASSERT_TRUE(attack->WaitForLine("ready=1", absl::Seconds(60)))
      << attack->out();
  absl::SleepFor(absl::Milliseconds(500));
  const absl::Duration latency = TimedLegitWrite("other-uid");
  attack->CloseStdin();
  const HelperResult& result = attack->Wait(absl::Seconds(60));
  sampler.Stop();
  std::cout << "64 unfinished 16 MB Writes: " << result.Int("data_sent") / kMiB
            << " MiB accepted by the daemon, "
            << result.Field("resets_received") << " resets, "
            << result.Field("goaways_received") << " GOAWAYs; daemon peak "
            << sampler.max_rss_bytes() / kMiB << " MiB RSS (quota "
            << kQuota / kMiB << " MiB), " << sampler.max_threads()
            << " threads; other uid's write took " << latency << "\n";
  EXPECT_EQ(result.Field("self_uid"),
            std::to_string(AttackerCredentials().uid));
  EXPECT_THAT(result.Int("data_sent"), Ge(16 * kMiB)) << result.Describe();
  ExpectRssUnder(sampler.max_rss_bytes(), kQuota + 64 * kMiB);
  EXPECT_LT(latency, absl::Seconds(1));
  EXPECT_TRUE(TempFilesUnder(Data()).empty());
  ExpectDaemonServes();
}

TEST_F(GrpcLimitsAttack, RapidResetFloodLeavesTheDaemonServing) {
  // CVE-2023-44487: HEADERS then RST_STREAM, 1000 streams a second for
  // 10 s over a few connections, a mix of unary and streaming methods.
  // The daemon stays up within its thread and memory bounds and serves a
  // normal write afterwards.
  ArmSentinel();
  Sampler sampler(daemon_->pid());
  HelperResult result =
      RunHelper(AttackerCredentials(),
                PythonArgs(Socket(), "rapid-reset",
                           {"--rate=1000", "--seconds=10", "--connections=4",
                            "--path=/durable.v1.DurableWriter/WriteStream",
                            "--path=/durable.v1.DurableWriter/Write",
                            "--path=/durable.v1.DurableWriter/Stat",
                            "--path=/grpc.health.v1.Health/Watch",
                            "--path=/grpc.reflection.v1alpha.ServerReflection/"
                            "ServerReflectionInfo"}),
                absl::Seconds(120));
  ASSERT_TRUE(IsAlive(daemon_->pid())) << daemon_->Log();
  const absl::Duration latency = TimedLegitWrite("after-flood");
  sampler.Stop();
  std::cout << "rapid reset: " << result.Field("headers_sent")
            << " streams opened and reset in " << result.Field("seconds")
            << " s on " << result.Field("connections_opened")
            << " connections; daemon peak " << sampler.max_threads()
            << " threads, " << sampler.max_rss_bytes() / kMiB
            << " MiB RSS; the next write took " << latency << "\n";
  EXPECT_EQ(result.exit_code, 0) << result.Describe();
  EXPECT_THAT(result.Int("headers_sent"), Ge(9000)) << result.Describe();
  EXPECT_THAT(sampler.max_threads(), Lt(256));
  ExpectRssUnder(sampler.max_rss_bytes(), 256 * kMiB);
  EXPECT_LT(latency, absl::Seconds(1));
}

// --- Helper ops ------------------------------------------------------------

// A unary Write of --size zero bytes, gzip-compressed on the wire.
int GzipWrite(const helper::Flags& flags) {
  auto stub = durable::v1::DurableWriter::NewStub(helper::MakeChannel(flags));
  grpc::ClientContext context;
  helper::Prepare(flags, &context);
  context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  durable::v1::WriteRequest request;
  request.set_path(helper::PathOf(flags));
  request.mutable_data()->assign(static_cast<size_t>(flags.Int("size", 0)),
                                 '\0');
  durable::v1::WriteResponse response;
  grpc::Status status = stub->Write(&context, request, &response);
  helper::EmitStatus(status);
  return 0;
}

// Replaces the helper with http2_abuse.py (same uid): --mode, --socket and
// each --py=ARG passed on.
int Python(const helper::Flags& flags) {
  std::vector<std::string> args = {"/usr/bin/python3", HTTP2_ABUSE_SCRIPT,
                                   flags.Get("mode"),
                                   "--socket=" + flags.Get("socket")};
  for (const std::string& arg : flags.All("py")) args.push_back(arg);
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  execv(argv[0], argv.data());
  helper::Emit("error",
               absl::StrCat("cannot run ", args[0], ": ", strerror(errno)));
  return 127;
}

int ExtraOp(const helper::Flags& flags) {
  if (flags.op == "gzip-write") return GzipWrite(flags);
  if (flags.op == "python") return Python(flags);
  helper::Emit("error", "unknown helper operation " + flags.op);
  return 2;
}

}  // namespace
}  // namespace durable::test::adversarial

int main(int argc, char** argv) {
  return durable::test::adversarial::AdversarialMain(
      argc, argv, durable::test::adversarial::ExtraOp);
}
