#ifndef DURABLED_SERVER_SERVICE_WRITE_STREAM_REACTOR_H_
#define DURABLED_SERVER_SERVICE_WRITE_STREAM_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "durable/v1/durable.pb.h"
#include "server/base/peer_credentials.h"
#include "server/service/stream_watchdog.h"
#include "server/service/worker_pool.h"
#include "server/service/write_operation.h"

namespace durable {

// Called once per stream with its outcome, for the audit log.
using StreamOutcome = std::function<void(const std::string& path,
                                         uint64_t bytes, const absl::Status&)>;

// Serves one WriteStream call: header first, then data chunks appended as
// they arrive (one read outstanding at a time, so gRPC's flow control
// bounds memory), and on the `finish` message a commit through the commit
// queue. Every reaction to a read runs on the worker pool in the caller's
// turn (resolution, staging and appends touch the disk). A stream that ends in any
// other way (half-close without finish, cancel, idle timeout, size limit)
// publishes nothing; the WriteOperation's destructor removes the temp file.
// Deletes itself when gRPC is done with the call.
//
// Lifetime rules this relies on: nothing touches `this` after FinishWith,
// WorkerPool::Submit, WriteOperation::Commit or ReadNext (each may lead to OnDone on another
// thread); ReadNext calls StartRead under `mu_`, so that OnIdle cannot
// finish the call between releasing `busy_` and the read being queued.
class WriteStreamReactor final
    : public grpc::ServerReadReactor<durable::v1::WriteChunk> {
 public:
  WriteStreamReactor(const WriteDependencies& deps, WorkerPool* workers,
                     StreamWatchdog* watchdog, absl::Duration idle_timeout,
                     grpc::CallbackServerContext* context,
                     const PeerCredentials& caller,
                     durable::v1::WriteResponse* response,
                     StreamOutcome on_outcome);

  void OnReadDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // Worker task for each completed read: ends a broken stream, or resolves
  // and stages from the header, then consumes the message.
  void HandleReadOnWorker(bool ok);
  // Appends chunk_.data; on `finish` commits, else reads on. Runs while
  // busy.
  void ConsumeChunk();
  // Hands the content to the commit queue, whose answer ends the call.
  void Commit();
  // Releases `busy_` and asks for the next message (or ends a cancelled
  // stream). The caller's last touch of `this`.
  void ReadNext() ABSL_LOCKS_EXCLUDED(mu_);
  void OnIdle() ABSL_LOCKS_EXCLUDED(mu_);
  // Ends the call with `status`. The caller's last touch of `this`.
  void FinishWith(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);

  const WriteDependencies deps_;
  WorkerPool* const workers_;
  StreamWatchdog* const watchdog_;
  StreamWatchdog::Id watch_id_;
  grpc::CallbackServerContext* const context_;
  const PeerCredentials caller_;
  durable::v1::WriteResponse* const response_;
  const StreamOutcome on_outcome_;

  durable::v1::WriteChunk chunk_;
  std::string path_;  // from the header, for errors and the audit log
  std::unique_ptr<WriteOperation> operation_;

  // Exactly one party at a time acts on the stream: a reaction to a read,
  // or the worker task it handed over to, holds `busy_`; the idle callback
  // acts only when nobody is busy. A cancel only marks the stream, since a
  // pending read or the busy party notices it.
  absl::Mutex mu_;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace durable

#endif  // DURABLED_SERVER_SERVICE_WRITE_STREAM_REACTOR_H_
