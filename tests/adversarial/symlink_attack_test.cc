// Symlink attacks: absolute and relative symlinks as the final and as
// intermediate components, dangling symlinks (which O_CREAT would follow and
// create), loops, create_parents through a symlinked component, and magic
// links (/proc/self/root, /proc/self/cwd, /proc/self/fd, a whole procfs
// mounted inside a root). The daemon never follows a symlink: a symlink as
// the parent (or above) is PERMISSION_DENIED, a symlink as the target is
// FAILED_PRECONDITION, and the symlink itself stays as it was.
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "tests/adversarial/adversarial_support.h"

namespace durable::test::adversarial {
namespace {

using testing::IsEmpty;

std::string UniqueLeaf() {
  return absl::StrCat("durabled-adv-escape-", getpid());
}

class SymlinkAttack : public AdversarialTest {
 protected:
  void Link(const std::string& target, const std::string& name_in_data) {
    ASSERT_EQ(symlink(target.c_str(), (Data() + "/" + name_in_data).c_str()), 0)
        << name_in_data << ": " << strerror(errno);
  }
  void Dir(const std::string& name_in_data) {
    ASSERT_EQ(mkdir((Data() + "/" + name_in_data).c_str(), 0755), 0)
        << name_in_data;
  }
  // The symlink planted at `name_in_data` is still exactly that symlink.
  void ExpectLinkIntact(const std::string& name_in_data,
                        const std::string& target) {
    EXPECT_EQ(ReadLink(Data() + "/" + name_in_data), target);
  }
};

// --- Final component ------------------------------------------------------

TEST_F(SymlinkAttack, FinalSymlinkAbsoluteToOutsideFile) {
  ASSERT_NO_FATAL_FAILURE(Link(Victim(), "link"));
  ArmSentinel();
  HelperResult result = AttackWrite(Data() + "/link");
  EXPECT_CODE(result, grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(result.message(), testing::HasSubstr("symbolic link"));
  ExpectLinkIntact("link", Victim());
}

TEST_F(SymlinkAttack, FinalSymlinkRelativeToOutsideFile) {
  ASSERT_NO_FATAL_FAILURE(Link("../outside/victim", "rel"));
  ArmSentinel();
  HelperResult result = AttackWrite(Data() + "/rel");
  EXPECT_CODE(result, grpc::StatusCode::FAILED_PRECONDITION);
  ExpectLinkIntact("rel", "../outside/victim");
}

TEST_F(SymlinkAttack, FinalDanglingSymlinkWouldCreateOutside) {
  // O_CREAT through this link would create outside/planted.
  ASSERT_NO_FATAL_FAILURE(Link(Outside() + "/planted", "dangling"));
  ArmSentinel();
  HelperResult result = AttackWrite(Data() + "/dangling");
  EXPECT_CODE(result, grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_FALSE(PathExists(Outside() + "/planted"));
  ExpectLinkIntact("dangling", Outside() + "/planted");
}

TEST_F(SymlinkAttack, FinalDanglingSymlinkWithIfAbsent) {
  ASSERT_NO_FATAL_FAILURE(Link("../outside/planted", "dangling"));
  ArmSentinel();
  HelperResult result =
      AttackWrite(Data() + "/dangling", "pwned", {"--if-absent"});
  EXPECT_CODE(result, grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_FALSE(PathExists(Outside() + "/planted"));
}

TEST_F(SymlinkAttack, FinalDanglingSymlinkIntoSystemDirectory) {
  const std::string target = "/etc/" + UniqueLeaf();
  ASSERT_NO_FATAL_FAILURE(Link(target, "etc-link"));
  ArmSentinel();
  HelperResult result = AttackWrite(Data() + "/etc-link");
  EXPECT_CODE(result, grpc::StatusCode::FAILED_PRECONDITION);
  ExpectNoEscapeNamed(UniqueLeaf());
}

TEST_F(SymlinkAttack, FinalSymlinkLoop) {
  ASSERT_NO_FATAL_FAILURE(Link("loop2", "loop1"));
  ASSERT_NO_FATAL_FAILURE(Link("loop1", "loop2"));
  ArmSentinel();
  HelperResult result = AttackWrite(Data() + "/loop1");
  EXPECT_CODE(result, grpc::StatusCode::FAILED_PRECONDITION);
  ExpectLinkIntact("loop1", "loop2");
}

TEST_F(SymlinkAttack, FinalSymlinkToProcSelfRootOfTheDaemon) {
  ASSERT_NO_FATAL_FAILURE(
      Link(absl::StrCat("/proc/", daemon_->pid(), "/root"), "droot"));
  ArmSentinel();
  HelperResult result = AttackWrite(Data() + "/droot");
  EXPECT_CODE(result, grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(SymlinkAttack, RemoveOfFinalSymlinkKeepsLinkAndTarget) {
  ASSERT_NO_FATAL_FAILURE(Link(Victim(), "link"));
  ArmSentinel();
  HelperResult result = Attack("remove", {PathArg(Data() + "/link")});
  EXPECT_CODE(result, grpc::StatusCode::FAILED_PRECONDITION);
  ExpectLinkIntact("link", Victim());
}

TEST_F(SymlinkAttack, StatOfFinalSymlinkRevealsNothing) {
  ASSERT_NO_FATAL_FAILURE(Link(Victim(), "link"));
  ArmSentinel();
  HelperResult result = Attack("stat", {PathArg(Data() + "/link")});
  EXPECT_CODE(result, grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(result.Field("size"), "");
}

// --- Intermediate components ----------------------------------------------

TEST_F(SymlinkAttack, IntermediateSymlinkAbsoluteToOutside) {
  ASSERT_NO_FATAL_FAILURE(Link(Outside(), "out"));
  ArmSentinel();
  HelperResult result = AttackWrite(Data() + "/out/victim");
  EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(result.message(), testing::HasSubstr("symbolic link"));
}

TEST_F(SymlinkAttack, IntermediateSymlinkRelativeToOutside) {
  ASSERT_NO_FATAL_FAILURE(Link("../outside", "rout"));
  ArmSentinel();
  HelperResult result = AttackWrite(Data() + "/rout/etc/passwd");
  EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(SymlinkAttack, IntermediateSymlinkBelowRealDirectories) {
  ASSERT_NO_FATAL_FAILURE(Dir("a"));
  ASSERT_NO_FATAL_FAILURE(Dir("a/b"));
  ASSERT_NO_FATAL_FAILURE(Link("../../../outside", "a/b/c"));
  ArmSentinel();
  HelperResult result = AttackWrite(Data() + "/a/b/c/etc/passwd");
  EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(SymlinkAttack, IntermediateSymlinkToSystemDirectory) {
  ASSERT_NO_FATAL_FAILURE(Link("/etc", "sys"));
  ArmSentinel();
  HelperResult result = AttackWrite(Data() + "/sys/" + UniqueLeaf());
  EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED);
  ExpectNoEscapeNamed(UniqueLeaf());
}

TEST_F(SymlinkAttack, IntermediateSymlinkStayingInsideTheRootIsStillRefused) {
  ASSERT_NO_FATAL_FAILURE(Dir("real"));
  ASSERT_NO_FATAL_FAILURE(Link("real", "alias"));
  Protect(Data() + "/real");
  ArmSentinel();
  HelperResult result = AttackWrite(Data() + "/alias/f");
  EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(ListDirectory(Data() + "/real"), IsEmpty());
}

TEST_F(SymlinkAttack, IntermediateDanglingSymlink) {
  ASSERT_NO_FATAL_FAILURE(Link(Outside() + "/newdir", "ghost"));
  ArmSentinel();
  HelperResult result = AttackWrite(Data() + "/ghost/f");
  EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(SymlinkAttack, IntermediateSymlinkLoop) {
  ASSERT_NO_FATAL_FAILURE(Link("loop2", "loop1"));
  ASSERT_NO_FATAL_FAILURE(Link("loop1", "loop2"));
  ArmSentinel();
  HelperResult result = AttackWrite(Data() + "/loop1/f");
  EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(SymlinkAttack, IntermediateSelfReferentialSymlink) {
  ASSERT_NO_FATAL_FAILURE(Link("self", "self"));
  ArmSentinel();
  HelperResult result = AttackWrite(Data() + "/self/self/self/f");
  EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(SymlinkAttack, RemoveThroughIntermediateSymlink) {
  ASSERT_NO_FATAL_FAILURE(Link(Outside(), "out"));
  ArmSentinel();
  HelperResult result = Attack("remove", {PathArg(Data() + "/out/victim")});
  EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(PathExists(Victim()));
}

TEST_F(SymlinkAttack, StatThroughIntermediateSymlinkLeaksNothing) {
  ASSERT_NO_FATAL_FAILURE(Link(Outside(), "out"));
  ArmSentinel();
  HelperResult result = Attack("stat", {PathArg(Data() + "/out/victim")});
  EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(result.Field("size"), "");
}

// --- create_parents --------------------------------------------------------

TEST_F(SymlinkAttack, CreateParentsThroughDanglingSymlink) {
  ASSERT_NO_FATAL_FAILURE(Link(Outside() + "/newdir", "ghost"));
  ArmSentinel();
  HelperResult result =
      AttackWrite(Data() + "/ghost/f", "pwned", {"--create-parents"});
  EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_FALSE(PathExists(Outside() + "/newdir"));
}

TEST_F(SymlinkAttack, CreateParentsBelowSymlinkedIntermediate) {
  ASSERT_NO_FATAL_FAILURE(Dir("x"));
  ASSERT_NO_FATAL_FAILURE(Link(Outside(), "x/y"));
  ArmSentinel();
  HelperResult result =
      AttackWrite(Data() + "/x/y/new1/new2/f", "pwned", {"--create-parents"});
  EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_FALSE(PathExists(Outside() + "/new1"));
}

// --- Magic links ----------------------------------------------------------

TEST_F(SymlinkAttack, SymlinkToProcSelfRootAsIntermediate) {
  ASSERT_NO_FATAL_FAILURE(Link("/proc/self/root", "proot"));
  ArmSentinel();
  HelperResult result = AttackWrite(Data() + "/proot" + Victim());
  EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(SymlinkAttack, SymlinkToProcSelfCwdAsIntermediate) {
  ASSERT_NO_FATAL_FAILURE(Link("/proc/self/cwd", "pcwd"));
  ArmSentinel();
  HelperResult result = AttackWrite(Data() + "/pcwd/" + UniqueLeaf());
  EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED);
  ExpectNoEscapeNamed(UniqueLeaf());
}

TEST_F(SymlinkAttack, SymlinkToProcSelfFdAsIntermediate) {
  // /proc/self/fd/N of the daemon: its root handles, its log, its socket.
  ASSERT_NO_FATAL_FAILURE(Link("/proc/self/fd", "pfd"));
  ArmSentinel();
  for (int fd = 0; fd < 12; ++fd) {
    HelperResult result =
        AttackWrite(absl::StrCat(Data(), "/pfd/", fd, "/", UniqueLeaf()));
    EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED) << "fd " << fd;
  }
  ExpectNoEscapeNamed(UniqueLeaf());
}

TEST_F(SymlinkAttack, ProcfsMountedInsideARoot) {
  SKIP_UNLESS_ROOT();
  // Real magic links inside the root: a procfs instance mounted there.
  ASSERT_NO_FATAL_FAILURE(Dir("proc"));
  if (!Mount("proc", Data() + "/proc", "proc", 0)) {
    GTEST_SKIP() << "cannot mount procfs here: " << strerror(errno);
  }
  ArmSentinel();
  for (const std::string& path :
       {Data() + "/proc/self/root" + Victim(),
        absl::StrCat(Data(), "/proc/", daemon_->pid(), "/root", Victim()),
        Data() + "/proc/self/cwd/" + UniqueLeaf(),
        Data() + "/proc/self/fd/3/" + UniqueLeaf()}) {
    HelperResult result = AttackWrite(path);
    EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED) << path;
  }
  ExpectNoEscapeNamed(UniqueLeaf());
}

TEST_F(SymlinkAttack, ProcMagicPathNamedDirectly) {
  // The string names a root's file through /proc; it is outside every root
  // as a string, so the policy refuses it before any lookup.
  Protect(Data());
  ArmSentinel();
  for (const std::string& path :
       {"/proc/self/root" + Data() + "/f",
        absl::StrCat("/proc/", daemon_->pid(), "/cwd/", UniqueLeaf()),
        "/proc/thread-self/root" + Data() + "/f"}) {
    HelperResult result = AttackWrite(path);
    EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED) << path;
  }
  ExpectNoEscapeNamed(UniqueLeaf());
}

}  // namespace
}  // namespace durable::test::adversarial

int main(int argc, char** argv) {
  return durable::test::adversarial::AdversarialMain(argc, argv);
}
