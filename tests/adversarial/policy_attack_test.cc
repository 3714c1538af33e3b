// Attacks on the policy's boundaries: prefix confusion between roots
// (/srv/a vs /srv/ab), a nested root of another uid inside the attacker's
// root, the root directory itself as a target, another uid's root (Write,
// Stat, Remove, WhoAmI), modes beyond max_mode (setuid/setgid/sticky),
// parent creation where the rule forbids it, and squatting the daemon's
// temp-file names (also across a restart, where the start-up sweep runs).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "tests/adversarial/adversarial_support.h"

namespace durable::test::adversarial {
namespace {

using testing::Contains;
using testing::ElementsAre;
using testing::IsEmpty;
using testing::Not;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

std::string AttackerUid() { return std::to_string(AttackerCredentials().uid); }

class PolicyAttack : public AdversarialTest {
 protected:
  // {attacker} in `config` becomes the attacker's uid.
  void Restart(const std::string& config, const std::vector<std::string>& dirs,
               const std::vector<std::string>& attacker_roots) {
    ASSERT_NO_FATAL_FAILURE(StartDaemon(
        absl::StrReplaceAll(config, {{"{attacker}", AttackerUid()}}), dirs,
        attacker_roots));
  }
};

constexpr char kTwoTenantConfig[] =
    "socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
    "rule { root: \"{base}/a\" allow_uid: {attacker} }\n"
    "rule { root: \"{base}/ab\" allow_uid: 65532 }\n"
    "rule { root: \"{base}/a/private\" allow_uid: 65532 }\n";

TEST_F(PolicyAttack, PrefixConfusionWithSiblingRootOfAnotherUid) {
  // The attacker may write under {base}/a; {base}/ab is another tenant's
  // root whose path merely starts with the same bytes.
  ASSERT_NO_FATAL_FAILURE(
      Restart(kTwoTenantConfig, {"a", "ab", "a/private"}, {"a"}));
  WriteFileOrDie(Base() + "/ab/tenant-file", "tenant data");
  ArmSentinel();
  EXPECT_CODE(AttackWrite(Base() + "/ab/tenant-file"),
              grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(AttackWrite(Base() + "/ab/new"),
              grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(Attack("remove", {PathArg(Base() + "/ab/tenant-file")}),
              grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(PolicyAttack, PrefixConfusionWithUnruledSibling) {
  // {base}/abc is under no rule at all; {base}/a is the attacker's.
  ASSERT_NO_FATAL_FAILURE(
      Restart(kTwoTenantConfig, {"a", "ab", "a/private", "abc"}, {"a"}));
  ArmSentinel();
  EXPECT_CODE(AttackWrite(Base() + "/abc/f"),
              grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(AttackWrite(Base() + "/a.f"),
              grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(AttackWrite(Base() + "/a-"), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(PolicyAttack, NestedRootOfAnotherUidInsideAttackersRoot) {
  // The longest root wins: a/private belongs to uid 65532 although a/ is
  // the attacker's.
  ASSERT_NO_FATAL_FAILURE(
      Restart(kTwoTenantConfig, {"a", "ab", "a/private"}, {"a"}));
  WriteFileOrDie(Base() + "/a/private/secret", "tenant secret");
  Protect(Base() + "/a/private");
  ArmSentinel();
  EXPECT_CODE(AttackWrite(Base() + "/a/private/secret"),
              grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(
      AttackWrite(Base() + "/a/private/sub/f", "pwned", {"--create-parents"}),
      grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(Attack("stat", {PathArg(Base() + "/a/private/secret")}),
              grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(Attack("remove", {PathArg(Base() + "/a/private/secret")}),
              grpc::StatusCode::PERMISSION_DENIED);
  // The attacker's own root still works.
  EXPECT_CODE(AttackWrite(Base() + "/a/mine"), grpc::StatusCode::OK);
}

TEST_F(PolicyAttack, RootDirectoryItselfAsTarget) {
  Protect(Data());
  ArmSentinel();
  EXPECT_CODE(AttackWrite(Data()), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(Attack("remove", {PathArg(Data())}),
              grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(AttackWrite(Base()), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(AttackWrite("/"), grpc::StatusCode::INVALID_ARGUMENT);
}

// --- Another uid's root ---------------------------------------------------

constexpr char kNeighbourConfig[] =
    "socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
    "rule { root: \"{base}/data\" allow_uid: {attacker} }\n"
    "rule { root: \"{base}/neighbour\" allow_uid: 65532 }\n";

class CrossUidAttack : public PolicyAttack {
 protected:
  void SetUp() override {
    PolicyAttack::SetUp();
    ASSERT_NO_FATAL_FAILURE(Restart(kNeighbourConfig, {"neighbour"}, {"data"}));
    WriteFileOrDie(Neighbour() + "/state.json", "{\"neighbour\": true}");
    chmod((Neighbour() + "/state.json").c_str(), 0600);
  }
  std::string Neighbour() const { return Base() + "/neighbour"; }
};

TEST_F(CrossUidAttack, WriteIntoAnotherUidsRoot) {
  ArmSentinel();
  HelperResult result = AttackWrite(Neighbour() + "/state.json");
  EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(result.message(), testing::HasSubstr("not allowed"));
  EXPECT_CODE(AttackWrite(Neighbour() + "/new", "pwned", {"--if-absent"}),
              grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(CrossUidAttack, StatOfAnotherUidsFileLeaksNothing) {
  ArmSentinel();
  HelperResult result = Attack("stat", {PathArg(Neighbour() + "/state.json")});
  EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(result.Field("size"), "");
  // A missing file answers the same: existence does not leak either.
  HelperResult missing = Attack("stat", {PathArg(Neighbour() + "/missing")});
  EXPECT_CODE(missing, grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(CrossUidAttack, RemoveOfAnotherUidsFile) {
  ArmSentinel();
  EXPECT_CODE(Attack("remove", {PathArg(Neighbour() + "/state.json")}),
              grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(PathExists(Neighbour() + "/state.json"));
}

TEST_F(CrossUidAttack, WhoAmIDoesNotShowAnotherUidsRoot) {
  ArmSentinel();
  HelperResult result = Attack("whoami");
  EXPECT_CODE(result, grpc::StatusCode::OK);
  EXPECT_EQ(result.Field("uid"), AttackerUid());
  EXPECT_THAT(result.All("grant"), ElementsAre(Data()));
  EXPECT_THAT(result.All("grant"), Not(Contains(Neighbour())));
  EXPECT_THAT(result.All("denied"), IsEmpty());
}

TEST_F(CrossUidAttack, DurablectlOfAnotherUidExitsThree) {
  SKIP_UNLESS_ROOT();
  ArmSentinel();
  CommandResult write =
      Durablectl(kNobody, {"write", Neighbour() + "/state.json"}, "pwned");
  EXPECT_EQ(write.exit_code, 3) << write.err;
  EXPECT_THAT(write.err, testing::HasSubstr("PERMISSION_DENIED"));
  CommandResult remove =
      Durablectl(kNobody, {"rm", Neighbour() + "/state.json"});
  EXPECT_EQ(remove.exit_code, 3) << remove.err;
}

// --- Modes ------------------------------------------------------------------

TEST_F(PolicyAttack, SetuidModeRequestIsMaskedByDefaultMaxMode) {
  ArmSentinel();
  for (const char* mode : {"04755", "02755", "06777", "01777"}) {
    const std::string path = Data() + "/mode-" + mode;
    HelperResult result =
        AttackWrite(path, "#!/bin/sh\n", {"--mode=" + std::string(mode)});
    EXPECT_CODE(result, grpc::StatusCode::OK) << mode;
    const mode_t requested = static_cast<mode_t>(std::stoul(mode, nullptr, 8));
    EXPECT_EQ(ModeOf(path), requested & 0666) << mode;
    EXPECT_EQ(ModeOf(path) & 07000, 0u) << mode;
  }
}

TEST_F(PolicyAttack, SetuidModeRequestOnReplacedFile) {
  // The target looks like a root-owned executable; the attacker replaces it
  // asking for setuid. The result may carry no setuid bit.
  const std::string path = Data() + "/tool";
  WriteFileOrDie(path, "#!/bin/sh\necho ok\n");
  ASSERT_EQ(chmod(path.c_str(), 0755), 0);
  ArmSentinel();
  HelperResult result = AttackWrite(path, "#!/bin/sh\nid\n", {"--mode=04755"});
  EXPECT_CODE(result, grpc::StatusCode::OK);
  EXPECT_EQ(ModeOf(path), 0644u);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & (S_ISUID | S_ISGID), 0u);
}

TEST_F(PolicyAttack, ReplacingAHardLinkedSetuidRootFileKeepsNoPrivilege) {
  // The attacker hard-links a setuid-root program into its root (possible
  // where fs.protected_hardlinks is 0, or for any setuid file that ends up
  // there) and asks the daemon to replace it without naming a mode. The
  // kernel strips setuid/setgid when an unprivileged user writes a file;
  // the daemon, writing as root on the caller's behalf, must not hand the
  // attacker's content a setuid-root (or setgid) inode either.
  SKIP_UNLESS_ROOT();
  for (const mode_t mode : {mode_t{04755}, mode_t{02755}, mode_t{06711}}) {
    const std::string program = absl::StrFormat("%s/suid-%o", Outside(), mode);
    WriteFileOrDie(program, "#!/bin/sh\necho trusted\n");
    ASSERT_EQ(chmod(program.c_str(), mode), 0);
    ASSERT_EQ(link(program.c_str(),
                   absl::StrFormat("%s/tool-%o", Data(), mode).c_str()),
              0);
  }
  ArmSentinel();
  for (const mode_t mode : {mode_t{04755}, mode_t{02755}, mode_t{06711}}) {
    const std::string tool = absl::StrFormat("%s/tool-%o", Data(), mode);
    HelperResult result = AttackWrite(tool, "#!/bin/sh\nexec /bin/sh -p\n");
    EXPECT_CODE(result, grpc::StatusCode::OK) << tool;
    struct stat st;
    ASSERT_EQ(lstat(tool.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & (S_ISUID | S_ISGID), 0u) << absl::StrFormat(
        "%s is now mode 0%o, owner %d, with the "
        "attacker's content",
        tool, st.st_mode & 07777, st.st_uid);
  }
}

TEST_F(PolicyAttack, SetuidModeRequestUnderPermissiveMaxModeAndCallerOwner) {
  // Even a rule that allows executables (max_mode 0777) and makes the
  // caller the owner never lets a request add setuid/setgid/sticky.
  ASSERT_NO_FATAL_FAILURE(Restart(
      "socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
      "rule { root: \"{base}/data\" allow_uid: {attacker} max_mode: 0777 "
      "create_owner: OWNER_CALLER }\n",
      {}, {"data"}));
  ArmSentinel();
  const std::string path = Data() + "/exe";
  HelperResult result = AttackWrite(path, "#!/bin/sh\n", {"--mode=06777"});
  EXPECT_CODE(result, grpc::StatusCode::OK);
  EXPECT_EQ(ModeOf(path), 0777u);
  struct stat st;
  ASSERT_EQ(lstat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, AttackerCredentials().uid);
}

TEST_F(PolicyAttack, ModeWithFileTypeBitsIsInvalid) {
  Protect(Data());
  ArmSentinel();
  // S_IFREG|0755 and S_IFCHR|0666 smuggled in the mode.
  EXPECT_CODE(AttackWrite(Data() + "/f", "x", {"--mode=0100755"}),
              grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_CODE(AttackWrite(Data() + "/f", "x", {"--mode=020666"}),
              grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(PolicyAttack, CreateParentsWhereTheRuleForbidsIt) {
  // small/ has no allow_create_parents.
  Protect(Small());
  ArmSentinel();
  HelperResult result =
      AttackWrite(Small() + "/new/dir/f", "x", {"--create-parents"});
  EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(ListDirectory(Small()), IsEmpty());
}

TEST_F(PolicyAttack, CreateOnlyRootNeverLosesAFile) {
  ASSERT_NO_FATAL_FAILURE(
      Restart("socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
              "rule { root: \"{base}/data\" allow_uid: {attacker} "
              "allow_overwrite: false }\n",
              {}, {"data"}));
  WriteFileOrDie(Data() + "/ledger", "entry 1\n");
  Protect(Data() + "/ledger");
  ArmSentinel();
  EXPECT_CODE(AttackWrite(Data() + "/ledger", "rewritten"),
              grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(Attack("remove", {PathArg(Data() + "/ledger")}),
              grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(AttackWrite(Data() + "/new", "created"), grpc::StatusCode::OK);
}

TEST_F(PolicyAttack, UidRevokedByReloadWhileItsConnectionStaysOpen) {
  // The attacker connects while allowed and keeps its connection; the admin
  // revokes it (SIGHUP). Its next call on the same connection must be
  // judged by the new policy.
  ASSERT_NO_FATAL_FAILURE(
      Restart("socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
              "rule { root: \"{base}/data\" allow_uid: {attacker} }\n",
              {}, {}));
  Protect(Data());  // after the revocation, data/ is no longer the attacker's
  std::unique_ptr<HelperProcess> attacker = HelperProcess::Spawn(
      AttackerCredentials(),
      Args("write", {PathArg(Data() + "/f"), DataArg("pwned"), "--repeat=2",
                     "--pause-between"}));
  ASSERT_TRUE(attacker->WaitForLine("paused=1", absl::Seconds(20)))
      << attacker->out();
  ASSERT_TRUE(PathExists(Data() + "/f"));  // written while still allowed
  ASSERT_EQ(unlink((Data() + "/f").c_str()), 0);

  WriteFileOrDie(Base() + "/durabled.conf",
                 absl::StrReplaceAll(
                     "socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
                     "rule { root: \"{base}/data\" allow_uid: 65532 }\n",
                     {{"{base}", Base()}}));
  ASSERT_EQ(kill(daemon_->pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitUntil([&] {
    return absl::StrContains(daemon_->Log(), "reloaded");
  })) << daemon_->Log();
  ArmSentinel();
  attacker->CloseStdin();
  const HelperResult& result = attacker->Wait();
  std::vector<std::string> codes = result.All("code_name");
  ASSERT_EQ(codes.size(), 2u) << result.Describe();
  EXPECT_EQ(codes[0], "OK");
  EXPECT_EQ(codes[1], "PERMISSION_DENIED") << result.Describe();
  EXPECT_FALSE(PathExists(Data() + "/f"));
  // And a new connection of the revoked uid is closed at accept.
  EXPECT_CODE(Attack("whoami"), grpc::StatusCode::UNAVAILABLE);
}

// --- Temp-name squatting ----------------------------------------------------

TEST_F(PolicyAttack, SquattedTempNamesAreNeitherFollowedNorTouched) {
  // Entries named like the daemon's temp files, planted in the target
  // directory: regular files, symlinks to the victim, dangling symlinks to
  // outside, a symlink to an outside directory. Writes must still succeed
  // (O_EXCL|O_NOFOLLOW, fresh random names) and leave every squatter as it
  // was.
  absl::BitGen bits;
  std::vector<std::string> squatters;
  for (int i = 0; i < 64; ++i) {
    const std::string name = absl::StrFormat("%s%016x", kTempFilePrefix,
                                             absl::Uniform<uint64_t>(bits));
    const std::string path = Data() + "/" + name;
    switch (i % 4) {
      case 0:
        WriteFileOrDie(path, "squatter");
        break;
      case 1:
        ASSERT_EQ(symlink(Victim().c_str(), path.c_str()), 0);
        break;
      case 2:
        ASSERT_EQ(symlink((Outside() + "/planted").c_str(), path.c_str()), 0);
        break;
      default:
        ASSERT_EQ(symlink(Outside().c_str(), path.c_str()), 0);
        break;
    }
    Protect(path);
    squatters.push_back(name);
  }
  ArmSentinel();
  HelperResult result =
      AttackWrite(Data() + "/target", "legit", {"--repeat=40"});
  ASSERT_EQ(result.exit_code, 0) << result.Describe();
  EXPECT_THAT(result.All("code_name"), testing::Each(std::string("OK")));
  EXPECT_EQ(result.All("code_name").size(), 40u);
  EXPECT_EQ(*ReadFile(Data() + "/target"), "legit");
  std::vector<std::string> names = ListDirectory(Data());
  std::vector<std::string> expected = squatters;
  expected.push_back("target");
  EXPECT_THAT(names, testing::UnorderedElementsAreArray(expected));
}

TEST(StartupSweepAttack, SquattedTempNamesOutsideAreNotSwept) {
  // Before the daemon starts, the root holds temp-named symlinks to a file
  // and to a directory outside (full of temp-named files), and a temp-named
  // hard link to an outside file. The start-up sweep removes leftover temp
  // files; it must neither follow a symlink nor touch anything outside.
  char scratch_template[] = "/tmp/durabled-adv-sweep.XXXXXX";
  ASSERT_NE(mkdtemp(scratch_template), nullptr);
  const std::string scratch = scratch_template;
  chmod(scratch.c_str(), 0755);
  const std::string root = scratch + "/root";
  const std::string outside = scratch + "/outside";
  ASSERT_EQ(mkdir(root.c_str(), 0755), 0);
  ASSERT_EQ(mkdir((root + "/sub").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(outside.c_str(), 0755), 0);
  const std::string outside_temp =
      outside + "/" + std::string(kTempFilePrefix) + "1111111111111111";
  WriteFileOrDie(outside_temp, "outside, named like a temp file");
  WriteFileOrDie(outside + "/victim", "precious");
  WriteFileOrDie(outside + "/linked", "hard-linked from the root");
  const std::string prefix = std::string(kTempFilePrefix);
  ASSERT_EQ(symlink((outside + "/victim").c_str(),
                    (root + "/" + prefix + "0123456789abcdef").c_str()),
            0);
  ASSERT_EQ(symlink(outside.c_str(),
                    (root + "/" + prefix + "fedcba9876543210").c_str()),
            0);
  ASSERT_EQ(link((outside + "/linked").c_str(),
                 (root + "/sub/" + prefix + "2222222222222222").c_str()),
            0);
  WriteFileOrDie(root + "/sub/" + prefix + "3333333333333333", "leftover");
  const TreeState before = SnapshotTree(outside, {});

  auto daemon = TestDaemon::Start(
      "socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
      "rule { root: \"" +
      root + "\" allow_uid: {uid} }\n");
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  // The sweep runs before the daemon accepts connections (though after it
  // listens): once a call was answered, it is over.
  ASSERT_TRUE((*daemon)->NewClient()->WhoAmI().ok());
  EXPECT_EQ(DiffTrees(before, SnapshotTree(outside, {})), "");
  EXPECT_TRUE(PathExists(outside_temp));
  EXPECT_EQ(ReadLink(root + "/" + prefix + "0123456789abcdef"),
            outside + "/victim");
  EXPECT_EQ(ReadLink(root + "/" + prefix + "fedcba9876543210"), outside);
  EXPECT_FALSE(PathExists(root + "/sub/" + prefix + "3333333333333333"));
  EXPECT_EQ(*ReadFile(outside + "/linked"), "hard-linked from the root");
  daemon->reset();
  std::string command = absl::StrCat("rm -rf '", scratch, "'");
  EXPECT_EQ(std::system(command.c_str()), 0);
}

}  // namespace
}  // namespace durable::test::adversarial

int main(int argc, char** argv) {
  return durable::test::adversarial::AdversarialMain(argc, argv);
}
