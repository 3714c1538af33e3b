#ifndef DURABLED_SERVER_SERVICE_SET_STREAM_REACTOR_H_
#define DURABLED_SERVER_SERVICE_SET_STREAM_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "durable/v1/durable.pb.h"
#include "server/base/peer_credentials.h"
#include "server/service/set_operation.h"
#include "server/service/upload_stream_reactor.h"

namespace durable {

// Called once per set with its outcome, for the audit log: the members'
// paths as sent (none if the header never arrived or was refused before
// it was read), the content's bytes received.
using SetOutcome = std::function<void(const std::vector<std::string>& paths,
                                      uint64_t bytes, const absl::Status&)>;

// Serves one WriteSet call: the header begins a SetOperation (every member
// checked and staged), data chunks fill the write members in order, and
// the `finish` message commits the set. A stream that ends in any other
// way publishes nothing.
class SetStreamReactor final
    : public UploadStreamReactor<durable::v1::WriteSetChunk> {
 public:
  SetStreamReactor(const WriteDependencies& deps, const SetLimits& limits,
                   WorkerPool* workers, StreamWatchdog* watchdog,
                   absl::Duration idle_timeout,
                   grpc::CallbackServerContext* context,
                   const PeerCredentials& caller,
                   durable::v1::WriteSetResponse* response,
                   SetOutcome on_outcome);

 private:
  void HandleMessage() override;
  void OnFinishing(const absl::Status& status) override;
  std::string ErrorSubject() const override { return ""; }

  const WriteDependencies deps_;
  const SetLimits limits_;
  const PeerCredentials caller_;
  durable::v1::WriteSetResponse* const response_;
  const SetOutcome on_outcome_;

  std::vector<std::string> paths_;  // of a header that was read
  std::unique_ptr<SetOperation> operation_;
};

}  // namespace durable

#endif  // DURABLED_SERVER_SERVICE_SET_STREAM_REACTOR_H_
