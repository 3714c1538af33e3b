#include "server/peer_registry.h"

#include <sys/stat.h>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/numbers.h"

namespace durable {

namespace {

uint64_t InodeOf(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return 0;
  return st.st_ino;
}

}  // namespace

void PeerRegistry::Register(int fd, const PeerCredentials& credentials) {
  Connection connection{credentials, InodeOf(fd)};
  absl::MutexLock lock(&mu_);
  by_fd_[fd] = std::move(connection);
}

size_t PeerRegistry::LiveConnectionsOf(uid_t uid) {
  absl::MutexLock lock(&mu_);
  size_t live = 0;
  for (auto it = by_fd_.begin(); it != by_fd_.end();) {
    auto current = it++;
    if (current->second.credentials.uid != uid) continue;
    if (InodeOf(current->first) == current->second.socket_inode) {
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

}  // namespace durable
