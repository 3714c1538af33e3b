#ifndef DURABLED_SERVER_SERVICE_UNARY_CALL_REACTOR_H_
#define DURABLED_SERVER_SERVICE_UNARY_CALL_REACTOR_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/service/stream_watchdog.h"
#include "server/service/worker_pool.h"

namespace durable {

// Ends a unary call: with `status`, and if it is OK with the response bytes
// the handler filled in. Call exactly once, from any thread.
using UnaryReply = std::function<void(const grpc::Status& status)>;

// The work of one unary method: turns the request bytes into the response
// bytes (or an error status) and then calls `reply`, now or later from
// another thread (a write is answered by the commit queue). Starts on a
// WorkerPool thread, so it may block (filesystem I/O). `context`,
// `request` and `response` stay valid until `reply` is called; `request`
// may be consumed.
using UnaryHandler = std::function<void(
    grpc::CallbackServerContext* context, grpc::ByteBuffer* request,
    grpc::ByteBuffer* response, UnaryReply reply)>;

// The tenant (caller uid) whose turn on the worker pool a call waits for.
using TenantOf =
    std::function<uint64_t(const grpc::CallbackServerContext& context)>;

// Serves one unary call that arrived through the generic service: gRPC
// hands it over as soon as the call's headers arrived, before its message.
// The reactor then reads exactly one request message; if that has not
// fully arrived within `arrival_timeout` of the call's start, the call is
// ended with DEADLINE_EXCEEDED and nothing runs. Once it has arrived, the
// handler runs on the worker pool and its answer ends the call. Never
// blocks a gRPC callback thread. Deletes itself when gRPC is done with the
// call.
//
// Exactly one of {the read completion, the arrival timeout} decides the
// call (under `mu_`); nothing touches `this` after Finish or
// StartWriteAndFinish except OnDone.
class UnaryCallReactor final : public grpc::ServerGenericBidiReactor {
 public:
  UnaryCallReactor(const UnaryHandler* handler, const TenantOf* tenant_of,
                   WorkerPool* workers, StreamWatchdog* watchdog,
                   absl::Duration arrival_timeout,
                   grpc::CallbackServerContext* context);

  void OnReadDone(bool ok) override;
  void OnDone() override;

 private:
  void OnArrivalTimeout() ABSL_LOCKS_EXCLUDED(mu_);
  // Worker task: runs the handler, which answers.
  void HandleOnWorker();
  void Reply(const grpc::Status& status);

  const UnaryHandler* const handler_;  // owned by the dispatcher
  const TenantOf* const tenant_of_;    // owned by the dispatcher
  WorkerPool* const workers_;
  StreamWatchdog* const watchdog_;
  const absl::Duration arrival_timeout_;
  grpc::CallbackServerContext* const context_;
  StreamWatchdog::Id watch_id_ = 0;

  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;

  absl::Mutex mu_;
  bool decided_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace durable

#endif  // DURABLED_SERVER_SERVICE_UNARY_CALL_REACTOR_H_
