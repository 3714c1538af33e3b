#ifndef DURABLED_CLIENT_CLIENT_H_
#define DURABLED_CLIENT_CLIENT_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "durable/v1/durable.pb.h"

namespace durable {

inline constexpr char kDefaultSocketPath[] = "/run/durabled/durabled.sock";
// Environment variable that overrides the default socket path.
inline constexpr char kSocketEnvironmentVariable[] = "DURABLED_SOCKET";

// The socket a client connects to by default: $DURABLED_SOCKET if set,
// else kDefaultSocketPath.
std::string DefaultSocketPath();

struct ClientOptions {
  std::string socket_path = DefaultSocketPath();
  // Deadline of each call. Past it the call fails with DEADLINE_EXCEEDED and
  // (unless the daemon was already publishing) nothing is published.
  absl::Duration timeout = absl::Minutes(10);
  // Write() sends content larger than this as a stream.
  size_t stream_threshold = 4 << 20;
  // Size of the chunks of a streamed write.
  size_t chunk_size = 1 << 20;
};

// Called during streamed writes with the bytes sent so far and the total
// (0 if unknown).
using ProgressCallback = std::function<void(uint64_t sent, uint64_t total)>;

struct WriteOptions {
  // Permission bits for the file; 0 means the rule's create_mode for a new
  // file and the existing bits for a replaced one.
  mode_t mode = 0;
  // Fail with ALREADY_EXISTS if the file exists.
  bool if_absent = false;
  // Fail with ABORTED unless the file's current etag is this.
  std::string if_match;
  // Fail with DATA_LOSS unless the content has this SHA-256 (32 raw bytes).
  std::string expected_sha256;
  // Create missing parent directories (if the rule allows it).
  bool create_parents = false;
  ProgressCallback on_progress;
};

struct WriteResult {
  uint64_t size = 0;
  std::string sha256;  // 32 raw bytes
  std::string etag;
  bool created = false;
};

struct FileStatus {
  uint64_t size = 0;
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  int64_t mtime_ns = 0;
  std::string etag;
};

struct Identity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  pid_t pid = 0;
  struct Grant {
    std::string root;
    uint64_t max_file_size = 0;
    mode_t create_mode = 0;
    mode_t max_mode = 0;
    bool allow_overwrite = false;
    bool allow_create_parents = false;
  };
  std::vector<Grant> grants;
  std::vector<std::string> denied_roots;
};

// Fills `buffer` with up to `capacity` bytes of content; returns how many,
// 0 at the end.
using ChunkSource =
    std::function<absl::StatusOr<size_t>(char* buffer, size_t capacity)>;

// A connection to durabled. Thread-safe; one Client may serve many threads.
// Errors are the daemon's status codes and messages (see
// proto/durable/v1/durable.proto); an unreachable daemon is UNAVAILABLE.
class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Makes `path` hold exactly `data`, durably. Content above
  // stream_threshold goes as a stream.
  absl::StatusOr<WriteResult> Write(const std::string& path,
                                    absl::string_view data,
                                    const WriteOptions& options = {});

  // Makes `path` hold everything `source` yields, streamed in chunks so that
  // neither side holds the whole content. `total_size` (0 if unknown) only
  // feeds the progress callback.
  absl::StatusOr<WriteResult> WriteStream(const std::string& path,
                                          const ChunkSource& source,
                                          uint64_t total_size,
                                          const WriteOptions& options = {});

  absl::StatusOr<FileStatus> Stat(const std::string& path);

  // Removes `path` durably; with `if_match`, only that version. Returns the
  // removed file's etag.
  absl::StatusOr<std::string> Remove(const std::string& path,
                                     const std::string& if_match = "");

  absl::StatusOr<Identity> WhoAmI();

  // The daemon's counters (root or the daemon's uid only).
  absl::StatusOr<durable::v1::GetStatsResponse> GetStats();

  const ClientOptions& options() const { return options_; }

 private:
  struct Stub;
  ClientOptions options_;
  std::unique_ptr<Stub> stub_;
};

}  // namespace durable

#endif  // DURABLED_CLIENT_CLIENT_H_
