// durable_cycle PATH < CONTENT
//
// Makes PATH hold standard input, durably, the way a program that does not
// use durabled does it: create a temp beside it (O_CREAT|O_EXCL), write,
// fsync, rename over PATH, fsync the directory; then exit. The benchmark
// starts it as a fresh process to compare with a one-shot `durablectl
// write`. Exit status 0 on success, 1 (with a message) otherwise.

#include <errno.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "tests/bench/replace_cycle.h"

namespace durable::bench {
namespace {

CycleError ReadStandardInput(std::string* content) {
  char buffer[64 * 1024];
  while (true) {
    const ssize_t n = read(STDIN_FILENO, buffer, sizeof(buffer));
    if (n == 0) return {};
    if (n < 0) {
      if (errno == EINTR) continue;
      return {"read standard input", errno};
    }
    content->append(buffer, static_cast<size_t>(n));
  }
}

CycleError ReplaceWithStandardInput(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const std::string leaf =
      slash == std::string::npos ? path : path.substr(slash + 1);
  std::string content;
  CycleError error = ReadStandardInput(&content);
  if (error.failed()) return error;
  const ScopedFd dir_fd(OpenDirectory(dir));
  if (dir_fd.get() < 0) return {"open " + dir, errno};
  const std::string temp = "." + leaf + ".tmp-" + std::to_string(getpid());
  return ReplaceDurably(dir_fd.get(), leaf, temp, content);
}

}  // namespace
}  // namespace durable::bench

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: durable_cycle PATH < CONTENT\n");
    return 1;
  }
  const durable::bench::CycleError error =
      durable::bench::ReplaceWithStandardInput(argv[1]);
  if (error.failed()) {
    std::fprintf(stderr, "durable_cycle: %s\n", error.ToString().c_str());
    return 1;
  }
  return 0;
}
