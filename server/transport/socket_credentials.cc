#include "server/transport/socket_credentials.h"

#include <errno.h>
#include <sys/socket.h>

#include <atomic>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/base/errno_status.h"
#include "server/base/logging.h"
#include "server/transport/peer_cgroup.h"

namespace durable {
namespace {

// A cgroup that cannot be read leaves the caller identified by uid and
// gids only; it never refuses the connection. What holds for every caller
// (a kernel without SO_PEERPIDFD, a /proc that hides other users) is said
// once, anything else per connection at debug level.
void NoteUnknownCgroup(const PeerCredentials& peer,
                       const absl::Status& status) {
  if (KernelLacksPeerPidfd(status)) {
    static std::atomic<bool> said{false};
    if (!said.exchange(true)) {
      LogNotice(
          "this kernel has no SO_PEERPIDFD (Linux 6.5 or later): callers "
          "are identified by uid and gids only, never by cgroup or unit");
    }
    return;
  }
  if (ProcHidesPeer(status)) {
    static std::atomic<bool> said{false};
    if (!said.exchange(true)) {
      LogWarning(absl::StrCat(
          "cannot read callers' cgroups: ", status.message(),
          "; callers this /proc hides are identified by uid and gids only"));
    }
    return;
  }
  Log(LogPriority::kDebug,
      absl::StrCat(
          "cgroup of pid ", peer.pid, " (uid ", peer.uid,
          ") unknown, identified by uid and gids only: ", status.message()));
}

}  // namespace

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
  absl::Status cgroup = ReadPeerCgroup(fd, &peer);
  if (!cgroup.ok()) NoteUnknownCgroup(peer, cgroup);
  return peer;
}

}  // namespace durable
