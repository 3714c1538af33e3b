#ifndef DURABLED_SERVER_TRANSPORT_SOCKET_CREDENTIALS_H_
#define DURABLED_SERVER_TRANSPORT_SOCKET_CREDENTIALS_H_

#include "absl/status/statusor.h"
#include "server/base/peer_credentials.h"

namespace durable {

// Reads the kernel's view of the peer of connected Unix socket `fd`.
absl::StatusOr<PeerCredentials> ReadPeerCredentials(int fd);

}  // namespace durable

#endif  // DURABLED_SERVER_TRANSPORT_SOCKET_CREDENTIALS_H_
