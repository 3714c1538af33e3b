#ifndef DURABLED_CLIENT_CLIENT_H_
#define DURABLED_CLIENT_CLIENT_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

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
  // nothing is published.
  absl::Duration timeout = absl::Seconds(60);
};

struct WriteOptions {
  // Permission bits for a created file; 0 means the rule's default.
  mode_t mode = 0;
  // Fail with ALREADY_EXISTS if the file exists.
  bool if_absent = false;
};

struct WriteResult {
  uint64_t size = 0;
  std::string sha256;  // 32 raw bytes
  std::string etag;
  bool created = false;
};

// A connection to durabled. Thread-safe; one Client may serve many threads.
// Errors are the daemon's status codes and messages (see
// proto/durable/v1/durable.proto); an unreachable daemon is UNAVAILABLE.
class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Makes `path` hold exactly `data`, durably.
  absl::StatusOr<WriteResult> Write(const std::string& path,
                                    absl::string_view data,
                                    const WriteOptions& options = {});

  const ClientOptions& options() const { return options_; }

 private:
  struct Stub;
  ClientOptions options_;
  std::unique_ptr<Stub> stub_;
};

}  // namespace durable

#endif  // DURABLED_CLIENT_CLIENT_H_
