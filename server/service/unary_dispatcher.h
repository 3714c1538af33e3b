#ifndef DURABLED_SERVER_SERVICE_UNARY_DISPATCHER_H_
#define DURABLED_SERVER_SERVICE_UNARY_DISPATCHER_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
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
                  absl::Duration arrival_timeout, TenantOf tenant_of)
      : workers_(workers),
        watchdog_(watchdog),
        arrival_timeout_(arrival_timeout),
        tenant_of_(std::move(tenant_of)) {}

  // Not thread-safe: call before the server starts.
  void Register(const std::string& method, UnaryHandler handler);

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override;

 private:
  WorkerPool* const workers_;
  StreamWatchdog* const watchdog_;
  const absl::Duration arrival_timeout_;
  const TenantOf tenant_of_;
  absl::node_hash_map<std::string, UnaryHandler> handlers_;  // stable addresses
};

// Adapts a typed handler that answers through `reply`, now or later: parses
// the request (INTERNAL if it does not parse, as gRPC answers for registered
// methods), runs `typed`, and on its reply serializes the response. Request
// and response live until the reply.
template <typename Request, typename Response>
UnaryHandler AsyncTypedUnaryHandler(
    std::function<void(grpc::CallbackServerContext*, const Request&, Response*,
                       std::function<void(grpc::Status)>)>
        typed) {
  return [typed = std::move(typed)](grpc::CallbackServerContext* context,
                                    grpc::ByteBuffer* request_bytes,
                                    grpc::ByteBuffer* response_bytes,
                                    UnaryReply reply) {
    struct Call {
      Request request;
      Response response;
    };
    auto call = std::make_shared<Call>();
    grpc::Status parsed = grpc::SerializationTraits<Request>::Deserialize(
        request_bytes, &call->request);
    if (!parsed.ok()) {
      reply(parsed);
      return;
    }
    typed(
        context, call->request, &call->response,
        [call, response_bytes, reply = std::move(reply)](grpc::Status status) {
          if (status.ok()) {
            bool own_buffer = false;
            status = grpc::SerializationTraits<Response>::Serialize(
                call->response, response_bytes, &own_buffer);
          }
          reply(status);
        });
  };
}

// The same for a handler that answers by returning.
template <typename Request, typename Response>
UnaryHandler TypedUnaryHandler(
    std::function<grpc::Status(grpc::CallbackServerContext*, const Request&,
                               Response*)>
        typed) {
  return AsyncTypedUnaryHandler<Request, Response>(
      [typed = std::move(typed)](grpc::CallbackServerContext* context,
                                 const Request& request, Response* response,
                                 std::function<void(grpc::Status)> reply) {
        reply(typed(context, request, response));
      });
}

}  // namespace durable

#endif  // DURABLED_SERVER_SERVICE_UNARY_DISPATCHER_H_
