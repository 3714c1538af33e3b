// Attacks through names the daemon reserves or logs: writing, statting or
// removing a name in the daemon's temp namespace (the start-up sweep would
// delete an acknowledged file there), forging log lines through names the
// daemon logs, and learning other tenants' roots from denials.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "tests/adversarial/adversarial_support.h"

namespace durable::test::adversarial {
namespace {

using testing::HasSubstr;
using testing::Not;

std::string TempName(uint64_t value) {
  return absl::StrFormat("%s%016x", kTempFilePrefix, value);
}

class ReservedNameAttack : public AdversarialTest {};

TEST_F(ReservedNameAttack, TempNamespaceIsRefusedForWriteStatAndRemove) {
  // Names the sweep would delete, and any other name in the namespace.
  const std::vector<std::string> names = {
      TempName(0x0123456789abcdef), TempName(0), std::string(kTempFilePrefix),
      absl::StrCat(kTempFilePrefix, "x"), absl::StrCat(kTempFilePrefix, "0.d")};
  WriteFileOrDie(Data() + "/" + TempName(0xfeed), "planted before the test");
  ArmSentinel();
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    const std::string path = Data() + "/" + name;
    HelperResult written = AttackWrite(path, "acknowledged?");
    EXPECT_CODE(written, grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(written.message(), HasSubstr("reserved"));
    EXPECT_FALSE(PathExists(path));
    // Also as a parent directory component.
    EXPECT_CODE(AttackWrite(path + "/leaf", "x", {"--parents"}),
                grpc::StatusCode::INVALID_ARGUMENT);
  }
  // Stat and Remove of a temp-named file refuse before touching it.
  const std::string planted = Data() + "/" + TempName(0xfeed);
  EXPECT_CODE(Attack("stat", {PathArg(planted)}),
              grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_CODE(Attack("remove", {PathArg(planted)}),
              grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ReadFile(planted).value_or("(gone)"), "planted before the test");
  ExpectDaemonServes();
}

TEST_F(ReservedNameAttack, EveryAcknowledgedFileSurvivesCrashAndRestart) {
  // The attacker writes whatever names it likes; the daemon is killed and
  // restarted (its start-up sweep runs). Every file it acknowledged is still
  // there with its content.
  const std::vector<std::string> names = {
      TempName(0x00000000deadbeef), "plain", ".hidden",
      absl::StrCat(".durabled-tmp", "0123456789abcdef"),  // no dot: allowed
      absl::StrCat("x", kTempFilePrefix, "0123456789abcdef")};
  ArmSentinel();
  std::vector<std::string> acknowledged;
  for (const std::string& name : names) {
    const std::string path = Data() + "/" + name;
    if (AttackWrite(path, "content of " + name).code() ==
        grpc::StatusCode::OK) {
      acknowledged.push_back(name);
    }
  }
  EXPECT_EQ(acknowledged.size(), names.size() - 1);
  ExpectOutsideUnchanged();
  daemon_->StopWith(SIGKILL);
  ASSERT_TRUE(daemon_->Restart().ok()) << daemon_->Log();
  ArmSentinel();  // a restart rebinds the socket; the rest stays put
  for (const std::string& name : acknowledged) {
    absl::StatusOr<std::string> content = ReadFile(Data() + "/" + name);
    ASSERT_TRUE(content.ok())
        << "acknowledged file " << name
        << " is gone after a restart: " << content.status();
    EXPECT_EQ(*content, "content of " + name);
  }
}

TEST_F(ReservedNameAttack, NamesInLogLinesCannotForgeLines) {
  // Before the start, someone with write access to the root leaves a
  // directory whose name carries a newline and a journald priority prefix,
  // with a leftover temp file inside that the sweep removes and logs.
  const std::string evil = "x\n<0>durabled: forged emergency\x1b[2J";
  daemon_->StopWith(SIGTERM);
  ASSERT_EQ(mkdir((Data() + "/" + evil).c_str(), 0755), 0);
  WriteFileOrDie(Data() + "/" + evil + "/" + TempName(0xabc), "leftover");
  ASSERT_TRUE(daemon_->Restart().ok()) << daemon_->Log();
  ArmSentinel();
  // The sweep runs before the daemon listens, so its lines are in the log.
  const std::string log = daemon_->Log();
  EXPECT_THAT(log, HasSubstr("removed leftover temp file"));
  EXPECT_FALSE(PathExists(Data() + "/" + evil + "/" + TempName(0xabc)));
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    EXPECT_FALSE(absl::StartsWith(line, "<0>")) << "forged line: " << line;
    EXPECT_THAT(std::string(line), Not(HasSubstr("\x1b")));
  }
  EXPECT_THAT(log, HasSubstr("x\\n<0>durabled: forged"));
}

constexpr char kTenantsConfig[] =
    "socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
    "rule { root: \"{base}/data\" allow_uid: {attacker} }\n"
    "rule { root: \"{base}/data/hidden-tenant-root\" allow_uid: 65532 }\n"
    "rule { root: \"{base}/secret-tenant-root\" allow_uid: 65532 }\n";

TEST_F(ReservedNameAttack, DenialsDoNotRevealOtherRulesRoots) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon(
      absl::StrReplaceAll(
          kTenantsConfig,
          {{"{attacker}", std::to_string(AttackerCredentials().uid)}}),
      {"data/hidden-tenant-root", "secret-tenant-root"}, {"data"}));
  ArmSentinel();
  // Under a nested root of another tenant, and under a sibling root: the
  // denial names the caller's path, never the root of the rule that denied.
  HelperResult nested =
      AttackWrite(Data() + "/hidden-tenant-root/sub/deeper/file");
  EXPECT_CODE(nested, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(nested.message(), Not(HasSubstr("hidden-tenant-root/sub\":")))
      << "sanity: the message starts with the caller's own path";
  HelperResult sibling =
      Attack("stat", {PathArg(Base() + "/secret-tenant-root/a/b")});
  EXPECT_CODE(sibling, grpc::StatusCode::PERMISSION_DENIED);
  for (const HelperResult* result : {&nested, &sibling}) {
    // Strip the caller's own path from the message; what remains must not
    // mention either tenant root.
    std::string reason = result->message();
    reason = reason.substr(reason.find(": ") + 2);
    EXPECT_THAT(reason, Not(HasSubstr("tenant-root"))) << reason;
    EXPECT_THAT(reason, Not(HasSubstr(Base()))) << reason;
  }
}

}  // namespace
}  // namespace durable::test::adversarial

int main(int argc, char** argv) {
  return durable::test::adversarial::AdversarialMain(argc, argv);
}
