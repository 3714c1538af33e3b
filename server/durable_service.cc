#include "server/durable_service.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "server/audit_log.h"
#include "server/path_resolver.h"

namespace durable {
namespace {

using durable::v1::WriteRequest;
using durable::v1::WriteResponse;

grpc::Status ToGrpc(const absl::Status& status, absl::string_view path) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      absl::StrCat(DisplayPath(path), ": ", status.message()));
}

absl::Status CheckWriteRequest(const WriteRequest& request,
                               const RulePolicy& rule) {
  if (request.mode() > 07777) {
    return absl::InvalidArgumentError(
        absl::StrFormat("mode 0%o has bits outside 07777", request.mode()));
  }
  if (request.data().size() > rule.max_file_size) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the content is ", request.data().size(),
        " bytes; the rule for root ", rule.root, " allows at most ",
        rule.max_file_size));
  }
  return absl::OkStatus();
}

CommitOptions CommitOptionsFor(const WriteRequest& request,
                               const RulePolicy& rule) {
  CommitOptions options;
  options.create_permissions =
      request.mode() != 0 ? (request.mode() & rule.max_mode) : rule.create_mode;
  options.if_absent = request.if_absent();
  options.allow_overwrite = rule.allow_overwrite;
  return options;
}

}  // namespace

grpc::Status DurableService::Write(grpc::ServerContext* context,
                                   const WriteRequest* request,
                                   WriteResponse* response) {
  const absl::Time start = absl::Now();
  std::optional<PeerCredentials> caller = peers_->Lookup(context->peer());
  if (!caller.has_value()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "the call did not arrive over a connection durabled "
                        "accepted and identified itself");
  }

  absl::Status status;
  absl::StatusOr<ResolvedTarget> target =
      ResolveTarget(policies_->Current(), *fs_, *caller, request->path());
  if (!target.ok()) {
    status = target.status();
  } else {
    status = CheckWriteRequest(*request, *target->rule);
  }
  if (status.ok()) {
    TargetLocks::Lease lease = locks_->Acquire(target->key);
    absl::StatusOr<WriteResult> written =
        writer_.Write(target->dir.get(), target->key.leaf, request->data(),
                      CommitOptionsFor(*request, *target->rule));
    if (written.ok()) {
      response->set_size(written->size);
      response->set_sha256(written->sha256);
      response->set_etag(written->etag);
      response->set_created(written->created);
    } else {
      status = written.status();
    }
  }
  EmitAuditRecord(AuditRecord{"write", *caller, request->path(),
                              request->data().size(), status,
                              absl::Now() - start});
  return ToGrpc(status, request->path());
}

}  // namespace durable
