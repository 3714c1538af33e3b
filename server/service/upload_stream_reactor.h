#ifndef DURABLED_SERVER_SERVICE_UPLOAD_STREAM_REACTOR_H_
#define DURABLED_SERVER_SERVICE_UPLOAD_STREAM_REACTOR_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/service/rpc_conversions.h"
#include "server/service/stream_watchdog.h"
#include "server/service/worker_pool.h"

namespace durable {

// The stream handling shared by the client-streaming uploads (WriteStream,
// WriteSet): one read outstanding at a time (so gRPC's flow control bounds
// memory), every reaction to a read on the worker pool in the caller's
// turn (it touches the disk), an idle timeout, and a cancel that stops
// whatever has not been published. A subclass consumes the messages
// (HandleMessage) and owns the operation; the reactor deletes itself when
// gRPC is done with the call.
//
// Lifetime rules this relies on: nothing touches `this` after FinishWith,
// WorkerPool::Submit, handing over to a commit, or ReadNext (each may lead
// to OnDone on another thread); ReadNext calls StartRead under `mu_`, so
// that OnIdle cannot finish the call between releasing `busy_` and the
// read being queued.
template <typename Chunk>
class UploadStreamReactor : public grpc::ServerReadReactor<Chunk> {
 public:
  void OnReadDone(bool ok) final {
    watchdog_->Suspend(watch_id_);
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      busy_ = true;
    }
    workers_->Submit(turn_, [this, ok] { HandleReadOnWorker(ok); });
  }

  void OnCancel() final {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }

  void OnDone() final {
    watchdog_->Forget(watch_id_);
    delete this;
  }

 protected:
  UploadStreamReactor(WorkerPool* workers, StreamWatchdog* watchdog,
                      absl::Duration idle_timeout,
                      grpc::CallbackServerContext* context, uid_t turn)
      : workers_(workers),
        watchdog_(watchdog),
        idle_timeout_(idle_timeout),
        context_(context),
        turn_(turn) {}
  virtual ~UploadStreamReactor() = default;

  // Call last in the subclass's constructor: from here on the callbacks
  // may run.
  void Start() {
    watch_id_ = watchdog_->Watch(idle_timeout_, [this] { OnIdle(); });
    this->StartRead(&chunk_);
  }

  // Consumes chunk() on a worker, while busy; must end in ReadNext,
  // FinishWith, or a commit whose answer calls FinishWith.
  virtual void HandleMessage() = 0;
  // Right before the call is finished with `status`: audit, and remove
  // what an unpublished operation left on disk.
  virtual void OnFinishing(const absl::Status& status) = 0;
  // What error messages are prefixed with (see ToGrpcStatus).
  virtual std::string ErrorSubject() const = 0;

  Chunk& chunk() { return chunk_; }
  grpc::CallbackServerContext* context() const { return context_; }

  bool cancelled() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }

  // For a commit: whether it should no longer publish (cancelled, or the
  // deadline passed). Valid until FinishWith.
  std::function<bool()> Abandon() {
    return [this] { return cancelled() || CallIsGone(*context_); };
  }

  // Releases `busy_` and asks for the next message (or ends a cancelled
  // stream). The caller's last touch of `this`.
  void ReadNext() ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      if (!cancelled_) {
        busy_ = false;
        watchdog_->Touch(watch_id_);
        this->StartRead(&chunk_);
        return;
      }
    }
    FinishWith(CancelledStatus());
  }

  // Ends the call with `status`. The caller's last touch of `this`.
  void FinishWith(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      finished_ = true;
      busy_ = false;
    }
    OnFinishing(status);
    this->Finish(ToGrpcStatus(status, ErrorSubject()));
  }

  static absl::Status CancelledStatus() {
    return absl::CancelledError(
        "the client cancelled the stream; nothing was published");
  }

 private:
  // Ends a broken stream, or hands the message to the subclass.
  void HandleReadOnWorker(bool ok) {
    if (ok) {
      HandleMessage();
      return;
    }
    if (cancelled() || context_->IsCancelled()) {
      FinishWith(CancelledStatus());
    } else {
      FinishWith(absl::AbortedError(
          "the stream ended without a finish message; nothing was "
          "published"));
    }
  }

  void OnIdle() ABSL_LOCKS_EXCLUDED(mu_) {
    {
      // A read that completes from now on sees `finished_` and leaves the
      // stream to us.
      absl::MutexLock lock(&mu_);
      if (busy_ || finished_) return;
      finished_ = true;
    }
    FinishWith(absl::DeadlineExceededError(
        "the stream sent nothing for longer than the idle timeout; nothing "
        "was published"));
  }

  WorkerPool* const workers_;
  StreamWatchdog* const watchdog_;
  const absl::Duration idle_timeout_;
  StreamWatchdog::Id watch_id_{};
  grpc::CallbackServerContext* const context_;
  const uid_t turn_;
  Chunk chunk_;

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

#endif  // DURABLED_SERVER_SERVICE_UPLOAD_STREAM_REACTOR_H_
