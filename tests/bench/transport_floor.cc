#include "tests/bench/transport_floor.h"

#include <errno.h>

#include <chrono>
#include <memory>
#include <thread>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "durable/v1/durable.grpc.pb.h"
#include "tests/bench/bench_util.h"
#include "tests/bench/replace_cycle.h"
#include "tests/bench/workers.h"

namespace durable::bench {
namespace {

// How long Stop lets a call still in flight finish before cancelling it.
constexpr absl::Duration kShutdownGrace = absl::Seconds(5);

// One Write: requested from the server, then answered.
struct Call {
  grpc::ServerContext context;
  v1::WriteRequest request;
  v1::WriteResponse response;
  grpc::ServerAsyncResponseWriter<v1::WriteResponse> responder{&context};
  bool answered = false;
};

// The ideal server: the generated async service and one thread polling its
// completion queue, which does each write itself.
class IdealServer {
 public:
  static absl::StatusOr<std::unique_ptr<IdealServer>> Start(
      const std::string& socket_path, const std::string& dir);

  // Stops the server: Shutdown, then the completion queue's; the polling
  // thread drains it and is joined (a server that never started: drained
  // here).
  ~IdealServer();
  IdealServer(const IdealServer&) = delete;
  IdealServer& operator=(const IdealServer&) = delete;

 private:
  explicit IdealServer(ScopedFd dir) : dir_(std::move(dir)) {}

  // Asks for the next Write; its tag comes back from the queue.
  void RequestWrite();
  void Poll();
  // Runs the cycle for `call` and finishes it.
  void Answer(Call* call);

  const ScopedFd dir_;
  v1::DurableWriter::AsyncService service_;
  std::unique_ptr<grpc::ServerCompletionQueue> queue_;
  std::unique_ptr<grpc::Server> server_;
  std::thread poller_;
};

absl::StatusOr<std::unique_ptr<IdealServer>> IdealServer::Start(
    const std::string& socket_path, const std::string& dir) {
  ScopedFd dir_fd(OpenDirectory(dir));
  if (dir_fd.get() < 0) return ErrnoStatus(absl::StrCat("open ", dir), errno);
  std::unique_ptr<IdealServer> server(new IdealServer(std::move(dir_fd)));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("unix:", socket_path),
                           grpc::InsecureServerCredentials());
  builder.RegisterService(&server->service_);
  server->queue_ = builder.AddCompletionQueue();
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr) {
    return absl::InternalError(
        absl::StrCat("ideal gRPC server cannot listen on unix:", socket_path));
  }
  server->poller_ = std::thread([raw = server.get()] { raw->Poll(); });
  return server;
}

IdealServer::~IdealServer() {
  if (server_ != nullptr) {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + kShutdownGrace));
  }
  if (queue_ == nullptr) return;
  queue_->Shutdown();
  if (poller_.joinable()) {
    poller_.join();
    return;
  }
  // Not started (BuildAndStart failed): drain the queue here.
  void* tag = nullptr;
  bool ok = false;
  while (queue_->Next(&tag, &ok)) {
  }
}

void IdealServer::RequestWrite() {
  auto* call = new Call;
  service_.RequestWrite(&call->context, &call->request, &call->responder,
                        queue_.get(), queue_.get(), call);
}

void IdealServer::Poll() {
  RequestWrite();
  void* tag = nullptr;
  bool ok = false;
  while (queue_->Next(&tag, &ok)) {
    auto* call = static_cast<Call*>(tag);
    // Not ok: the server shut down before a Write came, or the answer
    // could not be sent. Answered: its Finish completed.
    if (!ok || call->answered) {
      delete call;
      continue;
    }
    RequestWrite();
    Answer(call);
  }
}

void IdealServer::Answer(Call* call) {
  call->answered = true;
  const std::string& leaf = call->request.path();
  grpc::Status status;
  if (leaf.empty() || leaf.find('/') != std::string::npos) {
    status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "path must be one name in the server's directory");
  } else {
    const CycleError error =
        ReplaceDurably(dir_.get(), leaf, absl::StrCat(".", leaf, ".tmp"),
                       call->request.data());
    if (error.failed()) {
      status = grpc::Status(grpc::StatusCode::INTERNAL, error.ToString());
    } else {
      call->response.set_size(call->request.data().size());
    }
  }
  call->responder.Finish(call->response, status, call);
}

// The one client: the generated sync stub on one channel, rewriting the
// target worker 0 has in every other side.
WorkerFactory StubWorker(const std::string& socket_path) {
  return [socket_path](int worker) -> absl::StatusOr<WriteStep> {
    std::shared_ptr<v1::DurableWriter::Stub> stub = v1::DurableWriter::NewStub(
        grpc::CreateChannel(absl::StrCat("unix:", socket_path),
                            grpc::InsecureChannelCredentials()));
    auto content = std::make_shared<StampedContent>(worker);
    const std::string leaf = TargetLayout{"", false}.Leaf(worker);
    return [stub, content, leaf]() -> absl::StatusOr<int> {
      v1::WriteRequest request;
      request.set_path(leaf);
      const std::string_view data = content->Next();
      request.set_data(data.data(), data.size());
      v1::WriteResponse response;
      grpc::ClientContext context;
      const grpc::Status status = stub->Write(&context, request, &response);
      if (!status.ok()) {
        return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                            status.error_message());
      }
      if (response.size() != data.size()) {
        return absl::DataLossError(absl::StrCat("ideal server wrote ",
                                                response.size(), " bytes, not ",
                                                data.size()));
      }
      return 1;
    };
  };
}

}  // namespace

Measurement MeasureTransportFloor(const TransportFloorSetup& setup) {
  absl::StatusOr<std::unique_ptr<IdealServer>> server =
      IdealServer::Start(setup.socket_path, setup.dir);
  if (!server.ok()) {
    Measurement failed;
    failed.side = kTransportFloorSide;
    failed.AddError(server.status());
    return failed;
  }
  const TimedRun run{kTransportFloorSide, 1, setup.duration, kSmallWriteBytes,
                     /*daemon_pid=*/0};
  Measurement measurement = MeasureWorkers(run, StubWorker(setup.socket_path));
  server->reset();
  return measurement;
}

}  // namespace durable::bench
