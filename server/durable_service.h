#ifndef DURABLED_SERVER_DURABLE_SERVICE_H_
#define DURABLED_SERVER_DURABLE_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "durable/v1/durable.grpc.pb.h"
#include "server/durable_writer.h"
#include "server/file_system.h"
#include "server/peer_registry.h"
#include "server/policy_store.h"
#include "server/target_locks.h"

namespace durable {

// The gRPC face of durabled: finds the caller of each call in the
// PeerRegistry, resolves the target under the current policy, serialises
// per target, runs the write engine, answers and audits. Holds no state of
// its own beyond the collaborators main wires in.
class DurableService final : public durable::v1::DurableWriter::Service {
 public:
  DurableService(const PolicyStore* policies, const PeerRegistry* peers,
                 FileSystem* fs, TargetLocks* locks)
      : policies_(policies),
        peers_(peers),
        fs_(fs),
        locks_(locks),
        writer_(fs) {}

  grpc::Status Write(grpc::ServerContext* context,
                     const durable::v1::WriteRequest* request,
                     durable::v1::WriteResponse* response) override;

 private:
  const PolicyStore* const policies_;
  const PeerRegistry* const peers_;
  FileSystem* const fs_;
  TargetLocks* const locks_;
  DurableWriter writer_;
};

}  // namespace durable

#endif  // DURABLED_SERVER_DURABLE_SERVICE_H_
