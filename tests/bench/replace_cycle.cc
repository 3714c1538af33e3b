#include "tests/bench/replace_cycle.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

namespace durable::bench {
namespace {

CycleError Failed(std::string step) { return {std::move(step), errno}; }

// Creates `temp` holding `data`, flushed with fsync when `sync` is set.
CycleError WriteTemp(int dir_fd, const std::string& temp, std::string_view data,
                     bool sync) {
  ScopedFd fd(openat(dir_fd, temp.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     0644));
  if (fd.get() < 0) return Failed("create " + temp);
  CycleError error = WriteAll(fd.get(), data);
  if (!error.failed() && sync && fsync(fd.get()) != 0) {
    error = Failed("fsync " + temp);
  }
  return error;
}

CycleError Rename(int dir_fd, const std::string& from, const std::string& to) {
  if (renameat(dir_fd, from.c_str(), dir_fd, to.c_str()) != 0) {
    return Failed("rename " + from + " to " + to);
  }
  return {};
}

CycleError SyncDirectory(int dir_fd) {
  if (fsync(dir_fd) != 0) return Failed("fsync(directory)");
  return {};
}

}  // namespace

ScopedFd::~ScopedFd() {
  if (fd_ >= 0) close(fd_);
}

std::string CycleError::ToString() const {
  return step + ": " + strerror(error_number);
}

int OpenDirectory(const std::string& path) {
  return open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

CycleError WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Failed("write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

CycleError ReplaceDurably(int dir_fd, const std::string& leaf,
                          const std::string& temp, std::string_view data) {
  CycleError error = WriteTemp(dir_fd, temp, data, /*sync=*/true);
  if (!error.failed()) error = Rename(dir_fd, temp, leaf);
  if (error.failed()) {
    unlinkat(dir_fd, temp.c_str(), 0);
    return error;
  }
  return SyncDirectory(dir_fd);
}

CycleError ReplaceBatchDurably(int dir_fd,
                               const std::vector<BatchEntry>& batch) {
  for (const BatchEntry& entry : batch) {
    CycleError error =
        WriteTemp(dir_fd, entry.temp, entry.data, /*sync=*/false);
    if (error.failed()) return error;
  }
  if (syncfs(dir_fd) != 0) return Failed("syncfs");
  for (const BatchEntry& entry : batch) {
    CycleError error = Rename(dir_fd, entry.temp, entry.leaf);
    if (error.failed()) return error;
  }
  return SyncDirectory(dir_fd);
}

}  // namespace durable::bench
