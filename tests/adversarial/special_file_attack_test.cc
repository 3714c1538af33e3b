// Attacks with what sits at the target or on the way to it: FIFOs (which
// block an open), UNIX sockets, device nodes, directories, a regular file
// as the parent, hard links to files outside the root, and other
// filesystems mounted under a root (tmpfs, bind mounts of outside/, a file
// bind-mounted over the target). The daemon looks at the target only
// through an O_PATH|O_NOFOLLOW handle, never opens or truncates it, and
// refuses to cross a mount point.
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "tests/adversarial/adversarial_support.h"

namespace durable::test::adversarial {
namespace {

using testing::IsEmpty;
using testing::Lt;

struct stat LstatOrDie(const std::string& path) {
  struct stat st = {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st;
}

class SpecialFileAttack : public AdversarialTest {
 protected:
  // Write, Stat and Remove of `path` all refused with `expected`, each
  // within a short deadline (a FIFO must not block the daemon), and the
  // entry left exactly as it was.
  void ExpectAllRefused(const std::string& path, grpc::StatusCode expected) {
    const struct stat before = LstatOrDie(path);
    for (const char* op : {"write", "stat", "remove"}) {
      std::vector<std::string> args = {PathArg(path), "--timeout-ms=5000"};
      if (std::string(op) == "write") args.push_back(DataArg("pwned"));
      const absl::Time start = absl::Now();
      HelperResult result = Attack(op, args);
      EXPECT_CODE(result, expected) << op;
      EXPECT_THAT(absl::ToInt64Milliseconds(absl::Now() - start), Lt(4000))
          << op << " took too long";
    }
    const struct stat after = LstatOrDie(path);
    EXPECT_EQ(after.st_ino, before.st_ino);
    EXPECT_EQ(after.st_mode, before.st_mode);
    EXPECT_EQ(after.st_rdev, before.st_rdev);
    EXPECT_THAT(TempFilesUnder(Data()), IsEmpty());
  }
};

TEST_F(SpecialFileAttack, FifoAtTargetNeverBlocks) {
  const std::string fifo = Data() + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0666), 0);
  ArmSentinel();
  ExpectAllRefused(fifo, grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(SpecialFileAttack, UnixSocketAtTarget) {
  const std::string path = Data() + "/sock";
  UniqueFd listener(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(address.sun_path));
  strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&address),
                 sizeof(address)),
            0);
  ASSERT_EQ(listen(listener.get(), 4), 0);
  ArmSentinel();
  ExpectAllRefused(path, grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(SpecialFileAttack, CharacterDeviceAtTarget) {
  SKIP_UNLESS_ROOT();
  // A node for /dev/tty: opening it would hang or grab a terminal.
  const std::string path = Data() + "/tty";
  ASSERT_EQ(mknod(path.c_str(), S_IFCHR | 0666, makedev(5, 0)), 0);
  ArmSentinel();
  ExpectAllRefused(path, grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(SpecialFileAttack, BlockDeviceAtTarget) {
  SKIP_UNLESS_ROOT();
  const std::string path = Data() + "/loop";
  ASSERT_EQ(mknod(path.c_str(), S_IFBLK | 0600, makedev(7, 0)), 0);
  ArmSentinel();
  ExpectAllRefused(path, grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(SpecialFileAttack, DirectoryAtTarget) {
  const std::string dir = Data() + "/dir";
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  WriteFileOrDie(dir + "/inside", "keep me");
  Protect(dir);
  ArmSentinel();
  ExpectAllRefused(dir, grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(SpecialFileAttack, ParentIsARegularFile) {
  const std::string file = Data() + "/file";
  WriteFileOrDie(file, "a file, not a directory");
  Protect(file);
  ArmSentinel();
  EXPECT_CODE(AttackWrite(file + "/x"), grpc::StatusCode::NOT_FOUND);
  EXPECT_CODE(AttackWrite(file + "/x/y", "pwned", {"--create-parents"}),
              grpc::StatusCode::NOT_FOUND);
  EXPECT_CODE(Attack("remove", {PathArg(file + "/x")}),
              grpc::StatusCode::NOT_FOUND);
}

TEST_F(SpecialFileAttack, HardLinkToOutsideFileIsReplacedNotWrittenThrough) {
  // A hard link at the target shares the victim's inode: writing it in
  // place (or truncating it) would change the victim. The daemon must
  // publish a new inode under the name instead.
  const std::string link_path = Data() + "/hl";
  ASSERT_EQ(link(Victim().c_str(), link_path.c_str()), 0);
  ArmSentinel();
  HelperResult result = AttackWrite(link_path, "overwritten", {"--mode=0666"});
  EXPECT_CODE(result, grpc::StatusCode::OK);
  EXPECT_EQ(*ReadFile(link_path), "overwritten");
  EXPECT_NE(LstatOrDie(link_path).st_ino, LstatOrDie(Victim()).st_ino);
  EXPECT_EQ(*ReadFile(Victim()), "precious outside content\n");
  EXPECT_EQ(LstatOrDie(Victim()).st_mode & 07777, 0640u);
}

TEST_F(SpecialFileAttack, HardLinkToOutsideFileRemovedLeavesVictim) {
  const std::string link_path = Data() + "/hl";
  ASSERT_EQ(link(Victim().c_str(), link_path.c_str()), 0);
  ArmSentinel();
  HelperResult result = Attack("remove", {PathArg(link_path)});
  EXPECT_CODE(result, grpc::StatusCode::OK);
  EXPECT_FALSE(PathExists(link_path));
  EXPECT_EQ(*ReadFile(Victim()), "precious outside content\n");
  EXPECT_EQ(LstatOrDie(Victim()).st_nlink, 1u);
}

TEST_F(SpecialFileAttack, TmpfsMountedUnderRoot) {
  SKIP_UNLESS_ROOT();
  const std::string mount_point = Data() + "/mnt";
  ASSERT_EQ(mkdir(mount_point.c_str(), 0755), 0);
  if (!Mount("tmpfs", mount_point, "tmpfs", 0)) {
    GTEST_SKIP() << "mount(tmpfs): " << strerror(errno);
  }
  WriteFileOrDie(mount_point + "/existing", "on tmpfs");
  Protect(mount_point);
  ArmSentinel();
  HelperResult result = AttackWrite(mount_point + "/f");
  EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(result.message(), testing::HasSubstr("mount point"));
  EXPECT_CODE(AttackWrite(mount_point + "/existing"),
              grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(
      AttackWrite(mount_point + "/new/f", "pwned", {"--create-parents"}),
      grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(Attack("remove", {PathArg(mount_point + "/existing")}),
              grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(SpecialFileAttack, OutsideBindMountedUnderRoot) {
  SKIP_UNLESS_ROOT();
  // The worst case of a mount: outside/ itself appears inside the root.
  const std::string mount_point = Data() + "/bind";
  ASSERT_EQ(mkdir(mount_point.c_str(), 0755), 0);
  if (!Mount(Outside(), mount_point, nullptr, MS_BIND)) {
    GTEST_SKIP() << "bind mount: " << strerror(errno);
  }
  ArmSentinel();
  EXPECT_CODE(AttackWrite(mount_point + "/victim"),
              grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(AttackWrite(mount_point + "/etc/passwd"),
              grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(
      AttackWrite(mount_point + "/cron.d/job", "pwned", {"--create-parents"}),
      grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(Attack("remove", {PathArg(mount_point + "/victim")}),
              grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(Attack("stat", {PathArg(mount_point + "/victim")}),
              grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(SpecialFileAttack, OutsideFileBindMountedOverTarget) {
  SKIP_UNLESS_ROOT();
  // The target name is a mount point carrying the victim file. Replacing
  // it by rename is impossible (EBUSY); the victim must stay untouched and
  // the refusal must say why.
  const std::string target = Data() + "/target";
  WriteFileOrDie(target, "placeholder");
  if (!Mount(Victim(), target, nullptr, MS_BIND)) {
    GTEST_SKIP() << "bind mount: " << strerror(errno);
  }
  ArmSentinel();
  EXPECT_CODE(AttackWrite(target), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_CODE(Attack("remove", {PathArg(target)}),
              grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(*ReadFile(Victim()), "precious outside content\n");
  EXPECT_THAT(TempFilesUnder(Data()), IsEmpty());
}

}  // namespace
}  // namespace durable::test::adversarial

int main(int argc, char** argv) {
  return durable::test::adversarial::AdversarialMain(argc, argv);
}
