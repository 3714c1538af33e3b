#ifndef DURABLED_SERVER_DURABLE_SERVICE_H_
#define DURABLED_SERVER_DURABLE_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "durable/v1/durable.grpc.pb.h"
#include "server/metrics.h"
#include "server/peer_registry.h"
#include "server/stream_watchdog.h"
#include "server/worker_pool.h"
#include "server/write_operation.h"

namespace durable {

struct ServiceLimits {
  absl::Duration stream_idle_timeout = absl::Seconds(30);
};

// The gRPC face of durabled: finds the caller of each call in the
// PeerRegistry, runs the operation under the current policy, answers and
// audits. WriteStream is served by a callback reactor (so that idle streams
// can be ended with a proper status); the other methods are synchronous.
// Holds no state of its own beyond the collaborators main wires in.
class DurableService final
    : public durable::v1::DurableWriter::WithCallbackMethod_WriteStream<
          durable::v1::DurableWriter::Service> {
 public:
  DurableService(const WriteDependencies& deps, const PeerRegistry* peers,
                 WorkerPool* workers, StreamWatchdog* watchdog,
                 Metrics* metrics, const ServiceLimits& limits)
      : deps_(deps),
        peers_(peers),
        workers_(workers),
        watchdog_(watchdog),
        metrics_(metrics),
        limits_(limits) {}

  grpc::Status Write(grpc::ServerContext* context,
                     const durable::v1::WriteRequest* request,
                     durable::v1::WriteResponse* response) override;
  grpc::ServerReadReactor<durable::v1::WriteChunk>* WriteStream(
      grpc::CallbackServerContext* context,
      durable::v1::WriteResponse* response) override;
  grpc::Status Stat(grpc::ServerContext* context,
                    const durable::v1::StatRequest* request,
                    durable::v1::StatResponse* response) override;
  grpc::Status Remove(grpc::ServerContext* context,
                      const durable::v1::RemoveRequest* request,
                      durable::v1::RemoveResponse* response) override;
  grpc::Status WhoAmI(grpc::ServerContext* context,
                      const durable::v1::WhoAmIRequest* request,
                      durable::v1::WhoAmIResponse* response) override;
  grpc::Status GetStats(grpc::ServerContext* context,
                        const durable::v1::GetStatsRequest* request,
                        durable::v1::GetStatsResponse* response) override;

 private:
  // Audit log and metrics for one finished write or remove.
  void Account(absl::string_view operation, const PeerCredentials& caller,
               absl::string_view path, uint64_t bytes,
               const absl::Status& status, absl::Time start) const;

  const WriteDependencies deps_;
  const PeerRegistry* const peers_;
  WorkerPool* const workers_;
  StreamWatchdog* const watchdog_;
  Metrics* const metrics_;
  const ServiceLimits limits_;
};

}  // namespace durable

#endif  // DURABLED_SERVER_DURABLE_SERVICE_H_
