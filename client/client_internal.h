#ifndef DURABLE_CLIENT_CLIENT_INTERNAL_H_
#define DURABLE_CLIENT_CLIENT_INTERNAL_H_

// What the parts of the client library share; not installed.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "durable/client.h"
#include "durable/v1/durable.grpc.pb.h"

namespace durable {

struct Client::Stub {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<durable::v1::DurableWriter::Stub> writer;

  void SetDeadline(grpc::ClientContext& context,
                   const ClientOptions& options) const {
    context.set_deadline(std::chrono::system_clock::now() +
                         absl::ToChronoMilliseconds(options.timeout));
  }
};

namespace internal {

// The daemon's answer as a Status; UNAVAILABLE explains how to reach it.
absl::Status FromGrpc(const grpc::Status& status, const std::string& socket);

// INVALID_ARGUMENT unless `path` and `if_match` are valid UTF-8 (proto3
// strings must be; gRPC would report only INTERNAL).
absl::Status CheckStrings(const std::string& path,
                          const std::string& if_match = "");

absl::Status MovedFromError();

void ToProto(const WriteOptions& options, durable::v1::WriteOptions* proto);

}  // namespace internal
}  // namespace durable

#endif  // DURABLE_CLIENT_CLIENT_INTERNAL_H_
