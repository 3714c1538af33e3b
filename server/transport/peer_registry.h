#ifndef DURABLED_SERVER_TRANSPORT_PEER_REGISTRY_H_
#define DURABLED_SERVER_TRANSPORT_PEER_REGISTRY_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/base/peer_credentials.h"

namespace durable {

// Maps the fd of each accepted connection to the credentials the kernel
// reported for it. gRPC names a connection adopted with
// AddInsecureChannelFromFd "fd:N" in ServerContext::peer(), which is how a
// handler finds its caller.
//
// An fd number is reused only after gRPC closed the old connection, which it
// does only once no call on that connection is running; the listener
// registers the new connection's credentials before gRPC sees the fd. So a
// running call always finds its own caller.
class PeerRegistry {
 public:
  // Records the connection `fd` (a socket) and its caller.
  void Register(int fd, const PeerCredentials& credentials);

  // Connections of `uid` that are still open. gRPC closes connections
  // without telling us, so liveness is checked by whether each recorded fd
  // still refers to the socket it was registered with; dead entries are
  // dropped.
  size_t LiveConnectionsOf(uid_t uid);

  // The credentials behind a gRPC peer string "fd:N", or nullopt for any
  // other peer (a connection the daemon did not accept and identify).
  std::optional<PeerCredentials> Lookup(absl::string_view peer) const;

  // As Lookup, for a call's handler: UNAUTHENTICATED, saying why, for a peer
  // the daemon did not accept and identify.
  absl::StatusOr<PeerCredentials> Identify(absl::string_view peer) const;

 private:
  struct Connection {
    PeerCredentials credentials;
    uint64_t socket_device = 0;
    uint64_t socket_inode = 0;
  };

  mutable absl::Mutex mu_;
  absl::flat_hash_map<int, Connection> by_fd_ ABSL_GUARDED_BY(mu_);
};

}  // namespace durable

#endif  // DURABLED_SERVER_TRANSPORT_PEER_REGISTRY_H_
