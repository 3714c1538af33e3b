#include "server/service/unary_call_reactor.h"

#include "absl/strings/str_cat.h"

namespace durable {

UnaryCallReactor::UnaryCallReactor(const UnaryHandler* handler,
                                   const TenantOf* tenant_of,
                                   WorkerPool* workers,
                                   StreamWatchdog* watchdog,
                                   absl::Duration arrival_timeout,
                                   grpc::CallbackServerContext* context)
    : handler_(handler),
      tenant_of_(tenant_of),
      workers_(workers),
      watchdog_(watchdog),
      arrival_timeout_(arrival_timeout),
      context_(context) {
  watch_id_ =
      watchdog_->Watch(arrival_timeout_, [this] { OnArrivalTimeout(); });
  StartRead(&request_);
}

void UnaryCallReactor::OnReadDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    if (decided_) return;  // the arrival timeout ended the call
    decided_ = true;
  }
  watchdog_->Suspend(watch_id_);
  if (!ok) {
    // The client half-closed without a message, or the call is gone (its
    // own cancel, its deadline, or a message gRPC refused, e.g. over the
    // size limit: that status has already been sent).
    if (context_->IsCancelled()) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED,
                          "the call ended before its request arrived"));
    } else {
      Finish(grpc::Status(grpc::StatusCode::INTERNAL,
                          "the call carried no request message"));
    }
    return;
  }
  workers_->Submit((*tenant_of_)(*context_), [this] { HandleOnWorker(); });
}

void UnaryCallReactor::HandleOnWorker() {
  (*handler_)(context_, &request_, &response_,
              [this](const grpc::Status& status) { Reply(status); });
}

void UnaryCallReactor::Reply(const grpc::Status& status) {
  request_.Clear();
  if (!status.ok()) {
    Finish(status);
    return;
  }
  StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
}

void UnaryCallReactor::OnArrivalTimeout() {
  {
    absl::MutexLock lock(&mu_);
    if (decided_) return;
    decided_ = true;
  }
  Finish(
      grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                   absl::StrCat("the request did not arrive within ",
                                absl::ToInt64Milliseconds(arrival_timeout_),
                                " ms of the call's start; nothing was done")));
}

void UnaryCallReactor::OnDone() {
  watchdog_->Forget(watch_id_);
  delete this;
}

}  // namespace durable
