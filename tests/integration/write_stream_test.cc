// End-to-end tests of WriteStream: the real durabled on a private socket,
// called through the C++ client library and, where a test needs to break the
// protocol (cancel, half-close, go idle, misplace the header), through the
// raw gRPC stub.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "durable/v1/durable.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/engine/sha256.h"
#include "tests/support/pattern_content.h"
#include "tests/support/test_daemon.h"

namespace durable::test {
namespace {

using testing::HasSubstr;
using testing::IsEmpty;

constexpr char kTempPrefix[] = ".durabled-tmp.";
constexpr uint64_t kMiB = uint64_t{1} << 20;

// Names of the daemon's temp files in `dir`.
std::vector<std::string> TempFilesIn(const std::string& dir) {
  std::vector<std::string> temps;
  for (const std::string& name : ListDirectory(dir)) {
    if (absl::StartsWith(name, kTempPrefix)) temps.push_back(name);
  }
  return temps;
}

// Polls `condition` until it holds or `limit` passes; returns its last value.
// For effects the daemon produces asynchronously (a cancelled stream is
// cleaned up after the client has already seen CANCELLED).
bool WaitFor(const std::function<bool()>& condition,
             absl::Duration limit = absl::Seconds(5)) {
  const absl::Time deadline = absl::Now() + limit;
  while (!condition()) {
    if (absl::Now() > deadline) return condition();
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

bool NoTempFilesIn(const std::string& dir) {
  return WaitFor([&] { return TempFilesIn(dir).empty(); });
}

bool TempFileAppearsIn(const std::string& dir) {
  return WaitFor([&] { return !TempFilesIn(dir).empty(); });
}

// Number of lines of `log` that contain every string of `parts`.
int CountLogLines(const std::string& log,
                  const std::vector<std::string>& parts) {
  int count = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    bool all = true;
    for (const std::string& part : parts) {
      if (!absl::StrContains(line, part)) {
        all = false;
        break;
      }
    }
    if (all) ++count;
  }
  return count;
}

bool LogHasLine(const std::string& log, const std::vector<std::string>& parts) {
  return CountLogLines(log, parts) > 0;
}

struct FileDigest {
  uint64_t size = 0;
  std::string sha256;
};

// Size and SHA-256 of the file at `path`, read in 1 MiB pieces.
absl::StatusOr<FileDigest> DigestOfFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::string buffer(kMiB, '\0');
  Sha256 hasher;
  FileDigest digest;
  while (true) {
    ssize_t n = read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      close(fd);
      return absl::InternalError(absl::StrCat("cannot read ", path));
    }
    if (n == 0) break;
    hasher.Update(absl::string_view(buffer.data(), static_cast<size_t>(n)));
    digest.size += static_cast<uint64_t>(n);
  }
  close(fd);
  digest.sha256 = hasher.Finish();
  return digest;
}

using durable::v1::DurableWriter;
using durable::v1::WriteChunk;
using durable::v1::WriteResponse;

WriteChunk HeaderChunk(const std::string& path) {
  WriteChunk chunk;
  chunk.mutable_header()->set_path(path);
  return chunk;
}

WriteChunk DataChunk(std::string data, bool finish = false) {
  WriteChunk chunk;
  chunk.set_data(std::move(data));
  chunk.set_finish(finish);
  return chunk;
}

// One raw WriteStream call, for tests that break the protocol on purpose.
struct RawStream {
  grpc::ClientContext context;
  WriteResponse response;
  std::unique_ptr<grpc::ClientWriter<WriteChunk>> writer;
};

class WriteStreamTest : public testing::Test {
 protected:
  void StartDaemon(const std::string& config = TestDaemon::kDefaultConfig) {
    stub_.reset();
    client_.reset();
    daemon_.reset();
    auto daemon = TestDaemon::Start(config);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    client_ = daemon_->NewClient();
  }
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartDaemon()); }

  std::unique_ptr<Client> ClientWith(size_t stream_threshold,
                                     size_t chunk_size) {
    ClientOptions options;
    options.socket_path = daemon_->socket_path();
    options.timeout = absl::Seconds(60);
    options.stream_threshold = stream_threshold;
    options.chunk_size = chunk_size;
    return std::make_unique<Client>(options);
  }

  durable::v1::DurableWriter::Stub& RawStub() {
    if (stub_ == nullptr) {
      grpc::ChannelArguments arguments;
      arguments.SetMaxSendMessageSize(-1);
      stub_ = durable::v1::DurableWriter::NewStub(grpc::CreateCustomChannel(
          "unix:" + daemon_->socket_path(), grpc::InsecureChannelCredentials(),
          arguments));
    }
    return *stub_;
  }

  std::unique_ptr<RawStream> OpenRawStream() {
    auto stream = std::make_unique<RawStream>();
    // A safety net only: every test ends its stream long before this.
    stream->context.set_deadline(std::chrono::system_clock::now() +
                                 std::chrono::seconds(60));
    stream->writer = RawStub().WriteStream(&stream->context, &stream->response);
    return stream;
  }

  std::unique_ptr<TestDaemon> daemon_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<durable::v1::DurableWriter::Stub> stub_;
};

TEST_F(WriteStreamTest, Streams256MiBAndTheDigestMatchesOnDisk) {
  ASSERT_NO_FATAL_FAILURE(
      StartDaemon("socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
                  "rule { root: \"{base}/data\" allow_uid: {uid} "
                  "max_file_size: 536870912 }\n"));
  constexpr uint64_t kSize = 256 * kMiB;
  const std::string path = daemon_->data() + "/big.bin";
  PatternContent content(kSize);
  auto result = client_->WriteStream(path, content.Source(), kSize);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(content.produced(), kSize);
  const std::string expected = content.Digest();

  EXPECT_TRUE(result->created);
  EXPECT_EQ(result->size, kSize);
  EXPECT_EQ(result->sha256, expected);
  EXPECT_EQ(result->etag.size(), 16u);

  absl::StatusOr<FileDigest> on_disk = DigestOfFile(path);
  ASSERT_TRUE(on_disk.ok()) << on_disk.status();
  EXPECT_EQ(on_disk->size, kSize);
  EXPECT_EQ(on_disk->sha256, expected);
  EXPECT_EQ(ListDirectory(daemon_->data()),
            std::vector<std::string>{"big.bin"});
  EXPECT_TRUE(LogHasLine(
      daemon_->Log(),
      {"op=write_stream ", path, absl::StrCat("bytes=", kSize, " result=OK")}));
}

TEST_F(WriteStreamTest, CancelledStreamPublishesNothingAndLeavesNoTemp) {
  const std::string path = daemon_->data() + "/state";
  WriteFileOrDie(path, "old content");
  auto stream = OpenRawStream();
  ASSERT_TRUE(stream->writer->Write(HeaderChunk(path)));
  for (int i = 0; i < 16; ++i) {  // 4 MiB
    ASSERT_TRUE(stream->writer->Write(DataChunk(std::string(256 * 1024, 'n'))));
  }
  // The daemon has staged the content in a temp file beside the target...
  ASSERT_TRUE(TempFileAppearsIn(daemon_->data()));

  stream->context.TryCancel();
  grpc::Status status = stream->writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED)
      << status.error_message();

  // ...and removes it once it notices the cancellation.
  EXPECT_TRUE(NoTempFilesIn(daemon_->data()))
      << "left behind: "
      << testing::PrintToString(TempFilesIn(daemon_->data()));
  EXPECT_EQ(*ReadFile(path), "old content");
  EXPECT_EQ(ListDirectory(daemon_->data()), std::vector<std::string>{"state"});
  EXPECT_TRUE(WaitFor([&] {
    return LogHasLine(daemon_->Log(),
                      {"op=write_stream ", path, "result=CANCELLED"});
  })) << daemon_->Log();
}

TEST_F(WriteStreamTest, CancelRightAfterTheHeaderLeavesNoTemp) {
  // The cancellation races with the header's arrival and with the daemon
  // staging the temp file on a worker thread; however they interleave,
  // nothing may stay behind.
  for (int i = 0; i < 20; ++i) {
    const std::string path = absl::StrCat(daemon_->data(), "/f", i);
    SCOPED_TRACE(path);
    auto stream = OpenRawStream();
    WriteChunk header = HeaderChunk(path);
    if (i % 2 == 1) header.set_data(std::string(64 * 1024, 'c'));
    ASSERT_TRUE(stream->writer->Write(header));
    stream->context.TryCancel();
    grpc::Status status = stream->writer->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
    // The daemon has let go of the stream once it audited it (the header
    // may not have reached it, so the record need not name the path).
    EXPECT_TRUE(WaitFor([&] {
      return CountLogLines(daemon_->Log(),
                           {"op=write_stream ", "result=CANCELLED"}) == i + 1;
    })) << daemon_->Log();
    EXPECT_TRUE(NoTempFilesIn(daemon_->data()));
    EXPECT_FALSE(PathExists(path));
  }
  EXPECT_THAT(ListDirectory(daemon_->data()), IsEmpty());
}

TEST_F(WriteStreamTest, HeaderRefusedByPolicyOrResolutionEndsTheStream) {
  auto client = ClientWith(/*stream_threshold=*/0, /*chunk_size=*/64 * 1024);
  struct Case {
    std::string path;
    absl::StatusCode code;
  };
  const std::vector<Case> cases = {
      {daemon_->outside() + "/x", absl::StatusCode::kPermissionDenied},
      {daemon_->data() + "/no/such/dir/x", absl::StatusCode::kNotFound},
      {daemon_->data() + "/../outside/x", absl::StatusCode::kInvalidArgument},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path);
    PatternContent content(2 * kMiB);
    auto result = client->WriteStream(c.path, content.Source(), 2 * kMiB);
    EXPECT_EQ(result.status().code(), c.code) << result.status();
  }
  EXPECT_THAT(ListDirectory(daemon_->data()), IsEmpty());
  EXPECT_THAT(ListDirectory(daemon_->outside()), IsEmpty());
}

TEST_F(WriteStreamTest, HalfCloseWithoutFinishIsAborted) {
  const std::string existing = daemon_->data() + "/existing";
  WriteFileOrDie(existing, "old content");
  const std::string fresh = daemon_->data() + "/fresh";
  for (const std::string& path : {existing, fresh}) {
    SCOPED_TRACE(path);
    auto stream = OpenRawStream();
    ASSERT_TRUE(stream->writer->Write(HeaderChunk(path)));
    ASSERT_TRUE(stream->writer->Write(DataChunk(std::string(100000, 'h'))));
    ASSERT_TRUE(stream->writer->WritesDone());
    grpc::Status status = stream->writer->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED)
        << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(path));
    EXPECT_THAT(status.error_message(), HasSubstr("finish"));
    EXPECT_TRUE(NoTempFilesIn(daemon_->data()));
  }
  EXPECT_EQ(*ReadFile(existing), "old content");
  EXPECT_FALSE(PathExists(fresh));
  EXPECT_EQ(ListDirectory(daemon_->data()),
            std::vector<std::string>{"existing"});
}

TEST_F(WriteStreamTest, IdleStreamIsCutByTheIdleTimeout) {
  ASSERT_NO_FATAL_FAILURE(
      StartDaemon("socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
                  "rule { root: \"{base}/data\" allow_uid: {uid} }\n"
                  "limits { stream_idle_timeout_ms: 500 }\n"));
  const std::string path = daemon_->data() + "/state";
  WriteFileOrDie(path, "old content");
  auto stream = OpenRawStream();
  ASSERT_TRUE(stream->writer->Write(HeaderChunk(path)));
  ASSERT_TRUE(stream->writer->Write(DataChunk(std::string(kMiB, 'i'))));
  ASSERT_TRUE(TempFileAppearsIn(daemon_->data()));
  // A second stream that never sends its header.
  auto silent = OpenRawStream();

  // Four times the idle timeout without sending anything.
  absl::SleepFor(absl::Seconds(2));
  // The daemon has ended the calls by now; a half-close is not needed but
  // keeps Finish from waiting should it not have.
  stream->writer->WritesDone();
  grpc::Status status = stream->writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("idle timeout"));
  EXPECT_THAT(status.error_message(), HasSubstr(path));

  silent->writer->WritesDone();
  status = silent->writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("idle timeout"));

  EXPECT_TRUE(NoTempFilesIn(daemon_->data()));
  EXPECT_EQ(*ReadFile(path), "old content");
  EXPECT_EQ(ListDirectory(daemon_->data()), std::vector<std::string>{"state"});
  EXPECT_TRUE(LogHasLine(
      daemon_->Log(), {"op=write_stream ", path, "result=DEADLINE_EXCEEDED"}))
      << daemon_->Log();
}

TEST_F(WriteStreamTest, ClientDeadlinePassingMidStreamPublishesNothing) {
  const std::string path = daemon_->data() + "/state";
  WriteFileOrDie(path, "old content");
  grpc::ClientContext context;
  const auto deadline =
      std::chrono::system_clock::now() + std::chrono::milliseconds(1500);
  context.set_deadline(deadline);
  WriteResponse response;
  auto writer = RawStub().WriteStream(&context, &response);
  ASSERT_TRUE(writer->Write(HeaderChunk(path)));
  ASSERT_TRUE(writer->Write(DataChunk(std::string(kMiB, 'd'))));
  ASSERT_TRUE(TempFileAppearsIn(daemon_->data()));
  std::this_thread::sleep_until(deadline + std::chrono::seconds(1));
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << status.error_message();
  EXPECT_TRUE(NoTempFilesIn(daemon_->data()));
  EXPECT_EQ(*ReadFile(path), "old content");
  EXPECT_EQ(ListDirectory(daemon_->data()), std::vector<std::string>{"state"});
}

TEST_F(WriteStreamTest, StreamOverTheRuleLimitIsResourceExhausted) {
  ASSERT_NO_FATAL_FAILURE(
      StartDaemon("socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
                  "rule { root: \"{base}/data\" allow_uid: {uid} "
                  "max_file_size: 1048576 }\n"));
  auto client = ClientWith(/*stream_threshold=*/0, /*chunk_size=*/256 * 1024);
  const std::string path = daemon_->data() + "/state";
  WriteFileOrDie(path, "old content");

  PatternContent too_big(2 * kMiB);
  auto result = client->WriteStream(path, too_big.Source(), 2 * kMiB);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted)
      << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("1048576"));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr(path));
  EXPECT_TRUE(NoTempFilesIn(daemon_->data()));
  EXPECT_EQ(*ReadFile(path), "old content");

  // Exactly the limit is fine.
  PatternContent at_limit(kMiB);
  result = client->WriteStream(path, at_limit.Source(), kMiB);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->size, kMiB);
  EXPECT_EQ(result->sha256, at_limit.Digest());
  EXPECT_EQ(ListDirectory(daemon_->data()), std::vector<std::string>{"state"});
}

TEST_F(WriteStreamTest, FirstMessageWithoutHeaderIsInvalidArgument) {
  auto stream = OpenRawStream();
  // A lone data message with finish: were it accepted, there would be
  // nothing to tell where to write.
  ASSERT_TRUE(stream->writer->Write(DataChunk("orphan", /*finish=*/true)));
  stream->writer->WritesDone();
  grpc::Status status = stream->writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("header"));
  EXPECT_THAT(ListDirectory(daemon_->data()), IsEmpty());
}

TEST_F(WriteStreamTest, HeaderInALaterMessageIsInvalidArgument) {
  const std::string path = daemon_->data() + "/state";
  auto stream = OpenRawStream();
  ASSERT_TRUE(stream->writer->Write(HeaderChunk(path)));
  ASSERT_TRUE(stream->writer->Write(DataChunk("first part")));
  WriteChunk second_header = HeaderChunk(path);
  second_header.set_data("second part");
  second_header.set_finish(true);
  // The daemon may already have ended the call when this arrives.
  stream->writer->Write(second_header);
  stream->writer->WritesDone();
  grpc::Status status = stream->writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("header"));
  EXPECT_THAT(status.error_message(), HasSubstr(path));
  EXPECT_TRUE(NoTempFilesIn(daemon_->data()));
  EXPECT_FALSE(PathExists(path));
}

TEST_F(WriteStreamTest, HeaderDataAndFinishInOneMessage) {
  const std::string path = daemon_->data() + "/small";
  auto stream = OpenRawStream();
  WriteChunk only = HeaderChunk(path);
  only.set_data("all in one");
  only.set_finish(true);
  ASSERT_TRUE(stream->writer->Write(only));
  stream->writer->WritesDone();
  grpc::Status status = stream->writer->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(stream->response.created());
  EXPECT_EQ(stream->response.size(), 10u);
  EXPECT_EQ(stream->response.sha256(), Sha256::Of("all in one"));
  EXPECT_EQ(stream->response.etag().size(), 16u);
  EXPECT_EQ(*ReadFile(path), "all in one");
  EXPECT_EQ(ListDirectory(daemon_->data()), std::vector<std::string>{"small"});
}

TEST_F(WriteStreamTest, MessagesAfterFinishAreNotRead) {
  const std::string path = daemon_->data() + "/small";
  auto stream = OpenRawStream();
  WriteChunk header = HeaderChunk(path);
  header.set_data("kept");
  ASSERT_TRUE(stream->writer->Write(header));
  ASSERT_TRUE(stream->writer->Write(DataChunk(" too", /*finish=*/true)));
  // The daemon may have answered already; either way this is not content.
  stream->writer->Write(DataChunk(" but not this"));
  stream->writer->WritesDone();
  grpc::Status status = stream->writer->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(stream->response.size(), 8u);
  EXPECT_EQ(*ReadFile(path), "kept too");
}

TEST_F(WriteStreamTest, WrongExpectedSha256IsDataLossAndOldContentStays) {
  auto client = ClientWith(/*stream_threshold=*/0, /*chunk_size=*/64 * 1024);
  const std::string path = daemon_->data() + "/state";
  WriteFileOrDie(path, "old content");
  constexpr uint64_t kSize = 3 * kMiB + 17;

  WriteOptions wrong;
  wrong.expected_sha256 = Sha256::Of("something else");
  PatternContent content(kSize);
  auto result = client->WriteStream(path, content.Source(), kSize, wrong);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss)
      << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr(path));
  EXPECT_TRUE(NoTempFilesIn(daemon_->data()));
  EXPECT_EQ(*ReadFile(path), "old content");

  // The same content with its true digest goes through.
  PatternContent again(kSize);
  WriteOptions right;
  {
    PatternContent probe(kSize);
    std::string buffer(kMiB, '\0');
    while (probe.Fill(buffer.data(), buffer.size()) > 0) {
    }
    right.expected_sha256 = probe.Digest();
  }
  result = client->WriteStream(path, again.Source(), kSize, right);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->sha256, right.expected_sha256);
  EXPECT_FALSE(result->created);
  absl::StatusOr<FileDigest> on_disk = DigestOfFile(path);
  ASSERT_TRUE(on_disk.ok());
  EXPECT_EQ(on_disk->size, kSize);
  EXPECT_EQ(on_disk->sha256, right.expected_sha256);
  EXPECT_EQ(ListDirectory(daemon_->data()), std::vector<std::string>{"state"});
}

TEST_F(WriteStreamTest, ClientWriteAboveThresholdStreamsWithProgress) {
  constexpr size_t kThreshold = 64 * 1024;
  constexpr size_t kChunk = 16 * 1024;
  auto client = ClientWith(kThreshold, kChunk);

  std::string content(300 * 1024 + 77, '\0');
  PatternContent pattern(content.size());
  ASSERT_EQ(pattern.Fill(content.data(), content.size()), content.size());

  std::vector<std::pair<uint64_t, uint64_t>> calls;
  WriteOptions options;
  options.on_progress = [&](uint64_t sent, uint64_t total) {
    calls.emplace_back(sent, total);
  };
  const std::string path = daemon_->data() + "/streamed";
  auto result = client->Write(path, content, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->size, content.size());
  EXPECT_EQ(result->sha256, Sha256::Of(content));
  EXPECT_EQ(*ReadFile(path), content);

  // At least one call per chunk, `sent` never going back, ending at the
  // total, which every call reports.
  ASSERT_GE(calls.size(), content.size() / kChunk);
  EXPECT_LE(calls.front().first, kChunk);
  for (size_t i = 0; i < calls.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(calls[i].second, content.size());
    if (i > 0) {
      EXPECT_GE(calls[i].first, calls[i - 1].first);
    }
  }
  EXPECT_EQ(calls.back().first, content.size());
  size_t distinct = 1;
  for (size_t i = 1; i < calls.size(); ++i) {
    if (calls[i].first > calls[i - 1].first) ++distinct;
  }
  EXPECT_GE(distinct, content.size() / kChunk);
  // It went through WriteStream on the daemon's side.
  EXPECT_TRUE(LogHasLine(
      daemon_->Log(), {"op=write_stream ", path,
                       absl::StrCat("bytes=", content.size(), " result=OK")}))
      << daemon_->Log();

  // Content up to the threshold goes in one Write, without progress.
  calls.clear();
  const std::string small_path = daemon_->data() + "/small";
  ASSERT_TRUE(
      client->Write(small_path, content.substr(0, kThreshold), options).ok());
  EXPECT_THAT(calls, IsEmpty());
  EXPECT_TRUE(LogHasLine(daemon_->Log(),
                         {"op=write ", small_path,
                          absl::StrCat("bytes=", kThreshold, " result=OK")}))
      << daemon_->Log();
}

}  // namespace
}  // namespace durable::test
