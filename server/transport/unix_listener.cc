#include "server/transport/unix_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <grpcpp/server.h>
#include <grpcpp/server_posix.h>

#include "absl/strings/str_cat.h"
#include "server/base/errno_status.h"
#include "server/base/logging.h"
#include "server/policy/path_validation.h"
#include "server/transport/socket_credentials.h"

namespace durable {
namespace {

constexpr int kListenBacklog = 128;

absl::StatusOr<sockaddr_un> UnixAddress(const std::string& path) {
  sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket path ", path, " is ", path.size(),
                     " bytes; the limit is ", sizeof(address.sun_path) - 1));
  }
  memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

// True if some process accepts connections at `path`.
bool SomeoneListens(const sockaddr_un& address) {
  UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe.valid()) return false;
  return connect(probe.get(), reinterpret_cast<const sockaddr*>(&address),
                 sizeof(address)) == 0;
}

// "uid 1000 gid 1000 pid 42 unit \"agent@7.service\"", for log lines.
std::string DescribePeer(const PeerCredentials& peer) {
  std::string described =
      absl::StrCat("uid ", peer.uid, " gid ", peer.gid, " pid ", peer.pid);
  if (!peer.cgroup_known) {
    absl::StrAppend(&described, " cgroup unknown");
  } else if (!peer.unit.empty()) {
    absl::StrAppend(&described, " unit \"", EscapeName(peer.unit), "\"");
  } else {
    absl::StrAppend(&described, " cgroup \"", DisplayPath(peer.cgroup), "\"");
  }
  return described;
}

absl::StatusOr<UniqueFd> MakeWakeup() {
  UniqueFd wakeup(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wakeup.valid()) return SyscallError(errno, "eventfd");
  return wakeup;
}

}  // namespace

absl::StatusOr<UnixListener> UnixListener::Bind(const std::string& path,
                                                mode_t mode,
                                                std::optional<gid_t> group) {
  absl::StatusOr<sockaddr_un> address = UnixAddress(path);
  if (!address.ok()) return address.status();
  SplitPath split = SplitParentAndLeaf(path);
  std::string staging_path =
      absl::StrCat(split.parent, split.parent == "/" ? "" : "/", ".",
                   split.leaf, ".", getpid(), ".binding");
  absl::StatusOr<sockaddr_un> staging = UnixAddress(staging_path);
  if (!staging.ok()) return staging.status();

  if (SomeoneListens(*address)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "another process is already accepting connections at ", path));
  }
  // Non-blocking, so that a connection that vanishes between poll and
  // accept cannot stall the loop.
  UniqueFd socket_fd(
      socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!socket_fd.valid()) return SyscallError(errno, "socket(AF_UNIX)");
  unlink(staging_path.c_str());
  if (bind(socket_fd.get(), reinterpret_cast<const sockaddr*>(&*staging),
           sizeof(*staging)) != 0) {
    return SyscallError(errno, absl::StrCat("bind(", staging_path, ")"));
  }
  auto fail = [&](absl::string_view what) {
    absl::Status status = SyscallError(errno, what);
    unlink(staging_path.c_str());
    return status;
  };
  if (chmod(staging_path.c_str(), mode) != 0) {
    return fail(absl::StrCat("chmod(", staging_path, ")"));
  }
  if (group.has_value() && chown(staging_path.c_str(), -1, *group) != 0) {
    return fail(absl::StrCat("chown(", staging_path, ")"));
  }
  if (listen(socket_fd.get(), kListenBacklog) != 0) {
    return fail("listen");
  }
  if (rename(staging_path.c_str(), path.c_str()) != 0) {
    return fail(absl::StrCat("rename(", staging_path, " -> ", path, ")"));
  }
  absl::StatusOr<UniqueFd> wakeup = MakeWakeup();
  if (!wakeup.ok()) return wakeup.status();
  return UnixListener(std::move(socket_fd), std::move(*wakeup));
}

absl::StatusOr<UnixListener> UnixListener::Adopt(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return SyscallError(errno, "fcntl(listening socket, O_NONBLOCK)");
  }
  absl::StatusOr<UniqueFd> wakeup = MakeWakeup();
  if (!wakeup.ok()) return wakeup.status();
  return UnixListener(UniqueFd(fd), std::move(*wakeup));
}

void UnixListener::Serve(grpc::Server* server, PeerRegistry* peers,
                         const AdmissionCheck& admit) {
  pollfd watched[2] = {{socket_.get(), POLLIN, 0}, {wakeup_.get(), POLLIN, 0}};
  while (true) {
    int ready = poll(watched, 2, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      LogError(absl::StrCat("poll on the listening socket: ", strerror(errno)));
      return;
    }
    if (watched[1].revents != 0) return;
    if (watched[0].revents == 0) continue;

    UniqueFd connection(
        accept4(socket_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!connection.valid()) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        LogWarning(absl::StrCat("accept: ", strerror(errno)));
        if (errno == EMFILE || errno == ENFILE) usleep(10000);
      }
      continue;
    }
    absl::StatusOr<PeerCredentials> peer =
        ReadPeerCredentials(connection.get());
    if (!peer.ok()) {
      LogWarning(absl::StrCat("connection refused: ", peer.status().message()));
      continue;
    }
    absl::Status admitted = admit(*peer);
    if (!admitted.ok()) {
      LogInfo(absl::StrCat("connection refused: ", admitted.message(), " (",
                           DescribePeer(*peer), ")"));
      continue;
    }
    peers->Register(connection.get(), *peer);
    grpc::AddInsecureChannelFromFd(server, connection.release());
  }
}

void UnixListener::Stop() {
  uint64_t one = 1;
  ssize_t ignored = write(wakeup_.get(), &one, sizeof(one));
  (void)ignored;
}

}  // namespace durable
