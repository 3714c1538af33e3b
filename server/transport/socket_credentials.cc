#include "server/transport/socket_credentials.h"

#include <errno.h>
#include <sys/socket.h>

#include <vector>

#include "server/base/errno_status.h"

namespace durable {

absl::StatusOr<PeerCredentials> ReadPeerCredentials(int fd) {
  struct ucred cred = {};
  socklen_t length = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) {
    return SyscallError(errno, "getsockopt(SO_PEERCRED)");
  }
  PeerCredentials peer;
  peer.pid = cred.pid;
  peer.uid = cred.uid;
  peer.gid = cred.gid;
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 4; ++attempt) {
    length = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length) ==
        0) {
      groups.resize(length / sizeof(gid_t));
      peer.groups = std::move(groups);
      break;
    }
    if (errno != ERANGE) break;  // older kernels: primary gid only
    groups.resize(length / sizeof(gid_t) + 1);
  }
  return peer;
}

}  // namespace durable
