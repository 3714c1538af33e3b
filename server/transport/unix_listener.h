#ifndef DURABLED_SERVER_TRANSPORT_UNIX_LISTENER_H_
#define DURABLED_SERVER_TRANSPORT_UNIX_LISTENER_H_

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/base/peer_credentials.h"
#include "server/base/unique_fd.h"
#include "server/transport/peer_registry.h"

namespace grpc {
class Server;
}

namespace durable {

// Decides at accept time whether a caller may talk to the daemon at all;
// a refusal's message is logged.
using AdmissionCheck = std::function<absl::Status(const PeerCredentials&)>;

// The daemon's listening Unix socket and its accept loop. Each accepted
// connection is non-blocking and close-on-exec, has its peer credentials
// read (SO_PEERCRED, SO_PEERGROUPS, and the cgroup through SO_PEERPIDFD)
// and checked, is registered in the PeerRegistry, and only then is handed
// to gRPC.
class UnixListener {
 public:
  // Creates a listening socket at `path` whose mode is `mode` (and group
  // `group`, if set) from the moment it appears there: it is bound under a
  // temporary name, given its mode and group, then renamed into place, which
  // also replaces a stale socket. Refuses if another process is accepting at
  // `path`.
  static absl::StatusOr<UnixListener> Bind(const std::string& path, mode_t mode,
                                           std::optional<gid_t> group);

  // Adopts an already listening socket (e.g. from systemd).
  static absl::StatusOr<UnixListener> Adopt(int fd);

  UnixListener(UnixListener&&) = default;
  UnixListener& operator=(UnixListener&&) = default;

  // Accepts connections and hands them to `server` until Stop() is called.
  // Connections whose caller `admit` refuses are closed before gRPC reads a
  // byte.
  void Serve(grpc::Server* server, PeerRegistry* peers,
             const AdmissionCheck& admit);

  // Makes Serve return. Safe to call from another thread or more than once.
  void Stop();

  int fd() const { return socket_.get(); }

 private:
  UnixListener(UniqueFd socket, UniqueFd wakeup)
      : socket_(std::move(socket)), wakeup_(std::move(wakeup)) {}

  UniqueFd socket_;
  UniqueFd wakeup_;  // eventfd written by Stop()
};

}  // namespace durable

#endif  // DURABLED_SERVER_TRANSPORT_UNIX_LISTENER_H_
