#include "durable/client.h"

#include "client_internal.h"

#include <cstdlib>
#include <cstring>

#include <grpcpp/grpcpp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "durable/v1/durable.grpc.pb.h"
#include "durable/v1/durable.pb.h"
#include "utf8.h"

namespace durable {
namespace internal {

absl::Status FromGrpc(const grpc::Status& status, const std::string& socket) {
  if (status.ok()) return absl::OkStatus();
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    message = absl::StrCat(
        "cannot reach durabled at ", socket, " (", message,
        "); is the daemon running, may you open its socket, and does a rule "
        "allow your uid or one of your groups?");
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      message);
}

namespace {

absl::Status CheckUtf8(absl::string_view what, const std::string& value,
                       const std::string& path) {
  if (IsValidUtf8(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      absl::CHexEscape(path), ": the ", what,
      " is not valid UTF-8; the API carries it as a proto3 string, which must "
      "be UTF-8"));
}

}  // namespace

absl::Status CheckStrings(const std::string& path,
                          const std::string& if_match) {
  absl::Status status = CheckUtf8("path", path, path);
  if (status.ok()) status = CheckUtf8("if_match etag", if_match, path);
  return status;
}

absl::Status MovedFromError() {
  return absl::FailedPreconditionError(
      "this durable::Client was moved from; assign a Client to it first");
}

void ToProto(const WriteOptions& options, durable::v1::WriteOptions* proto) {
  proto->set_mode(options.mode);
  proto->set_if_absent(options.if_absent);
  proto->set_if_match(options.if_match);
  proto->set_expected_sha256(options.expected_sha256);
  proto->set_create_parents(options.create_parents);
}

}  // namespace internal

using internal::CheckStrings;
using internal::FromGrpc;
using internal::MovedFromError;
using internal::ToProto;

namespace {

WriteResult FromProto(const durable::v1::WriteResponse& response) {
  WriteResult result;
  result.size = response.size();
  result.sha256 = response.sha256();
  result.etag = response.etag();
  result.created = response.created();
  result.superseded = response.superseded();
  return result;
}

}  // namespace

std::string DefaultSocketPath() {
  const char* from_environment = std::getenv(kSocketEnvironmentVariable);
  if (from_environment != nullptr && from_environment[0] != '\0') {
    return from_environment;
  }
  return kDefaultSocketPath;
}

Client::Client(ClientOptions options) : options_(std::move(options)) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxSendMessageSize(-1);
  arguments.SetMaxReceiveMessageSize(-1);
  // Each Client gets its own connection, so that concurrent Clients are
  // independent callers to the daemon.
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  stub_ = std::make_unique<Stub>();
  stub_->channel =
      grpc::CreateCustomChannel(absl::StrCat("unix:", options_.socket_path),
                                grpc::InsecureChannelCredentials(), arguments);
  stub_->writer = durable::v1::DurableWriter::NewStub(stub_->channel);
}

Client::~Client() = default;
Client::Client(Client&& other) noexcept = default;
Client& Client::operator=(Client&& other) noexcept = default;

absl::StatusOr<WriteResult> Client::Write(const std::string& path,
                                          absl::string_view data,
                                          const WriteOptions& options) {
  if (stub_ == nullptr) return MovedFromError();
  if (absl::Status bad = CheckStrings(path, options.if_match); !bad.ok())
    return bad;
  if (data.size() > options_.stream_threshold) {
    size_t offset = 0;
    ChunkSource source = [&](char* buffer,
                             size_t capacity) -> absl::StatusOr<size_t> {
      size_t n = std::min(capacity, data.size() - offset);
      memcpy(buffer, data.data() + offset, n);
      offset += n;
      return n;
    };
    return WriteStream(path, source, data.size(), options);
  }
  durable::v1::WriteRequest request;
  request.set_path(path);
  request.set_data(std::string(data));
  ToProto(options, request.mutable_options());
  durable::v1::WriteResponse response;
  grpc::ClientContext context;
  stub_->SetDeadline(context, options_);
  grpc::Status status = stub_->writer->Write(&context, request, &response);
  if (!status.ok()) return FromGrpc(status, options_.socket_path);
  return FromProto(response);
}

absl::StatusOr<WriteResult> Client::WriteStream(const std::string& path,
                                                const ChunkSource& source,
                                                uint64_t total_size,
                                                const WriteOptions& options) {
  if (stub_ == nullptr) return MovedFromError();
  if (absl::Status bad = CheckStrings(path, options.if_match); !bad.ok())
    return bad;
  grpc::ClientContext context;
  stub_->SetDeadline(context, options_);
  durable::v1::WriteResponse response;
  std::unique_ptr<grpc::ClientWriter<durable::v1::WriteChunk>> writer =
      stub_->writer->WriteStream(&context, &response);

  durable::v1::WriteChunk chunk;
  chunk.mutable_header()->set_path(path);
  ToProto(options, chunk.mutable_header()->mutable_options());
  // Announced, the daemon refuses content over a limit or quota before it
  // stages anything.
  if (total_size != 0) chunk.mutable_header()->set_size(total_size);
  std::string buffer(options_.chunk_size, '\0');
  uint64_t sent = 0;
  absl::Status source_error;
  bool stream_broken = false;
  while (true) {
    absl::StatusOr<size_t> n = source(buffer.data(), buffer.size());
    if (!n.ok()) {
      source_error = n.status();
      break;
    }
    chunk.set_data(buffer.data(), *n);
    chunk.set_finish(*n == 0);
    if (!writer->Write(chunk)) {
      stream_broken = true;  // the daemon ended the call; Finish says why
      break;
    }
    sent += *n;
    if (options.on_progress) options.on_progress(sent, total_size);
    if (*n == 0) break;
    chunk.clear_header();
  }
  if (!source_error.ok()) {
    // Ending without `finish` publishes nothing.
    context.TryCancel();
    writer->Finish();
    return absl::Status(
        source_error.code(),
        absl::StrCat("reading the content for ", path,
                     " failed, nothing was written: ", source_error.message()));
  }
  if (!stream_broken) writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) return FromGrpc(status, options_.socket_path);
  return FromProto(response);
}

absl::StatusOr<FileStatus> Client::Stat(const std::string& path) {
  if (stub_ == nullptr) return MovedFromError();
  if (absl::Status bad = CheckStrings(path); !bad.ok()) return bad;
  durable::v1::StatRequest request;
  request.set_path(path);
  durable::v1::StatResponse response;
  grpc::ClientContext context;
  stub_->SetDeadline(context, options_);
  grpc::Status status = stub_->writer->Stat(&context, request, &response);
  if (!status.ok()) return FromGrpc(status, options_.socket_path);
  FileStatus result;
  result.size = response.size();
  result.mode = response.mode();
  result.uid = response.uid();
  result.gid = response.gid();
  result.mtime_ns = response.mtime_ns();
  result.etag = response.etag();
  return result;
}

absl::StatusOr<std::string> Client::Remove(const std::string& path,
                                           const std::string& if_match) {
  if (stub_ == nullptr) return MovedFromError();
  if (absl::Status bad = CheckStrings(path, if_match); !bad.ok()) return bad;
  durable::v1::RemoveRequest request;
  request.set_path(path);
  request.set_if_match(if_match);
  durable::v1::RemoveResponse response;
  grpc::ClientContext context;
  stub_->SetDeadline(context, options_);
  grpc::Status status = stub_->writer->Remove(&context, request, &response);
  if (!status.ok()) return FromGrpc(status, options_.socket_path);
  return response.etag();
}

absl::StatusOr<CallerInfo> Client::WhoAmI() {
  if (stub_ == nullptr) return MovedFromError();
  durable::v1::WhoAmIRequest request;
  durable::v1::WhoAmIResponse response;
  grpc::ClientContext context;
  stub_->SetDeadline(context, options_);
  grpc::Status status = stub_->writer->WhoAmI(&context, request, &response);
  if (!status.ok()) return FromGrpc(status, options_.socket_path);
  CallerInfo caller;
  caller.uid = response.uid();
  caller.gid = response.gid();
  caller.groups.assign(response.groups().begin(), response.groups().end());
  caller.pid = response.pid();
  caller.cgroup = response.cgroup();
  caller.unit = response.unit();
  for (const durable::v1::WhoAmIResponse::Grant& proto : response.grants()) {
    CallerInfo::Grant& grant = caller.grants.emplace_back();
    grant.root = proto.root();
    grant.name = proto.name();
    grant.max_bytes = proto.max_bytes();
    grant.max_files = proto.max_files();
    grant.max_file_size = proto.max_file_size();
    grant.create_mode = proto.create_mode();
    grant.max_mode = proto.max_mode();
    grant.allow_overwrite = proto.allow_overwrite();
    grant.allow_create_parents = proto.allow_create_parents();
    grant.directory_mode = proto.directory_mode();
    grant.versioned_layout = proto.versioned_layout();
  }
  caller.denied_roots.assign(response.denied_roots().begin(),
                             response.denied_roots().end());
  return caller;
}

absl::StatusOr<DaemonStats> Client::GetStats() {
  if (stub_ == nullptr) return MovedFromError();
  durable::v1::GetStatsRequest request;
  durable::v1::GetStatsResponse response;
  grpc::ClientContext context;
  stub_->SetDeadline(context, options_);
  grpc::Status status = stub_->writer->GetStats(&context, request, &response);
  if (!status.ok()) return FromGrpc(status, options_.socket_path);
  if (response.latency_bucket_upper_us_size() !=
      response.latency_bucket_count_size()) {
    return absl::InternalError(
        absl::StrCat("durabled sent ", response.latency_bucket_upper_us_size(),
                     " latency bucket bounds but ",
                     response.latency_bucket_count_size(), " counts"));
  }
  DaemonStats stats;
  stats.uptime = absl::Seconds(response.uptime_seconds());
  stats.writes_ok = response.writes_ok();
  stats.writes_failed = response.writes_failed();
  stats.bytes_written = response.bytes_written();
  stats.removes_ok = response.removes_ok();
  stats.removes_failed = response.removes_failed();
  for (const auto& [code, count] : response.errors_by_code()) {
    stats.errors_by_code[code] = count;
  }
  stats.file_syncs = response.file_syncs();
  stats.directory_syncs = response.directory_syncs();
  stats.sync_errors = response.sync_errors();
  stats.filesystem_syncs = response.filesystem_syncs();
  stats.commits = response.commits();
  stats.batched_writes = response.batched_writes();
  stats.coalesced_writes = response.coalesced_writes();
  stats.latency_sum = absl::Microseconds(response.latency_sum_us());
  stats.latency.reserve(response.latency_bucket_count_size());
  for (int i = 0; i < response.latency_bucket_count_size(); ++i) {
    stats.latency.push_back(LatencyBucket{response.latency_bucket_upper_us(i),
                                          response.latency_bucket_count(i)});
  }
  stats.connections_accepted = response.connections_accepted();
  stats.connections_refused = response.connections_refused();
  stats.writes_in_progress = response.writes_in_progress();
  return stats;
}

}  // namespace durable
