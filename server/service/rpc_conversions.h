#ifndef DURABLED_SERVER_SERVICE_RPC_CONVERSIONS_H_
#define DURABLED_SERVER_SERVICE_RPC_CONVERSIONS_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "durable/v1/durable.pb.h"
#include "server/base/peer_credentials.h"
#include "server/engine/file_replacer.h"
#include "server/engine/file_system.h"
#include "server/policy/policy.h"

namespace durable {

// The one place where results of the engine and the policy become gRPC
// answers, so that every RPC words them alike.

// `status` as a gRPC status. A non-empty `path` (as the caller sent it)
// prefixes the message, escaped and bounded (DisplayPath), so every error
// names what it concerns and no caller byte reaches a log raw.
grpc::Status ToGrpcStatus(const absl::Status& status,
                          absl::string_view path = "");

// Whether the call behind `context` should no longer publish anything: the
// client cancelled, or the call's deadline passed.
bool CallIsGone(grpc::ServerContextBase& context);

void FillWriteResponse(const CommitResult& result,
                       durable::v1::WriteResponse* response);
void FillStatResponse(const FileInfo& info,
                      durable::v1::StatResponse* response);
void FillWhoAmIResponse(const PeerCredentials& caller,
                        const CallerGrants& grants,
                        durable::v1::WhoAmIResponse* response);

}  // namespace durable

#endif  // DURABLED_SERVER_SERVICE_RPC_CONVERSIONS_H_
