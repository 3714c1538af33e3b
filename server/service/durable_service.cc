#include "server/service/durable_service.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/base/logging.h"
#include "server/policy/path_resolver.h"
#include "server/service/remove_operation.h"
#include "server/service/rpc_conversions.h"
#include "server/service/set_stream_reactor.h"
#include "server/service/write_stream_reactor.h"

namespace durable {
namespace {

using durable::v1::RemoveRequest;
using durable::v1::RemoveResponse;
using durable::v1::StatRequest;
using durable::v1::StatResponse;
using durable::v1::WhoAmIRequest;
using durable::v1::WhoAmIResponse;
using durable::v1::WriteChunk;
using durable::v1::WriteRequest;
using durable::v1::WriteResponse;

// A reactor that only reports an error (for an unidentified caller).
template <typename Chunk>
class RejectReactor final : public grpc::ServerReadReactor<Chunk> {
 public:
  explicit RejectReactor(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

std::string MethodName(absl::string_view method) {
  return absl::StrCat("/", durable::v1::DurableWriter::service_full_name(), "/",
                      method);
}

}  // namespace

DurableService::DurableService(const WriteDependencies& deps,
                               const PeerRegistry* peers, WorkerPool* workers,
                               StreamWatchdog* watchdog, CallObserver* observer,
                               const ServiceLimits& limits)
    : deps_(deps),
      peers_(peers),
      workers_(workers),
      watchdog_(watchdog),
      observer_(observer),
      limits_(limits),
      unary_(workers, watchdog, limits.request_arrival_timeout,
             [peers](const grpc::CallbackServerContext& context) -> uint64_t {
               absl::StatusOr<PeerCredentials> caller =
                   peers->Identify(context.peer());
               // An unknown peer is refused by the handler; its turn is
               // that of every other unknown peer.
               return caller.ok() ? caller->uid : UINT64_MAX;
             }) {
  using durable::v1::GetStatsRequest;
  using durable::v1::GetStatsResponse;
  using grpc::CallbackServerContext;
  unary_.Register(
      MethodName("Write"),
      AsyncTypedUnaryHandler<WriteRequest, WriteResponse>(
          [this](CallbackServerContext* context, const WriteRequest& request,
                 WriteResponse* response,
                 std::function<void(grpc::Status)> reply) {
            ServeWrite(context, request, response, std::move(reply));
          }));
  unary_.Register(
      MethodName("Stat"),
      TypedUnaryHandler<StatRequest, StatResponse>(
          [this](CallbackServerContext* context, const StatRequest& request,
                 StatResponse* response) {
            return ServeStat(context, request, response);
          }));
  unary_.Register(
      MethodName("Remove"),
      TypedUnaryHandler<RemoveRequest, RemoveResponse>(
          [this](CallbackServerContext* context, const RemoveRequest& request,
                 RemoveResponse* response) {
            return ServeRemove(context, request, response);
          }));
  unary_.Register(
      MethodName("WhoAmI"),
      TypedUnaryHandler<WhoAmIRequest, WhoAmIResponse>(
          [this](CallbackServerContext* context, const WhoAmIRequest& request,
                 WhoAmIResponse* response) {
            return ServeWhoAmI(context, request, response);
          }));
  unary_.Register(
      MethodName("GetStats"),
      TypedUnaryHandler<GetStatsRequest, GetStatsResponse>(
          [this](CallbackServerContext* context, const GetStatsRequest& request,
                 GetStatsResponse* response) {
            return ServeGetStats(context, request, response);
          }));
}

void DurableService::Account(absl::string_view operation,
                             const PeerCredentials& caller,
                             absl::string_view path, uint64_t bytes,
                             const absl::Status& status, absl::Time start,
                             absl::Span<const std::string> members) const {
  observer_->OnCallFinished(FinishedCall{operation, caller, path, bytes, status,
                                         absl::Now() - start, members});
}

void DurableService::ServeWrite(grpc::CallbackServerContext* context,
                                const WriteRequest& request,
                                WriteResponse* response,
                                std::function<void(grpc::Status)> reply) {
  const absl::Time start = absl::Now();
  absl::StatusOr<PeerCredentials> caller = peers_->Identify(context->peer());
  if (!caller.ok()) {
    reply(ToGrpcStatus(caller.status()));
    return;
  }
  const std::function<bool()> abandon = [context] {
    return CallIsGone(*context);
  };
  absl::StatusOr<std::unique_ptr<WriteOperation>> operation =
      WriteOperation::Begin(deps_, *caller, request.path(), request.options(),
                            abandon, request.data().size());
  absl::Status status = operation.status();
  if (status.ok()) status = (*operation)->Append(request.data());
  if (!status.ok()) {
    Account("write", *caller, request.path(), request.data().size(), status,
            start);
    reply(ToGrpcStatus(status, request.path()));
    return;
  }
  // The operation lives until its answer: the commit queue's callback owns
  // it. It is closed before the reply, so that a caller who has its answer
  // finds no temp file left (neither its own nor, after a replace, the old
  // content's) and no directory a failed write created; its admission
  // ticket goes after the reply.
  std::shared_ptr<WriteOperation> running = *std::move(operation);
  WriteOperation* committing = running.get();
  committing->Commit(
      abandon, [this, running = std::move(running), who = *caller, &request,
                response, start, reply = std::move(reply)](
                   absl::StatusOr<CommitResult> result) mutable {
        running->Close();
        if (result.ok()) FillWriteResponse(*result, response);
        Account("write", who, request.path(), request.data().size(),
                result.status(), start);
        reply(ToGrpcStatus(result.status(), request.path()));
        running.reset();
      });
}

grpc::ServerReadReactor<WriteChunk>* DurableService::WriteStream(
    grpc::CallbackServerContext* context, WriteResponse* response) {
  absl::StatusOr<PeerCredentials> caller = peers_->Identify(context->peer());
  if (!caller.ok()) {
    return new RejectReactor<WriteChunk>(ToGrpcStatus(caller.status()));
  }
  const absl::Time start = absl::Now();
  const PeerCredentials who = *caller;
  return new WriteStreamReactor(
      deps_, workers_, watchdog_, limits_.stream_idle_timeout, context, who,
      response,
      [this, who, start](const std::string& path, uint64_t bytes,
                         const absl::Status& status) {
        Account("write_stream", who, path, bytes, status, start);
      });
}

grpc::ServerReadReactor<durable::v1::WriteSetChunk>* DurableService::WriteSet(
    grpc::CallbackServerContext* context,
    durable::v1::WriteSetResponse* response) {
  absl::StatusOr<PeerCredentials> caller = peers_->Identify(context->peer());
  if (!caller.ok()) {
    return new RejectReactor<durable::v1::WriteSetChunk>(
        ToGrpcStatus(caller.status()));
  }
  const absl::Time start = absl::Now();
  const PeerCredentials who = *caller;
  return new SetStreamReactor(
      deps_, limits_.sets, workers_, watchdog_, limits_.stream_idle_timeout,
      context, who, response,
      [this, who, start](const std::vector<std::string>& paths, uint64_t bytes,
                         const absl::Status& status) {
        Account("write_set", who, paths.empty() ? "" : paths.front(), bytes,
                status, start, paths);
      });
}

grpc::Status DurableService::ServeStat(grpc::CallbackServerContext* context,
                                       const StatRequest& request,
                                       StatResponse* response) {
  absl::StatusOr<PeerCredentials> caller = peers_->Identify(context->peer());
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<ResolvedTarget> target = ResolveTarget(
      deps_.policies->Current(), *deps_.fs, *caller, request.path());
  if (!target.ok()) return ToGrpcStatus(target.status(), request.path());
  absl::StatusOr<FileInfo> info =
      deps_.replacer->InspectTarget(target->dir.get(), target->key.leaf);
  if (!info.ok()) return ToGrpcStatus(info.status(), request.path());
  FillStatResponse(*info, response);
  return grpc::Status::OK;
}

grpc::Status DurableService::ServeRemove(grpc::CallbackServerContext* context,
                                         const RemoveRequest& request,
                                         RemoveResponse* response) {
  const absl::Time start = absl::Now();
  absl::StatusOr<PeerCredentials> caller = peers_->Identify(context->peer());
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<std::string> etag =
      RunRemoveOperation(deps_, *caller, request.path(), request.if_match());
  if (etag.ok()) response->set_etag(*etag);
  Account("remove", *caller, request.path(), 0, etag.status(), start);
  return ToGrpcStatus(etag.status(), request.path());
}

grpc::Status DurableService::ServeWhoAmI(grpc::CallbackServerContext* context,
                                         const WhoAmIRequest& /*request*/,
                                         WhoAmIResponse* response) {
  absl::StatusOr<PeerCredentials> caller = peers_->Identify(context->peer());
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  FillWhoAmIResponse(
      *caller, deps_.policies->Current()->policy.GrantsFor(*caller), response);
  return grpc::Status::OK;
}

grpc::Status DurableService::ServeGetStats(
    grpc::CallbackServerContext* context, const durable::v1::GetStatsRequest&,
    durable::v1::GetStatsResponse* response) {
  absl::StatusOr<PeerCredentials> caller = peers_->Identify(context->peer());
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (caller->uid != 0 && caller->uid != geteuid()) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("GetStats: uid ", caller->uid,
                                     " is neither root nor the daemon's uid"));
  }
  observer_->FillStats(response);
  response->set_writes_in_progress(deps_.admission->in_progress());
  return grpc::Status::OK;
}

}  // namespace durable
