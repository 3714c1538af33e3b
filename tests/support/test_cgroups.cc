#include "tests/support/test_cgroups.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace durable::test {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::optional<Cgroup2Mount> FindCgroup2Mount() {
  for (absl::string_view line :
       absl::StrSplit(ReadAll("/proc/self/mountinfo"), '\n')) {
    // id parent major:minor root mount-point options... - type source ...
    std::vector<absl::string_view> halves = absl::StrSplit(line, " - ");
    if (halves.size() != 2 || !absl::StartsWith(halves[1], "cgroup2 ")) {
      continue;
    }
    std::vector<absl::string_view> fields = absl::StrSplit(halves[0], ' ');
    if (fields.size() < 5) continue;
    return Cgroup2Mount{std::string(fields[4]), std::string(fields[3])};
  }
  return std::nullopt;
}

std::unique_ptr<TestCgroupTree> TestCgroupTree::Make(
    const std::vector<std::string>& children, std::string* why) {
  if (geteuid() != 0) {
    *why = "needs root to make cgroups";
    return nullptr;
  }
  std::optional<Cgroup2Mount> mount = FindCgroup2Mount();
  if (!mount.has_value()) {
    *why = "no cgroup v2 hierarchy is mounted";
    return nullptr;
  }
  static std::atomic<int> counter{0};
  std::unique_ptr<TestCgroupTree> tree(new TestCgroupTree);
  tree->mount_ = *mount;
  tree->slice_ =
      absl::StrCat("durabled-test-", getpid(), "-", counter++, ".slice");
  if (mkdir((mount->mount_point + "/" + tree->slice_).c_str(), 0755) != 0) {
    *why = absl::StrCat("cannot make a cgroup under ", mount->mount_point, ": ",
                        strerror(errno));
    return nullptr;
  }
  for (const std::string& child : children) {
    if (mkdir(tree->Directory(child).c_str(), 0755) != 0) {
      *why = absl::StrCat("cannot make cgroup ", child, ": ", strerror(errno));
      return nullptr;  // the destructor removes what was made
    }
    tree->children_.push_back(child);
  }
  return tree;
}

TestCgroupTree::~TestCgroupTree() {
  const std::string root_procs = mount_.mount_point + "/cgroup.procs";
  for (auto it = children_.rbegin(); it != children_.rend(); ++it) {
    // Processes still inside (a test that failed half-way) go back to the
    // root, so the directory can go.
    std::istringstream pids(ReadAll(Directory(*it) + "/cgroup.procs"));
    for (std::string pid; pids >> pid;) std::ofstream(root_procs) << pid;
    rmdir(Directory(*it).c_str());
  }
  rmdir((mount_.mount_point + "/" + slice_).c_str());
}

std::string TestCgroupTree::CgroupPath(const std::string& child) const {
  const std::string prefix = mount_.root == "/" ? "" : mount_.root;
  return absl::StrCat(prefix, "/", slice_, child.empty() ? "" : "/", child);
}

std::string TestCgroupTree::Directory(const std::string& child) const {
  return absl::StrCat(mount_.mount_point, "/", slice_, child.empty() ? "" : "/",
                      child);
}

bool TestCgroupTree::Delegate(uid_t uid) const {
  std::vector<std::string> dirs = {Directory("")};
  for (const std::string& child : children_) dirs.push_back(Directory(child));
  for (const std::string& dir : dirs) {
    if (chown(dir.c_str(), uid, uid) != 0) return false;
    if (chown((dir + "/cgroup.procs").c_str(), uid, uid) != 0) return false;
  }
  return true;
}

}  // namespace durable::test
