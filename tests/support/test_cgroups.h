// Cgroups a test makes under the cgroup v2 hierarchy (root only), and
// moving processes into them.
#ifndef DURABLED_TESTS_SUPPORT_TEST_CGROUPS_H_
#define DURABLED_TESTS_SUPPORT_TEST_CGROUPS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace durable::test {

// Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup/unified on a
// hybrid host, /sys/fs/cgroup on a unified one) and which cgroup its root
// is, from /proc/self/mountinfo; nullopt if it is not mounted.
struct Cgroup2Mount {
  std::string mount_point;
  std::string root;  // "/" unless in a cgroup namespace
};
std::optional<Cgroup2Mount> FindCgroup2Mount();

// A slice "durabled-test-<pid>-<n>.slice" under the hierarchy's root with
// the given children (paths relative to the slice, parents first), removed
// at destruction after moving any process left in them back to the root.
class TestCgroupTree {
 public:
  // nullptr (and `why` says why) if the hierarchy is missing or not
  // writable.
  static std::unique_ptr<TestCgroupTree> Make(
      const std::vector<std::string>& children, std::string* why);
  ~TestCgroupTree();

  // The cgroup path as /proc/<pid>/cgroup shows it
  // ("/durabled-test-1-0.slice/a").
  std::string CgroupPath(const std::string& child) const;
  // Its directory in the mounted hierarchy.
  std::string Directory(const std::string& child) const;
  // Gives the slice and everything in it to `uid` (delegation): a process
  // of that uid may then move itself between the children.
  bool Delegate(uid_t uid) const;

 private:
  TestCgroupTree() = default;
  Cgroup2Mount mount_;
  std::string slice_;
  std::vector<std::string> children_;
};

}  // namespace durable::test

#endif  // DURABLED_TESTS_SUPPORT_TEST_CGROUPS_H_
