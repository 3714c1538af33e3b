#include "server/service/set_stream_reactor.h"

namespace durable {

SetStreamReactor::SetStreamReactor(
    const WriteDependencies& deps, const SetLimits& limits, WorkerPool* workers,
    StreamWatchdog* watchdog, absl::Duration idle_timeout,
    grpc::CallbackServerContext* context, const PeerCredentials& caller,
    durable::v1::WriteSetResponse* response, SetOutcome on_outcome)
    : UploadStreamReactor(workers, watchdog, idle_timeout, context, caller.uid),
      deps_(deps),
      limits_(limits),
      caller_(caller),
      response_(response),
      on_outcome_(std::move(on_outcome)) {
  Start();
}

void SetStreamReactor::HandleMessage() {
  durable::v1::WriteSetChunk& message = chunk();
  if (operation_ == nullptr) {
    if (!message.has_header()) {
      FinishWith(absl::InvalidArgumentError(
          "the first message of a WriteSet must carry the header"));
      return;
    }
    for (const durable::v1::SetMember& member : message.header().members()) {
      if (paths_.size() >= limits_.max_members) break;  // refused below
      paths_.push_back(member.path());
    }
    absl::StatusOr<std::unique_ptr<SetOperation>> operation =
        SetOperation::Begin(deps_, limits_, caller_, message.header());
    if (!operation.ok()) {
      FinishWith(operation.status());
      return;
    }
    operation_ = *std::move(operation);
  } else if (message.has_header()) {
    FinishWith(absl::InvalidArgumentError(
        "only the first message of a WriteSet may carry a header"));
    return;
  }
  absl::Status appended = operation_->Append(message.data());
  if (!appended.ok()) {
    FinishWith(appended);
    return;
  }
  if (!message.finish()) {
    ReadNext();
    return;
  }
  message.Clear();
  if (cancelled()) {
    FinishWith(CancelledStatus());
    return;
  }
  operation_->Commit(
      Abandon(),
      [this](absl::StatusOr<std::vector<durable::v1::SetMemberResult>> done) {
        if (done.ok()) {
          for (durable::v1::SetMemberResult& member : *done) {
            *response_->add_members() = std::move(member);
          }
        }
        FinishWith(done.status());
      });
}

void SetStreamReactor::OnFinishing(const absl::Status& status) {
  on_outcome_(paths_, operation_ != nullptr ? operation_->bytes_received() : 0,
              status);
  if (operation_ != nullptr) operation_->Close();
}

}  // namespace durable
