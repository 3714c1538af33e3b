#ifndef DURABLED_SERVER_TRANSPORT_PEER_CGROUP_H_
#define DURABLED_SERVER_TRANSPORT_PEER_CGROUP_H_

#include <sys/socket.h>
#include <sys/types.h>

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/base/peer_credentials.h"
#include "server/base/unique_fd.h"

// Linux 6.5 added SO_PEERPIDFD; Debian 12's headers (glibc 2.36, linux
// 6.1 uapi) predate it. The number is fixed ABI (asm-generic/socket.h).
// Older kernels answer getsockopt with ENOPROTOOPT.
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

namespace durable {

// The caller's cgroup, read so that it is the connecting process's and no
// other's.
//
// What is guaranteed when ReadCgroupOfPidfd returns a path: the process
// the pidfd refers to had that pid from before /proc/<pid>/cgroup was
// opened until after it was read, so the path is that process's cgroup at
// some moment of the read. A pid freed (process exited and reaped) and
// reused by another process in between is detected: the pidfd then shows
// no pid, and the read is refused. The pidfd from SO_PEERPIDFD and the pid
// from SO_PEERCRED both name the process that called connect() (for a
// socketpair, the one that created it).
//
// What is not guaranteed:
//  - the process may move to another cgroup later (if it may write some
//    cgroup.procs: delegated subtrees, root); rights stay bound to the
//    cgroup read at accept for the whole connection, as the uid is;
//  - the cgroup is the one at accept time, not at connect() time, which
//    SO_PEERCRED's uid and gids are;
//  - the connecting process may hand the connected socket to another
//    process; the identity stays the connector's, as with SO_PEERCRED;
//  - the path is as the daemon's cgroup namespace shows it (relative to
//    its root), and read through the daemon's /proc: a /proc mounted
//    hidepid= hides other users' processes from a daemon outside its gid=
//    group (0 unless set) that lacks CAP_SYS_PTRACE, and then every such
//    read fails, which leaves cgroup_known false (durabled as shipped
//    runs as root:root, whom ProtectProc=invisible does not hide from);
//  - on a host with no cgroup v2 hierarchy in use (legacy v1 only) every
//    process's v2 path is "/", which names no unit.

// Reads the cgroup v2 path ("/system.slice/agent@7.service") of the
// process `pidfd` refers to, provided it still has pid `claimed_pid` (the
// pid SO_PEERCRED reported). Fails, naming the reason, if `pidfd` is not a
// pidfd, its process is gone, its pid is not `claimed_pid` (or not visible
// in the daemon's pid namespace), /proc/<pid>/cgroup has no "0::" line, or
// the process is gone once the file has been read.
absl::StatusOr<std::string> ReadCgroupOfPidfd(int pidfd, pid_t claimed_pid);

// A pidfd (close-on-exec) for the peer of connected Unix socket
// `socket_fd`. Fails where the kernel has no SO_PEERPIDFD (ErrnoOf gives
// ENOPROTOOPT; see KernelLacksPeerPidfd) or the peer is unknown.
absl::StatusOr<UniqueFd> PeerPidfd(int socket_fd);

// True if `status` (from PeerPidfd) says the kernel predates SO_PEERPIDFD,
// as opposed to a failure of this one connection.
bool KernelLacksPeerPidfd(const absl::Status& status);

// True if `status` (from ReadCgroupOfPidfd or ReadPeerCgroup) says the
// peer runs but the daemon's /proc does not show it (mounted hidepid=, see
// above): a configuration that hides every other user's cgroup, not one
// caller's failure.
bool ProcHidesPeer(const absl::Status& status);

// Fills peer->cgroup_known, cgroup and unit for the peer of connected Unix
// socket `socket_fd`, whose SO_PEERCRED pid is peer->pid. On failure
// leaves them as they were (unknown) and says why; the caller is then
// identified by uid and gids only. The pidfd is closed before returning.
absl::Status ReadPeerCgroup(int socket_fd, PeerCredentials* peer);

// The systemd unit that cgroup path belongs to, as systemd's
// cg_path_get_unit finds it: leading slice components ("system.slice",
// "user-1000.slice") are skipped, and the component right after them must
// be a valid unit name of a type that holds processes (.service, .scope,
// .socket, .mount, .swap, .target, .device, .automount, .timer, .path);
// systemd's "_" escape prefix is removed. "" if that component is missing
// or is no such unit: deeper components are never looked at, since a unit
// with a delegated subtree may name its own sub-cgroups as it likes.
//
//   "/system.slice/agent@7.service"                  -> "agent@7.service"
//   "/user.slice/user-1000.slice/user@1000.service/app.slice/x.service"
//                                                    -> "user@1000.service"
//   "/", "/system.slice", "/machine/x.service"       -> ""
std::string UnitFromCgroup(absl::string_view cgroup_path);

namespace peer_cgroup_internal {

// ReadCgroupOfPidfd, running `before_open` once the pidfd has been found
// to hold the pid and before /proc/<pid>/cgroup is opened, so that a test
// can end the process, and hand its pid to another, inside that window.
absl::StatusOr<std::string> ReadCgroupOfPidfd(
    int pidfd, pid_t claimed_pid, const std::function<void()>& before_open);

}  // namespace peer_cgroup_internal

}  // namespace durable

#endif  // DURABLED_SERVER_TRANSPORT_PEER_CGROUP_H_
