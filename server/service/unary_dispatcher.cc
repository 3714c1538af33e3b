#include "server/service/unary_dispatcher.h"

#include "absl/strings/str_cat.h"

namespace durable {
namespace {

// Ends a call of a method nobody registered.
class UnimplementedReactor final : public grpc::ServerGenericBidiReactor {
 public:
  explicit UnimplementedReactor(const std::string& method) {
    Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        absl::StrCat("durabled has no method ", method)));
  }
  void OnDone() override { delete this; }
};

}  // namespace

void UnaryDispatcher::Register(const std::string& method,
                               UnaryHandler handler) {
  handlers_[method] = std::move(handler);
}

grpc::ServerGenericBidiReactor* UnaryDispatcher::CreateReactor(
    grpc::GenericCallbackServerContext* context) {
  auto it = handlers_.find(context->method());
  if (it == handlers_.end()) return new UnimplementedReactor(context->method());
  return new UnaryCallReactor(&it->second, &tenant_of_, workers_, watchdog_,
                              arrival_timeout_, context);
}

}  // namespace durable
