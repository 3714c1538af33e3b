#include "server/transport/peer_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/base/errno_status.h"
#include "server/base/logging.h"

namespace durable {
namespace {

// /proc/<pid>/cgroup has one line per hierarchy, each path at most
// PATH_MAX; far below this.
constexpr size_t kProcFileLimit = 256 * 1024;

// systemd's UNIT_NAME_MAX, less its NUL.
constexpr size_t kUnitNameMax = 255;

absl::StatusOr<std::string> ReadProcFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) return SyscallError(errno, absl::StrCat("open(", path, ")"));
  std::string content;
  char buffer[4096];
  while (true) {
    ssize_t got = read(fd.get(), buffer, sizeof(buffer));
    if (got < 0) {
      if (errno == EINTR) continue;
      return SyscallError(errno, absl::StrCat("read(", path, ")"));
    }
    if (got == 0) return content;
    content.append(buffer, static_cast<size_t>(got));
    if (content.size() > kProcFileLimit) {
      return absl::OutOfRangeError(
          absl::StrCat(path, " is longer than ", kProcFileLimit, " bytes"));
    }
  }
}

// The pid `pidfd` refers to, in the pid namespace of /proc: -1 once the
// process has exited and been reaped (its pid is then free for reuse), 0
// if it is not visible in that namespace.
absl::StatusOr<pid_t> PidOfPidfd(int pidfd) {
  absl::StatusOr<std::string> fdinfo =
      ReadProcFile(absl::StrCat("/proc/self/fdinfo/", pidfd));
  if (!fdinfo.ok()) {
    // Without its errno, which ProcHidesPeer reserves for /proc/<pid>.
    return absl::Status(fdinfo.status().code(), fdinfo.status().message());
  }
  for (absl::string_view line : absl::StrSplit(*fdinfo, '\n')) {
    if (!absl::ConsumePrefix(&line, "Pid:")) continue;
    int pid = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &pid)) {
      return absl::InternalError(absl::StrCat(
          "fd ", pidfd, " has an unreadable Pid line: ", EscapeName(line)));
    }
    return static_cast<pid_t>(pid);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("fd ", pidfd, " is not a pidfd (no Pid line in fdinfo)"));
}

// Succeeds if `pidfd`'s process holds pid `claimed_pid` right now.
absl::Status CheckPidfdHolds(int pidfd, pid_t claimed_pid,
                             absl::string_view when) {
  absl::StatusOr<pid_t> pid = PidOfPidfd(pidfd);
  if (!pid.ok()) return pid.status();
  if (*pid == -1) {
    return absl::NotFoundError(absl::StrCat(
        "the peer process (pid ", claimed_pid, ") has exited ", when));
  }
  if (*pid != claimed_pid) {
    return absl::FailedPreconditionError(
        absl::StrCat("the peer's pidfd names pid ", *pid,
                     " (0: outside this pid "
                     "namespace), not pid ",
                     claimed_pid, " as SO_PEERCRED says"));
  }
  return absl::OkStatus();
}

// The path of the "0::" (cgroup v2) line of a /proc/<pid>/cgroup file.
// The kernel refuses cgroup names with a newline, so a line is a line.
absl::StatusOr<std::string> UnifiedCgroupPath(absl::string_view content,
                                              pid_t pid) {
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    if (absl::ConsumePrefix(&line, "0::")) return std::string(line);
  }
  return absl::NotFoundError(
      absl::StrCat("/proc/", pid, "/cgroup has no cgroup v2 (\"0::\") line"));
}

constexpr std::array<absl::string_view, 10> kProcessUnitSuffixes = {
    ".service", ".scope",  ".socket",    ".mount", ".swap",
    ".target",  ".device", ".automount", ".timer", ".path"};

// systemd's cg_unescape: a component that would clash with a kernel or
// controller file name was created with "_" in front.
absl::string_view Unescape(absl::string_view component) {
  absl::ConsumePrefix(&component, "_");
  return component;
}

// systemd's unit_name_is_valid for plain and instance names ("a.service",
// "a@i.service", not the template "a@.service") whose type is `suffix`.
bool IsUnitName(absl::string_view name, absl::string_view suffix) {
  if (name.size() > kUnitNameMax || !absl::EndsWith(name, suffix)) {
    return false;
  }
  absl::string_view stem = name.substr(0, name.size() - suffix.size());
  if (stem.empty()) return false;
  for (char c : stem) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        !absl::StrContains(":-_.\\@", c)) {
      return false;
    }
  }
  size_t at = stem.find('@');
  if (at == absl::string_view::npos) return true;
  // One '@', with a prefix and an instance around it.
  return at > 0 && at + 1 < stem.size() &&
         stem.find('@', at + 1) == absl::string_view::npos;
}

bool IsSliceName(absl::string_view name) {
  return IsUnitName(name, ".slice") &&
         name.find('@') == absl::string_view::npos;
}

bool IsProcessUnitName(absl::string_view name) {
  for (absl::string_view suffix : kProcessUnitSuffixes) {
    if (IsUnitName(name, suffix)) return true;
  }
  return false;
}

}  // namespace

namespace peer_cgroup_internal {

absl::StatusOr<std::string> ReadCgroupOfPidfd(
    int pidfd, pid_t claimed_pid, const std::function<void()>& before_open) {
  if (claimed_pid <= 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "SO_PEERCRED gave pid ", claimed_pid, ", which names no process"));
  }
  // Before: /proc/<claimed_pid> is the pidfd's process now...
  absl::Status before =
      CheckPidfdHolds(pidfd, claimed_pid, "before its cgroup was read");
  if (!before.ok()) return before;
  const std::string path = absl::StrCat("/proc/", claimed_pid, "/cgroup");
  if (before_open) before_open();
  absl::StatusOr<std::string> content = ReadProcFile(path);
  // ...and after: still it, so the pid was not freed and reused in
  // between (a freed pid never comes back to the same pidfd). Checked even
  // when the read failed, so that the error names the real cause.
  absl::Status after =
      CheckPidfdHolds(pidfd, claimed_pid, "while its cgroup was read");
  if (!after.ok()) return after;
  if (!content.ok()) {
    if (ProcHidesPeer(content.status())) {
      return Annotate(content.status(),
                      absl::StrCat("pid ", claimed_pid,
                                   " runs, but the daemon's /proc hides it "
                                   "(hidepid=, ProtectProc=invisible)"));
    }
    return content.status();
  }
  return UnifiedCgroupPath(*content, claimed_pid);
}

}  // namespace peer_cgroup_internal

absl::StatusOr<std::string> ReadCgroupOfPidfd(int pidfd, pid_t claimed_pid) {
  return peer_cgroup_internal::ReadCgroupOfPidfd(pidfd, claimed_pid, nullptr);
}

absl::StatusOr<UniqueFd> PeerPidfd(int socket_fd) {
  int pidfd = -1;
  socklen_t length = sizeof(pidfd);
  if (getsockopt(socket_fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &length) != 0) {
    return SyscallError(errno, "getsockopt(SO_PEERPIDFD)");
  }
  return UniqueFd(pidfd);
}

bool KernelLacksPeerPidfd(const absl::Status& status) {
  return ErrnoOf(status) == ENOPROTOOPT;
}

bool ProcHidesPeer(const absl::Status& status) {
  // Only the open or read of /proc/<pid>/cgroup records these errnos: the
  // peer's exit is reported by the pidfd checks, without one.
  const int error = ErrnoOf(status);
  return error == ENOENT || error == EACCES || error == EPERM;
}

absl::Status ReadPeerCgroup(int socket_fd, PeerCredentials* peer) {
  absl::StatusOr<UniqueFd> pidfd = PeerPidfd(socket_fd);
  if (!pidfd.ok()) return pidfd.status();
  absl::StatusOr<std::string> cgroup =
      ReadCgroupOfPidfd(pidfd->get(), peer->pid);
  if (!cgroup.ok()) return cgroup.status();
  peer->unit = UnitFromCgroup(*cgroup);
  peer->cgroup = std::move(*cgroup);
  peer->cgroup_known = true;
  return absl::OkStatus();
}

std::string UnitFromCgroup(absl::string_view cgroup_path) {
  for (absl::string_view component :
       absl::StrSplit(cgroup_path, '/', absl::SkipEmpty())) {
    absl::string_view name = Unescape(component);
    if (IsSliceName(name)) continue;
    return IsProcessUnitName(name) ? std::string(name) : std::string();
  }
  return std::string();
}

}  // namespace durable
