#include "server/service/write_stream_reactor.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/service/rpc_conversions.h"

namespace durable {

WriteStreamReactor::WriteStreamReactor(
    const WriteDependencies& deps, WorkerPool* workers,
    StreamWatchdog* watchdog, absl::Duration idle_timeout,
    grpc::CallbackServerContext* context, const PeerCredentials& caller,
    durable::v1::WriteResponse* response, StreamOutcome on_outcome)
    : deps_(deps),
      workers_(workers),
      watchdog_(watchdog),
      context_(context),
      caller_(caller),
      response_(response),
      on_outcome_(std::move(on_outcome)) {
  watch_id_ = watchdog_->Watch(idle_timeout, [this] { OnIdle(); });
  StartRead(&chunk_);
}

void WriteStreamReactor::OnReadDone(bool ok) {
  watchdog_->Suspend(watch_id_);
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    busy_ = true;
  }
  // Everything that follows may touch the disk (staging, appending, or
  // removing the temp file of a stream that ended early): on a worker, in
  // the caller's turn, never on gRPC's thread.
  workers_->Submit(caller_.uid, [this, ok] { HandleReadOnWorker(ok); });
}

void WriteStreamReactor::HandleReadOnWorker(bool ok) {
  if (!ok) {
    bool cancelled;
    {
      absl::MutexLock lock(&mu_);
      cancelled = cancelled_;
    }
    if (cancelled || context_->IsCancelled()) {
      FinishWith(absl::CancelledError(
          "the client cancelled the stream; nothing was published"));
    } else {
      FinishWith(absl::AbortedError(
          "the stream ended without a finish message; nothing was "
          "published"));
    }
    return;
  }
  if (operation_ == nullptr) {
    if (!chunk_.has_header()) {
      FinishWith(absl::InvalidArgumentError(
          "the first message of a WriteStream must carry the header"));
      return;
    }
    path_ = chunk_.header().path();
    absl::StatusOr<std::unique_ptr<WriteOperation>> operation =
        WriteOperation::Begin(
            deps_, caller_, path_, chunk_.header().options(), {},
            chunk_.header().has_size()
                ? std::optional<uint64_t>(chunk_.header().size())
                : std::nullopt);
    if (!operation.ok()) {
      FinishWith(operation.status());
      return;
    }
    operation_ = *std::move(operation);
  } else if (chunk_.has_header()) {
    FinishWith(absl::InvalidArgumentError(
        "only the first message of a WriteStream may carry a header"));
    return;
  }
  ConsumeChunk();
}

void WriteStreamReactor::ConsumeChunk() {
  absl::Status appended = operation_->Append(chunk_.data());
  if (!appended.ok()) {
    FinishWith(appended);
    return;
  }
  if (chunk_.finish()) {
    chunk_.Clear();
    Commit();
    return;
  }
  ReadNext();
}

void WriteStreamReactor::Commit() {
  bool cancelled;
  {
    // A cancel that arrived after `finish` still stops the publish if it
    // comes before this point; after it, the call may report CANCELLED for
    // a write that happened (see the proto).
    absl::MutexLock lock(&mu_);
    cancelled = cancelled_;
  }
  if (cancelled) {
    FinishWith(absl::CancelledError(
        "the client cancelled the stream; nothing was published"));
    return;
  }
  // Checked again right before the rename: a cancel or the call's deadline
  // during the wait in the commit queue or the flush still stops it.
  operation_->Commit(
      [this] {
        {
          absl::MutexLock lock(&mu_);
          if (cancelled_) return true;
        }
        return CallIsGone(*context_);
      },
      [this](absl::StatusOr<CommitResult> result) {
        if (result.ok()) FillWriteResponse(*result, response_);
        FinishWith(result.status());
      });
}

void WriteStreamReactor::ReadNext() {
  {
    absl::MutexLock lock(&mu_);
    if (!cancelled_) {
      busy_ = false;
      watchdog_->Touch(watch_id_);
      StartRead(&chunk_);
      return;
    }
  }
  FinishWith(absl::CancelledError(
      "the client cancelled the stream; nothing was published"));
}

void WriteStreamReactor::OnIdle() {
  {
    // A read that completes from now on sees `finished_` and leaves the
    // stream to us.
    absl::MutexLock lock(&mu_);
    if (busy_ || finished_) return;
    finished_ = true;
  }
  FinishWith(absl::DeadlineExceededError(
      absl::StrCat("the stream sent nothing for longer than the idle timeout; "
                   "nothing was published")));
}

void WriteStreamReactor::OnCancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
}

void WriteStreamReactor::FinishWith(const absl::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    finished_ = true;
    busy_ = false;
  }
  const uint64_t bytes = operation_ != nullptr ? operation_->size() : 0;
  on_outcome_(path_, bytes, status);
  // Done with the write's files now, not at OnDone (a gRPC thread): the
  // temp file, or the old content a replace displaced, goes at once, on
  // this thread. The operation itself (its admission ticket) lives until
  // OnDone, so that a drain waits until the answer is out.
  if (operation_ != nullptr) operation_->Close();
  if (status.ok()) {
    Finish(grpc::Status::OK);
  } else {
    // Worded as every RPC words its errors: the path escaped and bounded.
    Finish(ToGrpcStatus(status, path_.empty() ? "WriteStream" : path_));
  }
}

void WriteStreamReactor::OnDone() {
  watchdog_->Forget(watch_id_);
  delete this;
}

}  // namespace durable
