// Connection identity under churn: many short-lived client processes under
// two uids connect, call, get SIGKILLed in the middle of calls, and new ones
// reconnect, for about 12 seconds. Each uid may write only its own root.
// Afterwards the audit log, the files and their owners must show that no
// call was ever attributed to the wrong caller.
//
// Why this can hold at all. durabled learns a caller's uid only at accept
// (SO_PEERCRED), records it under the connection's fd number N
// (server/peer_registry.h), and gRPC later names the connection "fd:N" in
// ServerContext::peer(), which a handler maps back to the credentials. That
// mapping is only sound if fd N cannot be closed and handed to a new
// connection (of another uid) while a call of the old connection can still
// look it up. In gRPC 1.51 it cannot: the chttp2 server transport owns the
// endpoint and with it the fd; the fd is closed (grpc_fd_orphan) only when
// the endpoint is destroyed, which happens when the transport is destroyed,
// and every call (stream) holds a reference on its transport until the call
// object is destroyed, i.e. after the handler returned or the reactor's
// OnDone ran. A client that dies mid-call only shuts the transport down; the
// fd number stays allocated until the last call on it is gone, and the
// listener registers a new connection's credentials before gRPC ever sees
// its fd. A gRPC upgrade that closes the fd at transport shutdown (or that
// dispatches buffered calls after closing it) would break this silently:
// the kernel hands out the lowest free fd number, so under this churn a
// killed uid-B connection's number is quickly reused by a uid-A connection,
// and a late lookup would attribute a call to the wrong uid. This test
// exists to catch exactly that; keep it in CI.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/adversarial/adversarial_support.h"

namespace durable::test::adversarial {
namespace {

using testing::Ge;

constexpr absl::Duration kChurnTime = absl::Seconds(12);
constexpr int kProcessesPerUid = 3;

std::string Content(uid_t uid, pid_t pid, int64_t i) {
  return absl::StrCat("uid=", uid, " pid=", pid, " i=", i, "\n");
}

// The client process: loops until --seconds are over (or it is killed),
// each round on a fresh connection: WhoAmI (must name this very process),
// a write into its own root, a write into the other uid's root (must be
// PERMISSION_DENIED), and every third round a stream it may be killed in.
int Churn(const helper::Flags& flags) {
  const uid_t uid = getuid();
  const pid_t pid = getpid();
  const std::string own_root = flags.Get("own-root");
  const std::string other_root = flags.Get("other-root");
  const absl::Time deadline =
      absl::Now() + absl::Milliseconds(flags.Int("run-ms", 1000));
  absl::BitGen bits;
  for (int64_t i = 0; absl::Now() < deadline; ++i) {
    auto stub = durable::v1::DurableWriter::NewStub(helper::MakeChannel(flags));
    {
      grpc::ClientContext context;
      helper::Prepare(flags, &context);
      durable::v1::WhoAmIRequest request;
      durable::v1::WhoAmIResponse response;
      grpc::Status status = stub->WhoAmI(&context, request, &response);
      if (!status.ok()) {
        helper::Emit("whoami_failed",
                     absl::StrCat(CodeName(status.error_code()), " ",
                                  status.error_message()));
      } else if (response.uid() != uid ||
                 response.pid() != static_cast<int32_t>(pid)) {
        helper::Emit("misattributed",
                     absl::StrCat("I am uid ", uid, " pid ", pid,
                                  "; the daemon says uid ", response.uid(),
                                  " pid ", response.pid()));
      }
    }
    // A few names per uid, shared by all its processes (which also makes
    // them contend for the same targets).
    const std::string name = absl::StrCat("u", uid, "-", i % 8);
    {
      grpc::ClientContext context;
      helper::Prepare(flags, &context);
      durable::v1::WriteRequest request;
      request.set_path(own_root + "/" + name);
      request.set_data(Content(uid, pid, i));
      durable::v1::WriteResponse response;
      grpc::Status status = stub->Write(&context, request, &response);
      if (status.ok()) {
        helper::Emit("wrote", request.path());
      } else {
        helper::Emit("own_write_failed",
                     absl::StrCat(CodeName(status.error_code()), " ",
                                  status.error_message()));
      }
    }
    {
      grpc::ClientContext context;
      helper::Prepare(flags, &context);
      durable::v1::WriteRequest request;
      request.set_path(other_root + "/" + name);
      request.set_data(Content(uid, pid, i));
      durable::v1::WriteResponse response;
      grpc::Status status = stub->Write(&context, request, &response);
      if (status.ok()) {
        helper::Emit("escaped", request.path());
      } else if (status.error_code() != grpc::StatusCode::PERMISSION_DENIED) {
        helper::Emit("cross_unexpected",
                     absl::StrCat(CodeName(status.error_code()), " ",
                                  status.error_message()));
      }
    }
    if (i % 3 == 0) {
      grpc::ClientContext context;
      helper::Prepare(flags, &context);
      durable::v1::WriteResponse response;
      auto writer = stub->WriteStream(&context, &response);
      durable::v1::WriteChunk chunk;
      chunk.mutable_header()->set_path(own_root + "/s-" + name);
      chunk.set_data(Content(uid, pid, i));
      writer->Write(chunk);
      // The parent's SIGKILL often lands here, mid-stream.
      absl::SleepFor(absl::Milliseconds(absl::Uniform(bits, 0, 80)));
      durable::v1::WriteChunk finish;
      finish.set_finish(true);
      if (writer->Write(finish)) writer->WritesDone();
      grpc::Status status = writer->Finish();
      if (status.ok()) helper::Emit("wrote", own_root + "/s-" + name);
    }
    helper::Emit("round", i);
  }
  return 0;
}

struct Client {
  std::unique_ptr<HelperProcess> process;
  uid_t uid;
  std::optional<absl::Time> kill_at;
};

class IdentityChurnAttack : public AdversarialTest {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "needs root to run callers as two uids";
    ASSERT_NO_FATAL_FAILURE(
        StartDaemon("socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
                    "limits { stream_idle_timeout_ms: 3000 }\n"
                    "rule { root: \"{base}/a\" allow_uid: {uid} create_owner: "
                    "OWNER_CALLER }\n"
                    "rule { root: \"{base}/b\" allow_uid: 65534 create_owner: "
                    "OWNER_CALLER }\n",
                    {"a", "b"}, {"a", "b"}));
  }
  std::string RootOf(uid_t uid) const {
    return Base() + (uid == kNobody ? "/b" : "/a");
  }
};

TEST_F(IdentityChurnAttack, NoCallIsEverAttributedToTheWrongCaller) {
  ArmSentinel();
  const uid_t uid_a = getuid();
  const uid_t uid_b = kNobody;
  std::map<pid_t, uid_t> uid_of_pid;
  std::set<pid_t> ambiguous_pids;  // a pid reused across uids (unlikely)
  std::vector<HelperResult> finished;
  std::vector<Client> running;
  absl::BitGen bits;
  int kills = 0;

  const absl::Time end = absl::Now() + kChurnTime;
  while (absl::Now() < end || !running.empty()) {
    // Keep kProcessesPerUid clients per uid running until the end.
    for (uid_t uid : {uid_a, uid_b}) {
      int live = 0;
      for (const Client& c : running) live += c.uid == uid ? 1 : 0;
      for (; absl::Now() < end && live < kProcessesPerUid; ++live) {
        ProcessCredentials who =
            uid == getuid() ? OwnCredentials() : CredentialsOf(uid);
        const int run_ms = absl::Uniform(bits, 200, 1500);
        Client client;
        client.uid = uid;
        client.process = HelperProcess::Spawn(
            who, {"churn", "--socket=" + Socket(), "--own-root=" + RootOf(uid),
                  "--other-root=" + RootOf(uid == uid_a ? uid_b : uid_a),
                  absl::StrCat("--run-ms=", run_ms), "--timeout-ms=10000"});
        ASSERT_NE(client.process, nullptr);
        if (absl::Bernoulli(bits, 0.6)) {
          client.kill_at =
              absl::Now() + absl::Milliseconds(absl::Uniform(bits, 40, 1200));
        }
        const pid_t pid = client.process->pid();
        auto [it, inserted] = uid_of_pid.emplace(pid, uid);
        if (!inserted && it->second != uid) ambiguous_pids.insert(pid);
        running.push_back(std::move(client));
      }
    }
    for (auto it = running.begin(); it != running.end();) {
      if (it->kill_at.has_value() && absl::Now() >= *it->kill_at) {
        it->process->Kill(SIGKILL);
        it->kill_at.reset();
        ++kills;
      }
      if (it->process->TryReap()) {
        finished.push_back(it->process->result());
        it = running.erase(it);
      } else {
        ++it;
      }
    }
    absl::SleepFor(absl::Milliseconds(5));
  }

  const absl::Time churn_over = absl::Now();
  // The daemon finishes the calls of killed clients (and removes their temp
  // files) on its own time.
  ASSERT_TRUE(WaitUntil([&] {
    return TempFilesUnder(RootOf(uid_a)).empty() &&
           TempFilesUnder(RootOf(uid_b)).empty();
  })) << "temp files left behind by killed streams";

  std::cout << "churn: " << finished.size() << " client processes, " << kills
            << " killed; waited " << (absl::Now() - churn_over)
            << " for temp files of killed calls\n";
  // 1. What each client saw.
  int64_t ok_writes = 0;
  for (const HelperResult& result : finished) {
    EXPECT_THAT(result.All("misattributed"), testing::IsEmpty());
    EXPECT_THAT(result.All("escaped"), testing::IsEmpty());
    EXPECT_THAT(result.All("cross_unexpected"), testing::IsEmpty());
    EXPECT_THAT(result.All("own_write_failed"), testing::IsEmpty());
    ok_writes += static_cast<int64_t>(result.All("wrote").size());
  }
  EXPECT_THAT(static_cast<int>(finished.size()), Ge(20));
  EXPECT_THAT(kills, Ge(10));
  EXPECT_THAT(ok_writes, Ge(50));

  // 2. Every audit record names the process that made the call, and no
  // write of one uid succeeded in the other's root.
  const std::vector<AuditRecord> records = AuditRecords(daemon_->Log());
  EXPECT_THAT(records.size(), Ge(100u));
  std::cout << "churn: " << ok_writes << " writes succeeded, " << records.size()
            << " audit records checked\n";
  // SIGKILL landed in the middle of calls, not only between them. (How
  // many is luck: a kill must fall inside a call, and since writes are
  // committed in batches the calls are shorter. Under ASan, 2 have been
  // seen.)
  EXPECT_THAT(std::count_if(records.begin(), records.end(),
                            [](const AuditRecord& record) {
                              return record.result == "CANCELLED";
                            }),
              Ge(1));
  for (const AuditRecord& record : records) {
    const pid_t pid = static_cast<pid_t>(record.pid);
    auto known = uid_of_pid.find(pid);
    ASSERT_NE(known, uid_of_pid.end())
        << "audit record of a pid this test never started: " << record.line;
    if (ambiguous_pids.count(pid) != 0) continue;
    const uid_t uid = known->second;
    EXPECT_EQ(record.uid, static_cast<int64_t>(uid)) << record.line;
    EXPECT_EQ(record.gid, static_cast<int64_t>(uid == uid_a ? getgid() : uid))
        << record.line;
    const uid_t other = uid == uid_a ? uid_b : uid_a;
    if (record.result == "OK") {
      EXPECT_TRUE(absl::StartsWith(record.path, RootOf(uid) + "/"))
          << record.line;
    }
    if (absl::StartsWith(record.path, RootOf(other) + "/")) {
      EXPECT_EQ(record.result, "PERMISSION_DENIED") << record.line;
    }
  }

  // 3. Every file was written by a process of the root's uid, is owned by
  // that uid, and holds what such a process wrote.
  const std::regex name_pattern("(s-)?u([0-9]+)-[0-7]");
  const std::regex content_pattern("uid=([0-9]+) pid=([0-9]+) i=([0-9]+)\n");
  for (uid_t uid : {uid_a, uid_b}) {
    const std::vector<std::string> names = ListDirectory(RootOf(uid));
    EXPECT_THAT(names.size(), Ge(8u)) << RootOf(uid);
    for (const std::string& name : names) {
      const std::string path = RootOf(uid) + "/" + name;
      std::smatch match;
      ASSERT_TRUE(std::regex_match(name, match, name_pattern)) << path;
      EXPECT_EQ(std::stoul(match[2]), uid) << path;
      const std::string content = *ReadFile(path);
      ASSERT_TRUE(std::regex_match(content, match, content_pattern))
          << path << ": " << content;
      EXPECT_EQ(std::stoul(match[1]), uid) << path << ": " << content;
      const pid_t writer_pid = static_cast<pid_t>(std::stol(match[2]));
      ASSERT_EQ(uid_of_pid.count(writer_pid), 1u) << path << ": " << content;
      if (ambiguous_pids.count(writer_pid) == 0) {
        EXPECT_EQ(uid_of_pid[writer_pid], uid) << path << ": " << content;
      }
      struct stat st;
      ASSERT_EQ(lstat(path.c_str(), &st), 0) << path;
      EXPECT_EQ(st.st_uid, uid) << path;  // OWNER_CALLER: the real caller
    }
  }
  EXPECT_TRUE(IsAlive(daemon_->pid()));
}

}  // namespace
}  // namespace durable::test::adversarial

int main(int argc, char** argv) {
  return durable::test::adversarial::AdversarialMain(
      argc, argv, &durable::test::adversarial::Churn);
}
