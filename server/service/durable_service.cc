#include "server/service/durable_service.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/base/logging.h"
#include "server/engine/etag.h"
#include "server/policy/path_resolver.h"
#include "server/policy/path_validation.h"
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

constexpr char kUnidentified[] =
    "the call did not arrive over a connection durabled accepted and "
    "identified itself";

grpc::Status ToGrpc(const absl::Status& status, absl::string_view path) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      absl::StrCat(DisplayPath(path), ": ", status.message()));
}

void FillWriteResponse(const CommitResult& result, WriteResponse* response) {
  response->set_size(result.size);
  response->set_sha256(result.sha256);
  response->set_etag(result.etag);
  response->set_created(result.created);
}

// A reactor that only reports an error (for an unidentified caller).
class RejectReactor final : public grpc::ServerReadReactor<WriteChunk> {
 public:
  explicit RejectReactor(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

// Whether a write of the call behind `context` should no longer publish:
// the client cancelled, or the call's deadline passed.
std::function<bool()> AbandonWhenGone(grpc::CallbackServerContext* context) {
  return [context] {
    return context->IsCancelled() ||
           context->deadline() <= std::chrono::system_clock::now();
  };
}

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
      unary_(workers, watchdog, limits.request_arrival_timeout) {
  using durable::v1::GetStatsRequest;
  using durable::v1::GetStatsResponse;
  using grpc::CallbackServerContext;
  unary_.Register(
      MethodName("Write"),
      TypedUnaryHandler<WriteRequest, WriteResponse>(
          [this](CallbackServerContext* context, const WriteRequest& request,
                 WriteResponse* response) {
            return ServeWrite(context, request, response);
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
                             const absl::Status& status,
                             absl::Time start) const {
  observer_->OnCallFinished(FinishedCall{operation, caller, path, bytes, status,
                                         absl::Now() - start});
}

grpc::Status DurableService::ServeWrite(grpc::CallbackServerContext* context,
                                        const WriteRequest& request,
                                        WriteResponse* response) {
  const absl::Time start = absl::Now();
  std::optional<PeerCredentials> caller = peers_->Lookup(context->peer());
  if (!caller.has_value()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, kUnidentified);
  }
  const std::function<bool()> abandon = AbandonWhenGone(context);
  if (abandon()) {
    // Gone while it waited for a worker: spare the work.
    absl::Status status = absl::CancelledError(
        "the call was cancelled or its deadline passed before the write "
        "began; nothing was published");
    Account("write", *caller, request.path(), request.data().size(), status,
            start);
    return ToGrpc(status, request.path());
  }
  absl::StatusOr<std::unique_ptr<WriteOperation>> operation =
      WriteOperation::Begin(deps_, *caller, request.path(), request.options());
  absl::Status status = operation.status();
  if (status.ok()) status = (*operation)->Append(request.data());
  if (status.ok()) {
    absl::StatusOr<CommitResult> result = (*operation)->Commit(abandon);
    status = result.status();
    if (result.ok()) FillWriteResponse(*result, response);
  }
  Account("write", *caller, request.path(), request.data().size(), status,
          start);
  return ToGrpc(status, request.path());
}

grpc::ServerReadReactor<WriteChunk>* DurableService::WriteStream(
    grpc::CallbackServerContext* context, WriteResponse* response) {
  std::optional<PeerCredentials> caller = peers_->Lookup(context->peer());
  if (!caller.has_value()) {
    return new RejectReactor(
        grpc::Status(grpc::StatusCode::UNAUTHENTICATED, kUnidentified));
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

grpc::Status DurableService::ServeStat(grpc::CallbackServerContext* context,
                                       const StatRequest& request,
                                       StatResponse* response) {
  std::optional<PeerCredentials> caller = peers_->Lookup(context->peer());
  if (!caller.has_value()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, kUnidentified);
  }
  absl::StatusOr<ResolvedTarget> target = ResolveTarget(
      deps_.policies->Current(), *deps_.fs, *caller, request.path());
  if (!target.ok()) return ToGrpc(target.status(), request.path());
  absl::StatusOr<FileInfo> info =
      deps_.replacer->InspectTarget(target->dir.get(), target->key.leaf);
  if (!info.ok()) return ToGrpc(info.status(), request.path());
  response->set_size(info->size);
  response->set_mode(info->mode & 07777);
  response->set_uid(info->uid);
  response->set_gid(info->gid);
  response->set_mtime_ns(info->mtime_ns);
  response->set_etag(EtagOf(*info));
  return grpc::Status::OK;
}

grpc::Status DurableService::ServeRemove(grpc::CallbackServerContext* context,
                                         const RemoveRequest& request,
                                         RemoveResponse* response) {
  const absl::Time start = absl::Now();
  std::optional<PeerCredentials> caller = peers_->Lookup(context->peer());
  if (!caller.has_value()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, kUnidentified);
  }
  absl::Status status;
  absl::StatusOr<WriteAdmission::Ticket> ticket =
      deps_.admission->Admit(caller->uid);
  absl::StatusOr<ResolvedTarget> target =
      ticket.ok() ? ResolveTarget(deps_.policies->Current(), *deps_.fs, *caller,
                                  request.path())
                  : ticket.status();
  if (!target.ok()) {
    status = target.status();
  } else if (!target->rule->allow_overwrite) {
    status = absl::PermissionDeniedError(absl::StrCat(
        "the rule for root ", target->rule->root,
        " does not allow overwriting, so it does not allow removing either"));
  } else {
    TargetLocks::Lease lease = deps_.locks->Acquire(target->key);
    absl::StatusOr<std::string> etag = deps_.replacer->Remove(
        target->dir.get(), target->key.leaf, request.if_match());
    status = etag.status();
    if (etag.ok()) response->set_etag(*etag);
  }
  Account("remove", *caller, request.path(), 0, status, start);
  return ToGrpc(status, request.path());
}

grpc::Status DurableService::ServeWhoAmI(grpc::CallbackServerContext* context,
                                         const WhoAmIRequest& /*request*/,
                                         WhoAmIResponse* response) {
  std::optional<PeerCredentials> caller = peers_->Lookup(context->peer());
  if (!caller.has_value()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, kUnidentified);
  }
  response->set_uid(caller->uid);
  response->set_gid(caller->gid);
  for (gid_t group : caller->groups) response->add_groups(group);
  response->set_pid(caller->pid);
  std::shared_ptr<const ActivePolicy> policy = deps_.policies->Current();
  const std::vector<RulePolicy>& rules = policy->policy.rules();
  for (const RulePolicy& rule : rules) {
    if (!rule.Allows(*caller)) {
      // Only roots that carve a hole into a granted one concern this caller;
      // the others are none of its business.
      for (const RulePolicy& outer : rules) {
        if (outer.Allows(*caller) && PathIsWithin(rule.root, outer.root)) {
          response->add_denied_roots(rule.root);
          break;
        }
      }
      continue;
    }
    WhoAmIResponse::Grant* grant = response->add_grants();
    grant->set_root(rule.root);
    grant->set_max_file_size(rule.max_file_size);
    grant->set_create_mode(rule.create_mode);
    grant->set_max_mode(rule.max_mode);
    grant->set_allow_overwrite(rule.allow_overwrite);
    grant->set_allow_create_parents(rule.allow_create_parents);
    grant->set_directory_mode(rule.directory_mode);
  }
  return grpc::Status::OK;
}

grpc::Status DurableService::ServeGetStats(
    grpc::CallbackServerContext* context, const durable::v1::GetStatsRequest&,
    durable::v1::GetStatsResponse* response) {
  std::optional<PeerCredentials> caller = peers_->Lookup(context->peer());
  if (!caller.has_value()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, kUnidentified);
  }
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
