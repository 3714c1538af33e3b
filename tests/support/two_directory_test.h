// A fixture for engine tests that write into two directories: a fresh
// scratch root under /tmp with a/ and b/, open as directory fds (the
// engine's view of them), removed with everything in it afterwards, and
// the real filesystem behind a fault injector (faults_) for the engine to
// use.
#ifndef DURABLED_TESTS_SUPPORT_TWO_DIRECTORY_TEST_H_
#define DURABLED_TESTS_SUPPORT_TWO_DIRECTORY_TEST_H_

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "server/base/unique_fd.h"
#include "server/engine/posix_file_system.h"
#include "tests/support/fault_injection_file_system.h"
#include "tests/support/test_daemon.h"

namespace durable::test {

class TwoDirectoryTest : public testing::Test {
 protected:
  using Operation = FaultInjectionFileSystem::Operation;

  // The root is /tmp/<prefix>.XXXXXX.
  explicit TwoDirectoryTest(std::string prefix) : prefix_(std::move(prefix)) {}

  void SetUp() override {
    std::string path = "/tmp/" + prefix_ + ".XXXXXX";
    ASSERT_NE(mkdtemp(path.data()), nullptr);
    root_ = path;
    for (const char* dir : {"a", "b"}) {
      ASSERT_EQ(mkdir((root_ + "/" + dir).c_str(), 0755), 0);
    }
    a_.reset(open((root_ + "/a").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    b_.reset(open((root_ + "/b").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(a_.valid() && b_.valid());
  }

  void TearDown() override {
    a_.reset();
    b_.reset();
    std::filesystem::remove_all(root_);
  }

  // The content of `path` (relative to the root), or "<absent>".
  std::string Read(const std::string& path) const {
    return ReadFile(root_ + "/" + path).value_or("<absent>");
  }

  void Plant(const std::string& path, const std::string& content) {
    WriteFileOrDie(root_ + "/" + path, content);
  }

  // Names in a/ and b/ (sorted per directory), as "a/name" when
  // `with_directory`, else bare.
  std::vector<std::string> NamesInBoth(bool with_directory) const {
    std::vector<std::string> names;
    for (const char* dir : {"a", "b"}) {
      for (const std::string& name : ListDirectory(root_ + "/" + dir)) {
        names.push_back(with_directory ? std::string(dir) + "/" + name : name);
      }
    }
    return names;
  }

  std::string root_;
  UniqueFd a_;
  UniqueFd b_;
  PosixFileSystem posix_;
  FaultInjectionFileSystem faults_{&posix_};

 private:
  const std::string prefix_;
};

}  // namespace durable::test

#endif  // DURABLED_TESTS_SUPPORT_TWO_DIRECTORY_TEST_H_
