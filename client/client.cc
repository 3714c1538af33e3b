#include "client/client.h"

#include <cstdlib>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "durable/v1/durable.grpc.pb.h"

namespace durable {
namespace {

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

}  // namespace

std::string DefaultSocketPath() {
  const char* from_environment = std::getenv(kSocketEnvironmentVariable);
  if (from_environment != nullptr && from_environment[0] != '\0') {
    return from_environment;
  }
  return kDefaultSocketPath;
}

struct Client::Stub {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<durable::v1::DurableWriter::Stub> writer;
};

Client::Client(ClientOptions options) : options_(std::move(options)) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxSendMessageSize(-1);
  arguments.SetMaxReceiveMessageSize(-1);
  // Each Client gets its own connection, so that concurrent Clients are
  // independent callers to the daemon.
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  stub_ = std::make_unique<Stub>();
  stub_->channel = grpc::CreateCustomChannel(
      absl::StrCat("unix:", options_.socket_path),
      grpc::InsecureChannelCredentials(), arguments);
  stub_->writer = durable::v1::DurableWriter::NewStub(stub_->channel);
}

Client::~Client() = default;

absl::StatusOr<WriteResult> Client::Write(const std::string& path,
                                          absl::string_view data,
                                          const WriteOptions& options) {
  durable::v1::WriteRequest request;
  request.set_path(path);
  request.set_data(std::string(data));
  request.set_mode(options.mode);
  request.set_if_absent(options.if_absent);
  durable::v1::WriteResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(options_.timeout));
  grpc::Status status = stub_->writer->Write(&context, request, &response);
  if (!status.ok()) return FromGrpc(status, options_.socket_path);
  WriteResult result;
  result.size = response.size();
  result.sha256 = response.sha256();
  result.etag = response.etag();
  result.created = response.created();
  return result;
}

}  // namespace durable
