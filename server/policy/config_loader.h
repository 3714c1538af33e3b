#ifndef DURABLED_SERVER_POLICY_CONFIG_LOADER_H_
#define DURABLED_SERVER_POLICY_CONFIG_LOADER_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "durable/v1/config.pb.h"

namespace durable {

inline constexpr char kDefaultConfigPath[] = "/etc/durabled/durabled.conf";
inline constexpr char kDefaultListenSocketPath[] =
    "/run/durabled/durabled.sock";
inline constexpr mode_t kDefaultSocketMode = 0660;
inline constexpr uint64_t kDefaultMaxFileSize = 64ull << 20;
inline constexpr mode_t kDefaultCreateMode = 0644;
inline constexpr mode_t kDefaultMaxMode = 0666;
inline constexpr mode_t kDefaultDirectoryMode = 0755;
inline constexpr uint32_t kDefaultStreamIdleTimeoutMs = 30000;
inline constexpr uint32_t kDefaultMaxConcurrentWrites = 256;
inline constexpr uint32_t kDefaultMaxConcurrentWritesPerUid = 64;
inline constexpr uint32_t kDefaultMaxConnectionsPerUid = 128;
inline constexpr uint32_t kDefaultMaxStreamsPerConnection = 16;
inline constexpr uint32_t kDefaultMaxMetadataBytes = 8192;
inline constexpr uint32_t kDefaultRequestArrivalTimeoutMs = 10000;
inline constexpr uint64_t kDefaultGrpcMemoryBytes = 256ull << 20;
inline constexpr uint32_t kDefaultMaxGrpcThreads = 64;
inline constexpr uint32_t kDefaultMaxSetMembers = 64;
inline constexpr uint64_t kDefaultMaxSetBytes = uint64_t{256} << 20;
inline constexpr uint32_t kDefaultCommitBatch = 64;
inline constexpr uint32_t kMaxCommitBatch = 4096;
inline constexpr uint32_t kDefaultCommitters = 1;
inline constexpr uint32_t kMaxCommitters = 16;
// Envelope room beyond the largest file a single Write can carry.
inline constexpr uint64_t kMessageHeadroom = 1ull << 20;

// Parses a config in Protobuf text format and checks it as a whole.
// `file_name` only labels error messages. INVALID_ARGUMENT with
// "file:line:column: reason" for the first problem found.
absl::StatusOr<durable::v1::DaemonConfig> ParseConfig(
    absl::string_view text, absl::string_view file_name);

// Reads and parses the config file at `path`.
absl::StatusOr<durable::v1::DaemonConfig> LoadConfigFile(
    const std::string& path);

// The largest gRPC message the daemon accepts under `config`.
uint64_t MaxMessageBytes(const durable::v1::DaemonConfig& config);

// `config.limits` with every unset (0) limit replaced by its default.
durable::v1::Limits EffectiveLimits(const durable::v1::DaemonConfig& config);

// How long a WriteStream may stay silent under `config`.
absl::Duration StreamIdleTimeout(const durable::v1::DaemonConfig& config);

}  // namespace durable

#endif  // DURABLED_SERVER_POLICY_CONFIG_LOADER_H_
