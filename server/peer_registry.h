#ifndef DURABLED_SERVER_PEER_REGISTRY_H_
#define DURABLED_SERVER_PEER_REGISTRY_H_

#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/peer_credentials.h"

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
  void Register(int fd, const PeerCredentials& credentials);

  // The credentials behind a gRPC peer string "fd:N", or nullopt for any
  // other peer (a connection the daemon did not accept and identify).
  std::optional<PeerCredentials> Lookup(absl::string_view peer) const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<int, PeerCredentials> by_fd_ ABSL_GUARDED_BY(mu_);
};

}  // namespace durable

#endif  // DURABLED_SERVER_PEER_REGISTRY_H_
