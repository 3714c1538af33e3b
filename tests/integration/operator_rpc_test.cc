// The operator-facing RPCs: GetStats (root only), the standard gRPC health
// service, and server reflection being registered when the config enables
// it (and only then).
#include <unistd.h>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_daemon.h"

namespace durable::test {
namespace {

using testing::HasSubstr;

class OperatorRpcTest : public testing::Test {
 protected:
  void SetUp() override {
    auto daemon = TestDaemon::Start(
        "socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
        "enable_reflection: true\n"
        "rule { root: \"{base}/data\" allow_uid: {uid} }\n"
        "rule { root: \"{base}/nobody\" allow_uid: 65534 }\n",
        {"nobody"});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
  }

  // A stub for calls by method name with raw bytes, as generic tools make
  // them, on this daemon's socket.
  grpc::GenericStub NewGenericStub() const {
    return grpc::GenericStub(grpc::CreateChannel(
        "unix:" + daemon_->socket_path(), grpc::InsecureChannelCredentials()));
  }

  static void SetDeadline(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(10));
  }

  // A unary call by method name with raw bytes, as generic tools make it.
  grpc::Status RawCall(const std::string& method, const std::string& request,
                       std::string* response) {
    grpc::GenericStub stub = NewGenericStub();
    grpc::ClientContext context;
    SetDeadline(&context);
    grpc::Slice slice(request);
    grpc::ByteBuffer request_buffer(&slice, 1);
    grpc::ByteBuffer response_buffer;
    grpc::CompletionQueue queue;
    auto call = stub.PrepareUnaryCall(&context, method, request_buffer, &queue);
    call->StartCall();
    grpc::Status status;
    call->Finish(&response_buffer, &status, reinterpret_cast<void*>(1));
    void* tag;
    bool ok;
    EXPECT_TRUE(queue.Next(&tag, &ok));
    std::vector<grpc::Slice> slices;
    if (status.ok() && response_buffer.Dump(&slices).ok()) {
      for (const grpc::Slice& s : slices) {
        response->append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
    }
    return status;
  }

  std::unique_ptr<TestDaemon> daemon_;
};

TEST_F(OperatorRpcTest, StatsCountWritesFailuresAndSyncs) {
  auto client = daemon_->NewClient();
  ASSERT_TRUE(client->Write(daemon_->data() + "/a", "12345").ok());
  ASSERT_TRUE(client->Write(daemon_->data() + "/a", "123").ok());
  ASSERT_FALSE(client->Write(daemon_->outside() + "/x", "1").ok());
  ASSERT_TRUE(client->Remove(daemon_->data() + "/a").ok());
  auto stats = client->GetStats();
  if (geteuid() != 0) GTEST_SKIP() << "GetStats needs root or the daemon uid";
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->writes_ok, 2u);
  EXPECT_EQ(stats->writes_failed, 1u);
  EXPECT_EQ(stats->bytes_written, 8u);
  EXPECT_EQ(stats->removes_ok, 1u);
  EXPECT_EQ(stats->removes_failed, 0u);
  EXPECT_EQ(stats->errors_by_code,
            (std::map<std::string, uint64_t>{{"PERMISSION_DENIED", 1}}));
  EXPECT_EQ(stats->file_syncs, 2u);
  EXPECT_EQ(stats->directory_syncs, 3u);  // two writes, one remove
  EXPECT_EQ(stats->sync_errors, 0u);
  EXPECT_EQ(stats->commits, 2u);
  EXPECT_EQ(stats->coalesced_writes, 0u);
  uint64_t in_histogram = 0;
  for (const LatencyBucket& bucket : stats->latency) {
    in_histogram += bucket.count;
  }
  EXPECT_EQ(in_histogram, 4u);
  EXPECT_GT(stats->latency_sum, absl::ZeroDuration());
  EXPECT_GE(stats->connections_accepted, 1u);
  EXPECT_EQ(stats->writes_in_progress, 0u);
  EXPECT_GE(stats->uptime, absl::ZeroDuration());
}

TEST_F(OperatorRpcTest, StatsLatencyBucketsAscendAndEndUnbounded) {
  auto client = daemon_->NewClient();
  ASSERT_TRUE(client->Write(daemon_->data() + "/a", "1").ok());
  ASSERT_TRUE(client->Write(daemon_->data() + "/b", "2").ok());
  auto stats = client->GetStats();
  if (geteuid() != 0) GTEST_SKIP() << "GetStats needs root or the daemon uid";
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GE(stats->writes_ok, 2u);
  EXPECT_GE(stats->file_syncs, 2u);
  ASSERT_GE(stats->latency.size(), 2u);
  for (size_t i = 1; i < stats->latency.size(); ++i) {
    EXPECT_LT(stats->latency[i - 1].upper_bound_us,
              stats->latency[i].upper_bound_us)
        << "bucket " << i;
  }
  EXPECT_EQ(stats->latency.front().upper_bound_us, 100);  // 100 us
  EXPECT_EQ(stats->latency.back().upper_bound_us, kUnboundedLatencyUs);
}

TEST_F(OperatorRpcTest, DurablectlStatsShowsSmallAmountsInBytes) {
  if (geteuid() != 0) GTEST_SKIP() << "GetStats needs root or the daemon uid";
  auto client = daemon_->NewClient();
  ASSERT_TRUE(client->Write(daemon_->data() + "/a", "12345").ok());
  ASSERT_TRUE(client->Write(daemon_->data() + "/b", "1234567").ok());
  Command command;
  command.argv = {DURABLECTL_BINARY, "--socket=" + daemon_->socket_path(),
                  "stats"};
  CommandResult result = RunCommand(command);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("2 ok, 0 failed, 12 bytes written"));
  EXPECT_THAT(result.out, ::testing::Not(HasSubstr("KiB")));
  EXPECT_THAT(result.out, HasSubstr("longer"));
}

TEST_F(OperatorRpcTest, DurablectlStatsOpenMetricsParsesWithPrometheusClient) {
  if (geteuid() != 0) GTEST_SKIP() << "GetStats needs root or the daemon uid";
  auto client = daemon_->NewClient();
  ASSERT_TRUE(client->Write(daemon_->data() + "/a", "12345").ok());
  ASSERT_TRUE(client->Write(daemon_->data() + "/b", "1234567").ok());
  ASSERT_FALSE(client->Write(daemon_->outside() + "/c", "x").ok());
  Command command;
  command.argv = {DURABLECTL_BINARY, "--socket=" + daemon_->socket_path(),
                  "stats", "--openmetrics"};
  CommandResult metrics = RunCommand(command);
  ASSERT_EQ(metrics.exit_code, 0) << metrics.err;
  EXPECT_THAT(metrics.out, ::testing::EndsWith("# EOF\n"));

  // Python's prometheus_client (python3-prometheus-client) parses it.
  Command parse;
  parse.argv = {"/usr/bin/python3", PARSE_OPENMETRICS_SCRIPT};
  parse.stdin_data = metrics.out;
  CommandResult parsed = RunCommand(parse);
  ASSERT_EQ(parsed.exit_code, 0) << parsed.err << "\n" << metrics.out;
  EXPECT_THAT(parsed.out,
              HasSubstr("counter durabled_writes_total{outcome=ok} 2"));
  EXPECT_THAT(parsed.out,
              HasSubstr("counter durabled_writes_total{outcome=failed} 1"));
  EXPECT_THAT(
      parsed.out,
      HasSubstr("counter durabled_errors_total{code=PERMISSION_DENIED} 1"));
  EXPECT_THAT(parsed.out,
              HasSubstr("counter durabled_written_bytes_total{} 12"));
  EXPECT_THAT(parsed.out,
              HasSubstr("counter durabled_syncs_total{kind=file} 2"));
  EXPECT_THAT(parsed.out, HasSubstr("gauge durabled_writes_in_progress{} 0"));
  // The histogram: cumulative buckets up to +Inf, count of the three calls,
  // and a positive sum of their latencies.
  EXPECT_THAT(
      parsed.out,
      HasSubstr("histogram durabled_call_latency_seconds_bucket{le=+Inf} 3"));
  EXPECT_THAT(parsed.out,
              HasSubstr("histogram durabled_call_latency_seconds_count{} 3"));
  EXPECT_THAT(
      parsed.out,
      HasSubstr("histogram durabled_call_latency_seconds_bucket{le=0.0001} "));
  EXPECT_THAT(
      parsed.out,
      ::testing::ContainsRegex(
          "histogram durabled_call_latency_seconds_sum\\{\\} [0-9.e-]*[1-9]"));
}

TEST_F(OperatorRpcTest, StatsAreForRootOnlyAndShownByDurablectl) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run as another uid";
  Command command;
  command.argv = {DURABLECTL_BINARY, "--socket=" + daemon_->socket_path(),
                  "stats"};
  CommandResult as_root = RunCommand(command);
  EXPECT_EQ(as_root.exit_code, 0) << as_root.err;
  EXPECT_THAT(as_root.out, HasSubstr("writes:"));
  EXPECT_THAT(as_root.out, HasSubstr("latency:"));
  command.uid = 65534;
  command.gid = 65534;
  CommandResult as_nobody = RunCommand(command);
  EXPECT_EQ(as_nobody.exit_code, 3);
  EXPECT_THAT(as_nobody.err, HasSubstr("neither root nor the daemon's uid"));
}

TEST_F(OperatorRpcTest, HealthServiceAnswersServing) {
  std::string response;
  grpc::Status status = RawCall("/grpc.health.v1.Health/Check", "", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // HealthCheckResponse { status: SERVING (1) }
  EXPECT_EQ(response, std::string("\x08\x01", 2));
}

TEST_F(OperatorRpcTest, ServerReflectionListsTheService) {
  grpc::GenericStub stub = NewGenericStub();
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::CompletionQueue queue;
  auto next = [&queue]() {
    void* tag;
    bool ok = false;
    EXPECT_TRUE(queue.Next(&tag, &ok));
    return ok;
  };
  auto call = stub.PrepareCall(
      &context,
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &queue);
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(next());
  // ServerReflectionRequest { list_services: "" } (field 7, empty string).
  grpc::Slice request_slice(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&request_slice, 1);
  call->Write(request, reinterpret_cast<void*>(2));
  ASSERT_TRUE(next());
  call->WritesDone(reinterpret_cast<void*>(3));
  ASSERT_TRUE(next());
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(4));
  ASSERT_TRUE(next());
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  next();
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  EXPECT_THAT(bytes, HasSubstr("durable.v1.DurableWriter"));
  EXPECT_THAT(bytes, HasSubstr("grpc.health.v1.Health"));
}

// A daemon with the default config (no enable_reflection).
class DefaultConfigRpcTest : public OperatorRpcTest {
 protected:
  void SetUp() override {
    auto daemon = TestDaemon::Start();
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
  }
};

TEST_F(DefaultConfigRpcTest, ServerReflectionIsOffByDefault) {
  // Each reflection stream holds a thread of gRPC's synchronous pool, so a
  // daemon serves reflection only when its config asks for it.
  std::string response;
  grpc::Status status =
      RawCall("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
              std::string("\x3a\x00", 2), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED)
      << status.error_message();
  // The health service stays.
  status = RawCall("/grpc.health.v1.Health/Check", "", &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(OperatorRpcTest, UnknownMethodIsUnimplemented) {
  std::string response;
  grpc::Status status =
      RawCall("/durable.v1.DurableWriter/Nope", "", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace durable::test
