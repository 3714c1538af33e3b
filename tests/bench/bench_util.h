// Small helpers the benchmark's files share: errors as absl::Status, whole
// files, directories, waiting for children.
#ifndef DURABLED_TESTS_BENCH_BENCH_UTIL_H_
#define DURABLED_TESTS_BENCH_BENCH_UTIL_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tests/bench/replace_cycle.h"

namespace durable::bench {

// "<what>: <strerror(error_number)>" as an INTERNAL status.
absl::Status ErrnoStatus(absl::string_view what, int error_number);

// OK, or `error` as an INTERNAL status.
absl::Status CycleStatus(const CycleError& error);

absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

// mkdir with mode 0755.
absl::Status MakeDirectory(const std::string& path);

// waitpid, retried on EINTR.
pid_t WaitForChild(pid_t pid, int* status, int options);

}  // namespace durable::bench

#endif  // DURABLED_TESTS_BENCH_BENCH_UTIL_H_
