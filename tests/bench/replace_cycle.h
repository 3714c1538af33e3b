// The in-process baselines durabled is measured against: what a careful
// program does to replace a file durably without the daemon. Shared by the
// benchmark and durable_cycle (the same cycle as a one-shot process), so it
// depends on nothing but the C++ standard library: a one-shot process pays
// for no more than the cycle.
#ifndef DURABLED_TESTS_BENCH_REPLACE_CYCLE_H_
#define DURABLED_TESTS_BENCH_REPLACE_CYCLE_H_

#include <string>
#include <string_view>
#include <vector>

namespace durable::bench {

// An owned file descriptor, closed on destruction (-1: none).
class ScopedFd {
 public:
  explicit ScopedFd(int fd = -1) : fd_(fd) {}
  ~ScopedFd();
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ScopedFd(ScopedFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  int get() const { return fd_; }

 private:
  int fd_;
};

// The step of a cycle that failed, with its errno; empty `step` if none.
struct CycleError {
  std::string step;  // "fsync .target.tmp-3"
  int error_number = 0;

  bool failed() const { return !step.empty(); }
  std::string ToString() const;  // "<step>: <strerror>"
};

// Opens `path` as a directory (-1 with errno on failure).
int OpenDirectory(const std::string& path);

// Writes all of `data` to `fd`, retrying short writes and EINTR.
CycleError WriteAll(int fd, std::string_view data);

// The cycle: create `temp` in `dir_fd` (O_CREAT|O_EXCL), write `data`, fsync
// it, rename it over `leaf`, fsync the directory.
CycleError ReplaceDurably(int dir_fd, const std::string& leaf,
                          const std::string& temp, std::string_view data);

// One replacement of a whole batch, the way only a writer that sees every
// write can do it: create and write every temp, flush them all with one
// syncfs, rename each over its leaf, fsync the directory once.
struct BatchEntry {
  std::string leaf;
  std::string temp;
  std::string_view data;
};
CycleError ReplaceBatchDurably(int dir_fd,
                               const std::vector<BatchEntry>& batch);

}  // namespace durable::bench

#endif  // DURABLED_TESTS_BENCH_REPLACE_CYCLE_H_
