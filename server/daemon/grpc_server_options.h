#ifndef DURABLED_SERVER_DAEMON_GRPC_SERVER_OPTIONS_H_
#define DURABLED_SERVER_DAEMON_GRPC_SERVER_OPTIONS_H_

#include <grpcpp/grpcpp.h>

#include "durable/v1/config.pb.h"

namespace durable {

// Configures `builder` so that no single caller can make gRPC itself
// consume unbounded memory or threads, from `limits` (with defaults
// filled in, see EffectiveLimits):
//   - the largest message (max_message_bytes);
//   - compressed messages refused when their headers arrive, before any
//     inflation (a few KiB of gzip would otherwise cost GiBs);
//   - streams per connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS),
//     metadata size and the HPACK table a client may make us keep;
//   - per-stream buffering (no BDP window growth, 1 MiB lookahead);
//   - one grpc::ResourceQuota for gRPC's memory and threads.
// Also enables the default health service (callback-based in gRPC 1.51: a
// Watch stream holds no thread) and serves server reflection only when
// `enable_reflection` (it is synchronous: a thread per stream). Call before
// BuildAndStart; the builder keeps the options it is given.
void ConfigureServerBuilder(const durable::v1::Limits& limits,
                            bool enable_reflection,
                            grpc::ServerBuilder* builder);

}  // namespace durable

#endif  // DURABLED_SERVER_DAEMON_GRPC_SERVER_OPTIONS_H_
