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
  // The caller's cgroup (v2 path below the hierarchy's root, such as
  // "/system.slice/agent@7.service"), read at accept through the peer's
  // pidfd. cgroup_known is false if it could not be read race-free (no
  // SO_PEERPIDFD, or the process was gone); such a caller is matched by
  // uid and gids only.
  bool cgroup_known = false;
  std::string cgroup;
  // The systemd unit that cgroup belongs to ("agent@7.service"), derived
  // from the path; empty if it names none.
  std::string unit;

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
