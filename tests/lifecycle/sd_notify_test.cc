// durabled speaks the sd_notify protocol the way Type=notify expects:
// READY=1 only once its listener accepts connections, RELOADING=1 / READY=1
// around a SIGHUP reload, STOPPING=1 on SIGTERM, all from the main pid
// (NotifyAccess=main), and no READY=1 from a start that fails.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/lifecycle/lifecycle_util.h"
#include "tests/support/held_stream.h"
#include "tests/support/test_daemon.h"

namespace durable::test {
namespace {

struct Notification {
  std::string text;  // e.g. "READY=1" or "RELOADING=1\nSTATUS=..."
  pid_t sender = 0;

  bool Has(const std::string& assignment) const {
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (line == assignment) return true;
    }
    return false;
  }
};

// A datagram socket standing in for systemd's notification socket.
class NotifySocket {
 public:
  NotifySocket() {
    char dir_template[] = "/tmp/durabled-notify.XXXXXX";
    if (mkdtemp(dir_template) == nullptr) std::abort();
    dir_ = dir_template;
    path_ = dir_ + "/notify";
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address = {};
    address.sun_family = AF_UNIX;
    strncpy(address.sun_path, path_.c_str(), sizeof(address.sun_path) - 1);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&address),
                        sizeof(address)) != 0) {
      std::abort();
    }
    // Have the kernel attach the sender's credentials to every datagram.
    int on = 1;
    setsockopt(fd_, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
  }

  ~NotifySocket() {
    close(fd_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }

  std::string environment() const { return "NOTIFY_SOCKET=" + path_; }

  // The next datagram, or nullopt if none arrives within `timeout`.
  std::optional<Notification> Receive(absl::Duration timeout) {
    pollfd p = {fd_, POLLIN, 0};
    int ready =
        poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    if (ready <= 0) return std::nullopt;
    char buffer[4096];
    iovec iov = {buffer, sizeof(buffer)};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    msghdr message = {};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    ssize_t n = recvmsg(fd_, &message, MSG_DONTWAIT);
    if (n < 0) return std::nullopt;
    Notification notification;
    notification.text.assign(buffer, static_cast<size_t>(n));
    while (!notification.text.empty() && notification.text.back() == '\n') {
      notification.text.pop_back();
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr;
         c = CMSG_NXTHDR(&message, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        ucred credentials;
        memcpy(&credentials, CMSG_DATA(c), sizeof(credentials));
        notification.sender = credentials.pid;
      }
    }
    return notification;
  }

  // Receives until a datagram carries `assignment`; the ones before it are
  // appended to `skipped`. nullopt if none does within `timeout`.
  std::optional<Notification> ReceiveUntil(const std::string& assignment,
                                           absl::Duration timeout,
                                           std::vector<std::string>* skipped) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      std::optional<Notification> next = Receive(deadline - absl::Now());
      if (!next.has_value()) return std::nullopt;
      if (next->Has(assignment)) return next;
      skipped->push_back(next->text);
    }
    return std::nullopt;
  }

 private:
  std::string dir_;
  std::string path_;
  int fd_ = -1;
};

TEST(SdNotifyTest, ReadyOnlyOnceListeningThenReloadingAndStopping) {
  NotifySocket notify;
  TestDaemonOptions options;
  options.environment = {notify.environment()};
  options.wait_for_socket = "";  // READY=1 is what we wait for
  auto daemon = TestDaemon::Start(options);
  ASSERT_TRUE(daemon.ok()) << daemon.status();

  std::vector<std::string> before_ready;
  std::optional<Notification> ready =
      notify.ReceiveUntil("READY=1", absl::Seconds(30), &before_ready);
  ASSERT_TRUE(ready.has_value()) << "no READY=1 within 30s; log:\n"
                                 << (*daemon)->Log();
  EXPECT_EQ(ready->sender, (*daemon)->pid())
      << "READY=1 must come from the main process (NotifyAccess=main)";
  // Type=notify means: once READY=1 is sent, clients can be served.
  EXPECT_TRUE(CanConnect((*daemon)->socket_path()))
      << "READY=1 was sent before the socket accepted connections";
  auto client = (*daemon)->NewClient();
  auto identity = client->WhoAmI();
  ASSERT_TRUE(identity.ok()) << identity.status();

  (*daemon)->Signal(SIGHUP);
  std::vector<std::string> before_reloading;
  std::optional<Notification> reloading =
      notify.ReceiveUntil("RELOADING=1", absl::Seconds(30), &before_reloading);
  ASSERT_TRUE(reloading.has_value()) << "no RELOADING=1 after SIGHUP; log:\n"
                                     << (*daemon)->Log();
  std::vector<std::string> before_reloaded;
  std::optional<Notification> reloaded =
      notify.ReceiveUntil("READY=1", absl::Seconds(30), &before_reloaded);
  ASSERT_TRUE(reloaded.has_value()) << "no READY=1 after the reload; log:\n"
                                    << (*daemon)->Log();
  EXPECT_EQ(reloaded->sender, (*daemon)->pid());

  (*daemon)->Signal(SIGTERM);
  std::vector<std::string> before_stopping;
  std::optional<Notification> stopping =
      notify.ReceiveUntil("STOPPING=1", absl::Seconds(30), &before_stopping);
  ASSERT_TRUE(stopping.has_value()) << "no STOPPING=1 after SIGTERM; log:\n"
                                    << (*daemon)->Log();
  EXPECT_EQ(stopping->sender, (*daemon)->pid());
  for (const std::string& text : before_stopping) {
    EXPECT_FALSE(absl::StrContains(text, "READY=1")) << text;
  }
  std::optional<int> status = (*daemon)->WaitForExit(absl::Seconds(60));
  ASSERT_TRUE(status.has_value()) << "durabled still running 60s after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << DescribeWaitStatus(*status) << "\n"
      << (*daemon)->Log();
}

TEST(SdNotifyTest, FailedStartSendsNoReadyAndExitsNonZero) {
  NotifySocket notify;
  TestDaemonOptions options;
  options.environment = {notify.environment()};
  options.wait_for_socket = "";
  // A rule whose root does not exist: the start is refused.
  options.config =
      "socket { path: \"{base}/durabled.sock\" mode: 0600 }\n"
      "rule { root: \"{base}/missing\" allow_uid: {uid} }\n";
  auto daemon = TestDaemon::Start(options);
  ASSERT_TRUE(daemon.ok()) << daemon.status();

  std::optional<int> status = (*daemon)->WaitForExit(absl::Seconds(30));
  ASSERT_TRUE(status.has_value()) << "durabled kept running with a bad config";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0)
      << DescribeWaitStatus(*status);
  EXPECT_TRUE(absl::StrContains((*daemon)->Log(), "cannot start"))
      << (*daemon)->Log();
  // Everything it sent is already queued: it has exited.
  while (std::optional<Notification> n = notify.Receive(absl::ZeroDuration())) {
    EXPECT_FALSE(n->Has("READY=1")) << "READY=1 from a start that failed";
  }
}

}  // namespace
}  // namespace durable::test
