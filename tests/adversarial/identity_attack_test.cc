// Attacks on caller identity. The daemon knows a caller only from the
// kernel (SO_PEERCRED, SO_PEERGROUPS at accept); anything the caller sends
// -- metadata such as "uid: 0", "x-durabled-uid", "authorization", a forged
// :authority naming another connection's "fd:N" -- must change nothing.
// Callers that no rule could ever allow are closed at accept, before gRPC
// reads a byte; a uid allowed only through a supplementary group is allowed
// (and only there).
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/adversarial/adversarial_support.h"

namespace durable::test::adversarial {
namespace {

using testing::Contains;
using testing::ElementsAre;
using testing::HasSubstr;
using testing::Not;

// data/      the test's uid and kNobody
// rootonly/  the test's uid only (root in CI)
// group/     members of kSharedGroup (primary or supplementary)
constexpr char kIdentityConfig[] =
    "socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
    "rule { root: \"{base}/data\" allow_uid: {uid} allow_uid: 65534 }\n"
    "rule { root: \"{base}/rootonly\" allow_uid: {uid} }\n"
    "rule { root: \"{base}/group\" allow_gid: 4242 create_owner: OWNER_CALLER "
    "}\n";

// Metadata a confused server might trust.
const std::vector<std::string>& ForgedMetadata() {
  static const std::vector<std::string> md = {
      "--md=uid:0",
      "--md=gid:0",
      "--md=pid:1",
      "--md=x-durabled-uid:0",
      "--md=x-durabled-gid:0",
      "--md=x-durabled-peer:fd:0",
      "--md=peer:fd:3",
      "--md=authorization:Bearer root",
      "--md=x-forwarded-for:127.0.0.1",
      "--md=x-remote-user:root",
      "--md=x-durabled-credentials-bin:AAAAAAAAAAA=",
  };
  return md;
}

std::vector<std::string> With(std::vector<std::string> args,
                              const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

class IdentityAttack : public AdversarialTest {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "needs root to run callers as other uids";
    ASSERT_NO_FATAL_FAILURE(
        StartDaemon(kIdentityConfig, {"rootonly", "group"}, {"data"}));
    WriteFileOrDie(RootOnly() + "/existing", "root's file");
    WriteFileOrDie(Group() + "/existing", "group's file");
  }
  std::string RootOnly() const { return Base() + "/rootonly"; }
  std::string Group() const { return Base() + "/group"; }
};

TEST_F(IdentityAttack, ForgedMetadataIsIgnoredByWhoAmI) {
  ArmSentinel();
  HelperResult result =
      AttackAs(CredentialsOf(kNobody), "whoami", ForgedMetadata());
  EXPECT_CODE(result, grpc::StatusCode::OK);
  EXPECT_EQ(result.Field("uid"), "65534");
  EXPECT_EQ(result.Field("gid"), "65534");
  EXPECT_EQ(result.Field("pid"), result.Field("self_pid"));
  EXPECT_THAT(result.All("grant"), ElementsAre(Data()));
}

TEST_F(IdentityAttack, ForgedMetadataDoesNotUnlockAnotherRoot) {
  ArmSentinel();
  EXPECT_CODE(AttackAs(CredentialsOf(kNobody), "write",
                       With({PathArg(RootOnly() + "/existing"), DataArg("x")},
                            ForgedMetadata())),
              grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(AttackAs(CredentialsOf(kNobody), "write",
                       With({PathArg(RootOnly() + "/new"), DataArg("x")},
                            ForgedMetadata())),
              grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(
      AttackAs(CredentialsOf(kNobody), "remove",
               With({PathArg(RootOnly() + "/existing")}, ForgedMetadata())),
      grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(
      AttackAs(CredentialsOf(kNobody), "stat",
               With({PathArg(RootOnly() + "/existing")}, ForgedMetadata())),
      grpc::StatusCode::PERMISSION_DENIED);
  // The records name the real caller.
  EXPECT_THAT(daemon_->Log(), HasSubstr("uid=65534 gid=65534"));
  EXPECT_THAT(daemon_->Log(), Not(HasSubstr("result=OK")));
}

TEST_F(IdentityAttack, ForgedAuthorityNamingAnotherConnection) {
  // The handler maps the transport's peer string "fd:N" to credentials; a
  // client-chosen :authority of "fd:N" must not be confused with it.
  ArmSentinel();
  for (const char* authority : {"fd:0", "fd:3", "fd:5", "unix:", "localhost"}) {
    const std::string flag = absl::StrCat("--authority=", authority);
    HelperResult who = AttackAs(CredentialsOf(kNobody), "whoami", {flag});
    EXPECT_CODE(who, grpc::StatusCode::OK) << authority;
    EXPECT_EQ(who.Field("uid"), "65534") << authority;
    EXPECT_CODE(
        AttackAs(CredentialsOf(kNobody), "write",
                 {flag, PathArg(RootOnly() + "/existing"), DataArg("x")}),
        grpc::StatusCode::PERMISSION_DENIED)
        << authority;
  }
}

TEST_F(IdentityAttack, OperatorStatsRefusedToUnprivilegedCallers) {
  ArmSentinel();
  EXPECT_CODE(AttackAs(CredentialsOf(kNobody), "stats", ForgedMetadata()),
              grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(AttackAs(CredentialsOf(kGroupMember, {kSharedGroup, 0}), "stats"),
              grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(IdentityAttack, UnlistedUidIsClosedAtAccept) {
  ArmSentinel();
  HelperResult who = AttackAs(CredentialsOf(kStranger), "whoami");
  EXPECT_CODE(who, grpc::StatusCode::UNAVAILABLE);
  HelperResult write = AttackAs(CredentialsOf(kStranger), "write",
                                {PathArg(Data() + "/f"), DataArg("x")});
  EXPECT_CODE(write, grpc::StatusCode::UNAVAILABLE);
  EXPECT_FALSE(PathExists(Data() + "/f"));
  EXPECT_THAT(daemon_->Log(),
              HasSubstr("connection refused: no rule allows uid 65533"));
  EXPECT_THAT(daemon_->Log(), Not(HasSubstr("audit")));
}

TEST_F(IdentityAttack, UnlistedUidWithForgedMetadataIsClosedAtAccept) {
  ArmSentinel();
  std::vector<std::string> args = {"--md=uid:65534", "--md=x-durabled-uid:0",
                                   "--authority=fd:3"};
  args.insert(args.end(), ForgedMetadata().begin(), ForgedMetadata().end());
  EXPECT_CODE(AttackAs(CredentialsOf(kStranger), "whoami", args),
              grpc::StatusCode::UNAVAILABLE);
  EXPECT_CODE(AttackAs(CredentialsOf(kStranger), "write",
                       With({PathArg(Data() + "/f"), DataArg("x")}, args)),
              grpc::StatusCode::UNAVAILABLE);
  EXPECT_FALSE(PathExists(Data() + "/f"));
}

TEST_F(IdentityAttack, UnlistedUidRawConnectionIsClosedBeforeAnyByte) {
  ArmSentinel();
  // A valid HTTP/2 client preface: the daemon must hang up regardless.
  HelperResult result =
      AttackAs(CredentialsOf(kStranger), "raw",
               {"--bytes-hex=" +
                    absl::BytesToHexString("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
                "--hold-ms=3000"});
  EXPECT_EQ(result.Field("connected"), "1") << result.Describe();
  EXPECT_EQ(result.Field("peer_closed"), "1") << result.Describe();
  EXPECT_THAT(daemon_->Log(), HasSubstr("connection refused"));
}

TEST_F(IdentityAttack, UnlistedUidDurablectlExitsSeven) {
  ArmSentinel();
  CommandResult result = Durablectl(kStranger, {"write", Data() + "/f"}, "x");
  EXPECT_EQ(result.exit_code, 7) << result.err;
  EXPECT_THAT(result.err, HasSubstr("UNAVAILABLE"));
  EXPECT_FALSE(PathExists(Data() + "/f"));
}

TEST_F(IdentityAttack, SupplementaryGroupMemberIsAllowedOnlyThere) {
  // uid 65531 is in no rule; its supplementary group 4242 is. It is let in
  // at accept, may write group/, and nothing else.
  ProcessCredentials member = CredentialsOf(kGroupMember, {kSharedGroup});
  roots_.insert(Group());  // the member may write there
  ArmSentinel();
  HelperResult who = AttackAs(member, "whoami");
  EXPECT_CODE(who, grpc::StatusCode::OK);
  EXPECT_EQ(who.Field("uid"), "65531");
  EXPECT_EQ(who.Field("groups"), "4242");
  EXPECT_THAT(who.All("grant"), ElementsAre(Group()));

  HelperResult write = AttackAs(
      member, "write", {PathArg(Group() + "/from-member"), DataArg("member")});
  EXPECT_CODE(write, grpc::StatusCode::OK);
  EXPECT_EQ(*ReadFile(Group() + "/from-member"), "member");
  struct stat st;
  ASSERT_EQ(lstat((Group() + "/from-member").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kGroupMember);  // OWNER_CALLER: the real caller

  EXPECT_CODE(AttackAs(member, "write", {PathArg(Data() + "/f"), DataArg("x")}),
              grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(
      AttackAs(member, "write", {PathArg(RootOnly() + "/f"), DataArg("x")}),
      grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(IdentityAttack, SameUidWithoutTheGroupIsClosedAtAccept) {
  ArmSentinel();
  HelperResult result = AttackAs(CredentialsOf(kGroupMember), "write",
                                 {PathArg(Group() + "/f"), DataArg("x")});
  EXPECT_CODE(result, grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(daemon_->Log(),
              HasSubstr("connection refused: no rule allows uid 65531"));
}

TEST_F(IdentityAttack, PrimaryGidMemberIsAllowed) {
  ProcessCredentials member{kGroupMember, kSharedGroup, {}, true};
  roots_.insert(Group());
  ArmSentinel();
  HelperResult result = AttackAs(
      member, "write", {PathArg(Group() + "/primary"), DataArg("primary")});
  EXPECT_CODE(result, grpc::StatusCode::OK);
  EXPECT_EQ(*ReadFile(Group() + "/primary"), "primary");
}

TEST_F(IdentityAttack, RootGroupMembershipDoesNotMakeACallerRoot) {
  // nobody with supplementary group 0: a uid-0-only root stays closed.
  ArmSentinel();
  ProcessCredentials nobody_in_root_group = CredentialsOf(kNobody, {0});
  HelperResult who = AttackAs(nobody_in_root_group, "whoami");
  EXPECT_EQ(who.Field("uid"), "65534");
  EXPECT_THAT(who.All("grant"), Not(Contains(RootOnly())));
  EXPECT_CODE(AttackAs(nobody_in_root_group, "write",
                       {PathArg(RootOnly() + "/existing"), DataArg("x")}),
              grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace durable::test::adversarial

int main(int argc, char** argv) {
  return durable::test::adversarial::AdversarialMain(argc, argv);
}
