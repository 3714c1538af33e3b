#ifndef DURABLED_SERVER_SERVICE_DURABLE_SERVICE_H_
#define DURABLED_SERVER_SERVICE_DURABLE_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "durable/v1/durable.grpc.pb.h"
#include "server/service/call_observer.h"
#include "server/service/set_operation.h"
#include "server/service/stream_watchdog.h"
#include "server/service/unary_dispatcher.h"
#include "server/service/worker_pool.h"
#include "server/service/write_operation.h"
#include "server/transport/peer_registry.h"

namespace durable {

struct ServiceLimits {
  absl::Duration stream_idle_timeout = absl::Seconds(30);
  // How long a unary call's request message may take to arrive.
  absl::Duration request_arrival_timeout = absl::Seconds(10);
  SetLimits sets;
};

// The gRPC face of durabled: finds the caller of each call in the
// PeerRegistry, runs the operation under the current policy, answers and
// audits. WriteStream and WriteSet are served by callback reactors (so that
// idle streams can be ended with a proper status). The unary methods (Write,
// Stat, Remove, WhoAmI, GetStats) are marked generic and served by the
// UnaryDispatcher this service owns, which main registers as the server's
// callback generic service: a request that does not arrive in time is
// dropped, and the blocking work runs on the worker pool, each caller (uid)
// in its turn. No method uses gRPC's synchronous thread pool.
// Holds no state of its own beyond the collaborators main wires in.
class DurableService final
    : public durable::v1::DurableWriter::WithGenericMethod_Write<
          durable::v1::DurableWriter::WithGenericMethod_Stat<
              durable::v1::DurableWriter::WithGenericMethod_Remove<
                  durable::v1::DurableWriter::WithGenericMethod_WhoAmI<
                      durable::v1::DurableWriter::WithGenericMethod_GetStats<
                          durable::v1::DurableWriter::
                              WithCallbackMethod_WriteStream<
                                  durable::v1::DurableWriter::
                                      WithCallbackMethod_WriteSet<
                                          durable::v1::DurableWriter::
                                              Service>>>>>>> {
 public:
  DurableService(const WriteDependencies& deps, const PeerRegistry* peers,
                 WorkerPool* workers, StreamWatchdog* watchdog,
                 CallObserver* observer, const ServiceLimits& limits);

  // Register with ServerBuilder::RegisterCallbackGenericService, next to
  // this service itself.
  grpc::CallbackGenericService* unary_methods() { return &unary_; }

  grpc::ServerReadReactor<durable::v1::WriteChunk>* WriteStream(
      grpc::CallbackServerContext* context,
      durable::v1::WriteResponse* response) override;
  grpc::ServerReadReactor<durable::v1::WriteSetChunk>* WriteSet(
      grpc::CallbackServerContext* context,
      durable::v1::WriteSetResponse* response) override;

  // The unary methods, each started on a worker thread by the dispatcher.
  // A write is answered through `reply` once the commit queue has
  // committed it (or it failed before).
  void ServeWrite(grpc::CallbackServerContext* context,
                  const durable::v1::WriteRequest& request,
                  durable::v1::WriteResponse* response,
                  std::function<void(grpc::Status)> reply);
  grpc::Status ServeStat(grpc::CallbackServerContext* context,
                         const durable::v1::StatRequest& request,
                         durable::v1::StatResponse* response);
  grpc::Status ServeRemove(grpc::CallbackServerContext* context,
                           const durable::v1::RemoveRequest& request,
                           durable::v1::RemoveResponse* response);
  grpc::Status ServeWhoAmI(grpc::CallbackServerContext* context,
                           const durable::v1::WhoAmIRequest& request,
                           durable::v1::WhoAmIResponse* response);
  grpc::Status ServeGetStats(grpc::CallbackServerContext* context,
                             const durable::v1::GetStatsRequest& request,
                             durable::v1::GetStatsResponse* response);

 private:
  // Audit log and metrics for one finished write or remove.
  void Account(absl::string_view operation, const PeerCredentials& caller,
               absl::string_view path, uint64_t bytes,
               const absl::Status& status, absl::Time start,
               absl::Span<const std::string> members = {}) const;

  const WriteDependencies deps_;
  const PeerRegistry* const peers_;
  WorkerPool* const workers_;
  StreamWatchdog* const watchdog_;
  CallObserver* const observer_;
  const ServiceLimits limits_;
  UnaryDispatcher unary_;
};

}  // namespace durable

#endif  // DURABLED_SERVER_SERVICE_DURABLE_SERVICE_H_
