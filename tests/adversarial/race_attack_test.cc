// Races against the resolution: a directory and a symlink swapped atomically
// (renameat2 RENAME_EXCHANGE) in a tight loop while an attacker process
// hammers writes through them, the target swapped with a symlink, the
// target or its parent replaced by a symlink between two writes (TOCTOU),
// and the root itself moved or replaced after the daemon opened it. The
// daemon resolves the parent once, beneath the root's handle, without
// following symlinks, and then works only relative to that directory fd, so
// whatever the timing nothing may ever land outside the roots.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/adversarial/adversarial_support.h"

namespace durable::test::adversarial {
namespace {

using testing::AnyOf;
using testing::Eq;
using testing::Gt;

int ExchangeNames(int dir_fd, const char* a, const char* b) {
  return static_cast<int>(
      syscall(SYS_renameat2, dir_fd, a, dir_fd, b, RENAME_EXCHANGE));
}

ino_t InodeOf(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// Runs `step` in a loop on its own thread until destroyed.
class Racer {
 public:
  explicit Racer(std::function<void()> step)
      : thread_([this, step = std::move(step)] {
          while (!stop_.load(std::memory_order_relaxed)) {
            step();
            ++rounds_;
          }
        }) {}
  ~Racer() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t rounds() const { return rounds_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> rounds_{0};
  std::thread thread_;
};

std::map<std::string, int64_t> CodeCounts(const HelperResult& result) {
  std::map<std::string, int64_t> counts;
  for (const auto& [key, value] : result.fields) {
    if (absl::StartsWith(key, "count.")) {
      int64_t n = 0;
      if (absl::SimpleAtoi(value, &n)) counts[key.substr(6)] += n;
    }
  }
  return counts;
}

class RaceAttack : public AdversarialTest {};

TEST_F(RaceAttack, DirectoryAndSymlinkExchangedWhileWritesRun) {
  // data/d is a real directory, data/s a symlink to outside/swapdst; a loop
  // exchanges the two names. Every write through either name must land in
  // the real directory or be refused, never in outside/swapdst.
  const std::string swap_target = Outside() + "/swapdst";
  ASSERT_EQ(mkdir(swap_target.c_str(), 0755), 0);
  WriteFileOrDie(swap_target + "/keep", "outside, keep");
  ASSERT_EQ(mkdir((Data() + "/d").c_str(), 0755), 0);
  ASSERT_EQ(symlink(swap_target.c_str(), (Data() + "/s").c_str()), 0);
  const ino_t real_dir = InodeOf(Data() + "/d");
  ArmSentinel();

  UniqueFd data_fd(open(Data().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(data_fd.valid());
  Racer racer([&] { ExchangeNames(data_fd.get(), "d", "s"); });

  std::vector<std::string> args = {DataArg("raced"), "--threads=4",
                                   "--rounds=12"};
  std::vector<std::string> parents_args = args;
  parents_args.push_back("--create-parents");
  for (int i = 0; i < 6; ++i) {
    args.push_back(PathArg(absl::StrCat(Data(), "/d/f", i)));
    args.push_back(PathArg(absl::StrCat(Data(), "/s/f", i)));
    parents_args.push_back(PathArg(absl::StrCat(Data(), "/d/n", i, "/m/f")));
    parents_args.push_back(PathArg(absl::StrCat(Data(), "/s/n", i, "/m/f")));
  }
  HelperResult plain = Attack("burst", args);
  HelperResult with_parents = Attack("burst", parents_args);
  racer.Stop();
  ASSERT_EQ(plain.exit_code, 0) << plain.Describe();
  ASSERT_EQ(with_parents.exit_code, 0) << with_parents.Describe();
  EXPECT_THAT(racer.rounds(), Gt(100));

  std::map<std::string, int64_t> counts = CodeCounts(plain);
  for (const auto& [code, n] : CodeCounts(with_parents)) counts[code] += n;
  for (const auto& [code, n] : counts) {
    // OK: resolved while the name was the directory. PERMISSION_DENIED:
    // resolved while it was the symlink. UNAVAILABLE: openat2 kept seeing
    // renames (EAGAIN) and the daemon gave up.
    EXPECT_THAT(code,
                AnyOf(Eq("OK"), Eq("PERMISSION_DENIED"), Eq("UNAVAILABLE")))
        << n << " writes ended with " << code;
  }
  EXPECT_THAT(counts["OK"], Gt(0));
  EXPECT_THAT(counts["PERMISSION_DENIED"], Gt(0))
      << "the race was never hit; the test proves nothing";

  // Every successful write is in the real directory, whatever its name now.
  const std::string real_name =
      InodeOf(Data() + "/d") == real_dir ? Data() + "/d" : Data() + "/s";
  ASSERT_EQ(InodeOf(real_name), real_dir);
  for (const HelperResult* result : {&plain, &with_parents}) {
    for (const std::string& path : result->All("ok")) {
      std::string rest = path.substr(Data().size() + 3);  // after "/d/"
      EXPECT_EQ(*ReadFile(real_name + "/" + rest), "raced") << path;
    }
  }
  EXPECT_THAT(TempFilesUnder(Data()), testing::IsEmpty());
}

TEST_F(RaceAttack, TargetAndSymlinkExchangedWhileWritesRun) {
  // data/t is a regular file, data/l a symlink to the victim; a loop
  // exchanges them (and re-plants the symlink if a write replaced it).
  WriteFileOrDie(Data() + "/t", "original");
  ASSERT_EQ(symlink(Victim().c_str(), (Data() + "/l").c_str()), 0);
  ArmSentinel();

  UniqueFd data_fd(open(Data().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(data_fd.valid());
  Racer racer([&] {
    ExchangeNames(data_fd.get(), "t", "l");
    struct stat t, l;
    if (fstatat(data_fd.get(), "t", &t, AT_SYMLINK_NOFOLLOW) == 0 &&
        fstatat(data_fd.get(), "l", &l, AT_SYMLINK_NOFOLLOW) == 0 &&
        !S_ISLNK(t.st_mode) && !S_ISLNK(l.st_mode)) {
      unlinkat(data_fd.get(), "l.new", 0);
      if (symlinkat(Victim().c_str(), data_fd.get(), "l.new") == 0) {
        renameat(data_fd.get(), "l.new", data_fd.get(), "l");
      }
    }
  });
  HelperResult result =
      Attack("burst", {PathArg(Data() + "/t"), PathArg(Data() + "/l"),
                       DataArg("raced"), "--threads=4", "--rounds=40"});
  racer.Stop();
  ASSERT_EQ(result.exit_code, 0) << result.Describe();
  std::map<std::string, int64_t> counts = CodeCounts(result);
  for (const auto& [code, n] : counts) {
    // ABORTED: the exchange moved the published file away from the target
    // before the daemon verified it; the publish is undone, not
    // acknowledged.
    EXPECT_THAT(code, AnyOf(Eq("OK"), Eq("FAILED_PRECONDITION"), Eq("ABORTED")))
        << n << " writes ended with " << code;
  }
  EXPECT_THAT(counts["FAILED_PRECONDITION"], Gt(0))
      << "the race was never hit; the test proves nothing";
  EXPECT_THAT(TempFilesUnder(Data()), testing::IsEmpty());
}

TEST_F(RaceAttack, TargetReplacedBySymlinkBetweenTwoWrites) {
  const std::string target = Data() + "/state";
  ArmSentinel();
  HelperResult first = AttackWrite(target, "v1");
  EXPECT_CODE(first, grpc::StatusCode::OK);
  // The attacker swaps the file for a symlink to the victim.
  ASSERT_EQ(unlink(target.c_str()), 0);
  ASSERT_EQ(symlink(Victim().c_str(), target.c_str()), 0);
  HelperResult second = AttackWrite(target, "v2");
  EXPECT_CODE(second, grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReadLink(target), Victim());
}

TEST_F(RaceAttack, ParentReplacedBySymlinkBetweenTwoWrites) {
  ASSERT_EQ(mkdir((Data() + "/dir").c_str(), 0755), 0);
  ArmSentinel();
  HelperResult first = AttackWrite(Data() + "/dir/victim", "v1");
  EXPECT_CODE(first, grpc::StatusCode::OK);
  ASSERT_EQ(rename((Data() + "/dir").c_str(), (Data() + "/dir.old").c_str()),
            0);
  ASSERT_EQ(symlink(Outside().c_str(), (Data() + "/dir").c_str()), 0);
  HelperResult second = AttackWrite(Data() + "/dir/victim", "v2");
  EXPECT_CODE(second, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(*ReadFile(Data() + "/dir.old/victim"), "v1");
}

TEST_F(RaceAttack, RootSwappedWithSymlinkWhileWritesRun) {
  // The root directory itself trades names with a symlink to outside/. The
  // daemon holds the root's handle, so no write may land in outside/.
  ASSERT_EQ(symlink(Outside().c_str(), (Base() + "/datalink").c_str()), 0);
  const ino_t root_inode = InodeOf(Data());
  IgnoreMtimeOf(".");  // the racer renames entries of base/
  ArmSentinel();
  UniqueFd base_fd(open(Base().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(base_fd.valid());
  // An even number of exchanges per step: the sentinel sees base/ as before.
  Racer racer([&] {
    ExchangeNames(base_fd.get(), "data", "datalink");
    ExchangeNames(base_fd.get(), "data", "datalink");
  });
  std::vector<std::string> args = {DataArg("raced"), "--threads=3",
                                   "--rounds=10"};
  for (int i = 0; i < 6; ++i) {
    args.push_back(PathArg(absl::StrCat(Data(), "/f", i)));
  }
  HelperResult result = Attack("burst", args);
  racer.Stop();
  ASSERT_EQ(result.exit_code, 0) << result.Describe();
  ASSERT_EQ(InodeOf(Data()), root_inode);
  for (const auto& [code, n] : CodeCounts(result)) {
    EXPECT_THAT(code, AnyOf(Eq("OK"), Eq("PERMISSION_DENIED"), Eq("NOT_FOUND"),
                            Eq("FAILED_PRECONDITION"), Eq("UNAVAILABLE")))
        << n << " writes ended with " << code;
  }
  for (const std::string& path : result.All("ok")) {
    EXPECT_EQ(*ReadFile(path), "raced") << path;
  }
}

TEST_F(RaceAttack, RootMovedAwayAfterStart) {
  // The root is renamed to outside/moved-root after the daemon opened it. A
  // write to the old path names a directory that no longer exists; it must
  // not follow the handle to the new location (a path outside every root).
  const std::string moved = Outside() + "/moved-root";
  ASSERT_EQ(rename(Data().c_str(), moved.c_str()), 0);
  ArmSentinel();
  HelperResult result = AttackWrite(Data() + "/f", "pwned");
  EXPECT_CODE(result, grpc::StatusCode::NOT_FOUND);
  EXPECT_FALSE(PathExists(moved + "/f"));
  EXPECT_FALSE(PathExists(Data()));
}

TEST_F(RaceAttack, RootReplacedBySymlinkAfterStart) {
  // The root is moved away and a symlink to outside/elsewhere put at its
  // path: neither the symlink's target nor the moved directory may receive
  // the write.
  const std::string moved = Outside() + "/moved-root";
  const std::string elsewhere = Outside() + "/elsewhere";
  ASSERT_EQ(mkdir(elsewhere.c_str(), 0755), 0);
  ASSERT_EQ(rename(Data().c_str(), moved.c_str()), 0);
  ASSERT_EQ(symlink(elsewhere.c_str(), Data().c_str()), 0);
  ArmSentinel();
  HelperResult result = AttackWrite(Data() + "/f", "pwned");
  EXPECT_CODE(result, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_FALSE(PathExists(moved + "/f"));
  EXPECT_FALSE(PathExists(elsewhere + "/f"));
}

}  // namespace
}  // namespace durable::test::adversarial

int main(int argc, char** argv) {
  return durable::test::adversarial::AdversarialMain(argc, argv);
}
