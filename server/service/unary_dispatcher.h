#ifndef DURABLED_SERVER_SERVICE_UNARY_DISPATCHER_H_
#define DURABLED_SERVER_SERVICE_UNARY_DISPATCHER_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>

#include "absl/container/node_hash_map.h"
#include "absl/time/time.h"
#include "server/service/stream_watchdog.h"
#include "server/service/unary_call_reactor.h"
#include "server/service/worker_pool.h"

namespace durable {

// Serves the daemon's unary methods as a gRPC callback generic service, so
// that each call is in the daemon's hands from its headers on: gRPC reads
// the whole message of a registered unary method before any handler runs,
// which would let a client hold a call (and its buffer) open by sending a
// message slowly. Methods are registered by full name
// ("/package.Service/Method") before the server starts; each call of one is
// served by a UnaryCallReactor (arrival timeout, handler on the worker
// pool). Any other method name gets UNIMPLEMENTED.
//
// Register the service's methods with the generated WithGenericMethod_*
// wrappers so that gRPC routes them here.
class UnaryDispatcher final : public grpc::CallbackGenericService {
 public:
  UnaryDispatcher(WorkerPool* workers, StreamWatchdog* watchdog,
                  absl::Duration arrival_timeout)
      : workers_(workers),
        watchdog_(watchdog),
        arrival_timeout_(arrival_timeout) {}

  // Not thread-safe: call before the server starts.
  void Register(const std::string& method, UnaryHandler handler);

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override;

 private:
  WorkerPool* const workers_;
  StreamWatchdog* const watchdog_;
  const absl::Duration arrival_timeout_;
  absl::node_hash_map<std::string, UnaryHandler> handlers_;  // stable addresses
};

// Adapts a typed handler: parses the request (INTERNAL if it does not
// parse, as gRPC answers for registered methods), runs `typed`, serializes
// its response.
template <typename Request, typename Response>
UnaryHandler TypedUnaryHandler(
    std::function<grpc::Status(grpc::CallbackServerContext*, const Request&,
                               Response*)>
        typed) {
  return [typed = std::move(typed)](grpc::CallbackServerContext* context,
                                    grpc::ByteBuffer* request_bytes,
                                    grpc::ByteBuffer* response_bytes) {
    Request request;
    grpc::Status parsed = grpc::SerializationTraits<Request>::Deserialize(
        request_bytes, &request);
    if (!parsed.ok()) return parsed;
    Response response;
    grpc::Status status = typed(context, request, &response);
    if (!status.ok()) return status;
    bool own_buffer = false;
    return grpc::SerializationTraits<Response>::Serialize(
        response, response_bytes, &own_buffer);
  };
}

}  // namespace durable

#endif  // DURABLED_SERVER_SERVICE_UNARY_DISPATCHER_H_
