#include "server/daemon/grpc_server_options.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/impl/server_builder_plugin.h>
#include <grpcpp/resource_quota.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <string>
#include <vector>

namespace durable {
namespace {

// Linking gRPC's reflection library registers its plugin with every
// ServerBuilder (a static initializer); this option takes it out again.
class WithoutReflection final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments* /*args*/) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    plugins->erase(
        std::remove_if(plugins->begin(), plugins->end(),
                       [](const std::unique_ptr<grpc::ServerBuilderPlugin>& p) {
                         return p->name() == "proto_server_reflection";
                       }),
        plugins->end());
  }
};

int ClampToInt(uint64_t value) {
  return static_cast<int>(std::min<uint64_t>(value, INT_MAX));
}

}  // namespace

void ConfigureServerBuilder(const durable::v1::Limits& limits,
                            bool enable_reflection,
                            grpc::ServerBuilder* builder) {
  grpc::EnableDefaultHealthCheckService(true);
  if (enable_reflection) {
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  } else {
    builder->SetOption(std::make_unique<WithoutReflection>());
  }

  builder->SetMaxReceiveMessageSize(ClampToInt(limits.max_message_bytes()));
  // gRPC inflates a compressed message in full before it checks its size;
  // refused this way, the call ends with UNIMPLEMENTED ("compression
  // algorithm ... is disabled") when its headers arrive.
  builder->SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_DEFLATE, false);
  builder->SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_GZIP, false);

  // Bound what gRPC buffers per stream, so that a large WriteStream cannot
  // grow the daemon's memory while the disk is slower than the client: no
  // window growth by bandwidth-delay probing, 1 MiB of lookahead.
  builder->AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1 << 20);

  // Calls per connection, and the size of a call's headers, including the
  // HPACK dynamic table a client may make the daemon keep.
  builder->AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                              ClampToInt(limits.max_streams_per_connection()));
  const int metadata_bytes = ClampToInt(limits.max_metadata_bytes());
  builder->AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, metadata_bytes);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_HPACK_TABLE_SIZE_DECODER,
                              std::min(metadata_bytes, 4096));

  // gRPC's memory (call arenas, frames, messages on their way in) and its
  // threads come out of one quota.
  grpc::ResourceQuota quota("durabled");
  quota.Resize(static_cast<size_t>(limits.grpc_memory_bytes()));
  quota.SetMaxThreads(ClampToInt(limits.max_grpc_threads()));
  builder->SetResourceQuota(quota);
}

}  // namespace durable
