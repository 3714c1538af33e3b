#include "server/service/write_stream_reactor.h"

#include <optional>

namespace durable {

WriteStreamReactor::WriteStreamReactor(
    const WriteDependencies& deps, WorkerPool* workers,
    StreamWatchdog* watchdog, absl::Duration idle_timeout,
    grpc::CallbackServerContext* context, const PeerCredentials& caller,
    durable::v1::WriteResponse* response, StreamOutcome on_outcome)
    : UploadStreamReactor(workers, watchdog, idle_timeout, context, caller.uid),
      deps_(deps),
      caller_(caller),
      response_(response),
      on_outcome_(std::move(on_outcome)) {
  Start();
}

void WriteStreamReactor::HandleMessage() {
  const durable::v1::WriteChunk& message = chunk();
  if (operation_ == nullptr) {
    if (!message.has_header()) {
      FinishWith(absl::InvalidArgumentError(
          "the first message of a WriteStream must carry the header"));
      return;
    }
    path_ = message.header().path();
    absl::StatusOr<std::unique_ptr<WriteOperation>> operation =
        WriteOperation::Begin(
            deps_, caller_, path_, message.header().options(), {},
            message.header().has_size()
                ? std::optional<uint64_t>(message.header().size())
                : std::nullopt);
    if (!operation.ok()) {
      FinishWith(operation.status());
      return;
    }
    operation_ = *std::move(operation);
  } else if (message.has_header()) {
    FinishWith(absl::InvalidArgumentError(
        "only the first message of a WriteStream may carry a header"));
    return;
  }
  ConsumeChunk();
}

void WriteStreamReactor::ConsumeChunk() {
  absl::Status appended = operation_->Append(chunk().data());
  if (!appended.ok()) {
    FinishWith(appended);
    return;
  }
  if (chunk().finish()) {
    chunk().Clear();
    Commit();
    return;
  }
  ReadNext();
}

void WriteStreamReactor::Commit() {
  // A cancel that arrived after `finish` still stops the publish if it
  // comes before this point; after it, the call may report CANCELLED for a
  // write that happened (see the proto).
  if (cancelled()) {
    FinishWith(CancelledStatus());
    return;
  }
  // Checked again right before the rename: a cancel or the call's deadline
  // during the wait in the commit queue or the flush still stops it.
  operation_->Commit(Abandon(), [this](absl::StatusOr<CommitResult> result) {
    if (result.ok()) FillWriteResponse(*result, response_);
    FinishWith(result.status());
  });
}

void WriteStreamReactor::OnFinishing(const absl::Status& status) {
  const uint64_t bytes = operation_ != nullptr ? operation_->size() : 0;
  on_outcome_(path_, bytes, status);
  // Done with the write's files now, not at OnDone (a gRPC thread): the
  // temp file, or the old content a replace displaced, goes at once, on
  // this thread. The operation itself (its admission ticket) lives until
  // OnDone, so that a drain waits until the answer is out.
  if (operation_ != nullptr) operation_->Close();
}

std::string WriteStreamReactor::ErrorSubject() const {
  // Worded as every RPC words its errors: the path escaped and bounded.
  return path_.empty() ? "WriteStream" : path_;
}

}  // namespace durable
