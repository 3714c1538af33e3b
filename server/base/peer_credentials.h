#ifndef DURABLED_SERVER_BASE_PEER_CREDENTIALS_H_
#define DURABLED_SERVER_BASE_PEER_CREDENTIALS_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace durable {

// Who is on the other end of a connection, as the kernel reported it at
// accept time (SO_PEERCRED, SO_PEERGROUPS). Never taken from the client.
struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  // Supplementary groups, where the kernel reports them.
  std::vector<gid_t> groups;

  bool HasGroup(gid_t g) const {
    if (gid == g) return true;
    for (gid_t member : groups) {
      if (member == g) return true;
    }
    return false;
  }
};

}  // namespace durable

#endif  // DURABLED_SERVER_BASE_PEER_CREDENTIALS_H_
