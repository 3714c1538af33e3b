#include "server/transport/peer_registry.h"

#include <sys/stat.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"

namespace durable {

namespace {

// (device, inode) of what `fd` refers to; (0, 0) if it is closed.
std::pair<uint64_t, uint64_t> IdentityOf(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return {0, 0};
  return {st.st_dev, st.st_ino};
}

}  // namespace

void PeerRegistry::Register(int fd, const PeerCredentials& credentials) {
  auto [device, inode] = IdentityOf(fd);
  Connection connection{credentials, device, inode};
  absl::MutexLock lock(&mu_);
  by_fd_[fd] = std::move(connection);
}

size_t PeerRegistry::LiveConnectionsOf(uid_t uid) {
  absl::MutexLock lock(&mu_);
  size_t live = 0;
  for (auto it = by_fd_.begin(); it != by_fd_.end();) {
    auto current = it++;
    if (current->second.credentials.uid != uid) continue;
    auto [device, inode] = IdentityOf(current->first);
    if (device == current->second.socket_device &&
        inode == current->second.socket_inode) {
      ++live;
    } else {
      by_fd_.erase(current);
    }
  }
  return live;
}

std::optional<PeerCredentials> PeerRegistry::Lookup(
    absl::string_view peer) const {
  int fd = -1;
  if (!absl::ConsumePrefix(&peer, "fd:") || !absl::SimpleAtoi(peer, &fd)) {
    return std::nullopt;
  }
  absl::MutexLock lock(&mu_);
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return std::nullopt;
  return it->second.credentials;
}

absl::StatusOr<PeerCredentials> PeerRegistry::Identify(
    absl::string_view peer) const {
  std::optional<PeerCredentials> caller = Lookup(peer);
  if (!caller.has_value()) {
    return absl::UnauthenticatedError(
        "the call did not arrive over a connection durabled accepted and "
        "identified itself");
  }
  return *std::move(caller);
}

}  // namespace durable
