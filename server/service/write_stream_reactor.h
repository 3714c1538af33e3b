#ifndef DURABLED_SERVER_SERVICE_WRITE_STREAM_REACTOR_H_
#define DURABLED_SERVER_SERVICE_WRITE_STREAM_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "durable/v1/durable.pb.h"
#include "server/base/peer_credentials.h"
#include "server/service/stream_watchdog.h"
#include "server/service/upload_stream_reactor.h"
#include "server/service/worker_pool.h"
#include "server/service/write_operation.h"

namespace durable {

// Called once per stream with its outcome, for the audit log.
using StreamOutcome = std::function<void(const std::string& path,
                                         uint64_t bytes, const absl::Status&)>;

// Serves one WriteStream call: the header resolves and stages, data chunks
// are appended as they arrive, and the `finish` message commits through
// the commit queue. A stream that ends in any other way (half-close
// without finish, cancel, idle timeout, size limit) publishes nothing; the
// WriteOperation removes the temp file.
class WriteStreamReactor final
    : public UploadStreamReactor<durable::v1::WriteChunk> {
 public:
  WriteStreamReactor(const WriteDependencies& deps, WorkerPool* workers,
                     StreamWatchdog* watchdog, absl::Duration idle_timeout,
                     grpc::CallbackServerContext* context,
                     const PeerCredentials& caller,
                     durable::v1::WriteResponse* response,
                     StreamOutcome on_outcome);

 private:
  void HandleMessage() override;
  void OnFinishing(const absl::Status& status) override;
  std::string ErrorSubject() const override;

  // Appends the chunk's data; on `finish` commits, else reads on.
  void ConsumeChunk();
  // Hands the content to the commit queue, whose answer ends the call.
  void Commit();

  const WriteDependencies deps_;
  const PeerCredentials caller_;
  durable::v1::WriteResponse* const response_;
  const StreamOutcome on_outcome_;

  std::string path_;  // from the header, for errors and the audit log
  std::unique_ptr<WriteOperation> operation_;
};

}  // namespace durable

#endif  // DURABLED_SERVER_SERVICE_WRITE_STREAM_REACTOR_H_
