#ifndef DURABLED_SERVER_TRANSPORT_SOCKET_CREDENTIALS_H_
#define DURABLED_SERVER_TRANSPORT_SOCKET_CREDENTIALS_H_

#include "absl/status/statusor.h"
#include "server/base/peer_credentials.h"

namespace durable {

// Reads the kernel's view of the peer of connected Unix socket `fd`: pid,
// uid and gid (SO_PEERCRED), supplementary groups (SO_PEERGROUPS), and the
// cgroup and unit (SO_PEERPIDFD, see peer_cgroup.h). Fails only if
// SO_PEERCRED does; groups or a cgroup that cannot be read are left out
// (cgroup_known false), never a reason to refuse the caller.
absl::StatusOr<PeerCredentials> ReadPeerCredentials(int fd);

}  // namespace durable

#endif  // DURABLED_SERVER_TRANSPORT_SOCKET_CREDENTIALS_H_
