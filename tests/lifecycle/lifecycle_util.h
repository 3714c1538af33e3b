// Helpers for the lifecycle tests that need neither the client nor the
// daemon fixture (units_test includes server/ headers, which the client's
// header must not meet in one translation unit).
#ifndef DURABLED_TESTS_LIFECYCLE_LIFECYCLE_UTIL_H_
#define DURABLED_TESTS_LIFECYCLE_LIFECYCLE_UTIL_H_

#include <unistd.h>

#include <string>
#include <vector>

#include "tests/support/spawn.h"

namespace durable::test {

// The checkout this test was built from (for deploy/ files).
inline std::string SourceDir() {
  std::string header = __FILE__;  // <source>/tests/lifecycle/lifecycle_util.h
  for (int i = 0; i < 3; ++i) header = header.substr(0, header.rfind('/'));
  return header;
}

// First of `candidates` that is an executable file, or "".
inline std::string FindExecutable(const std::vector<std::string>& candidates) {
  for (const std::string& path : candidates) {
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

}  // namespace durable::test

#endif  // DURABLED_TESTS_LIFECYCLE_LIFECYCLE_UTIL_H_
