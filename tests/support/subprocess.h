#ifndef DURABLED_TESTS_SUPPORT_SUBPROCESS_H_
#define DURABLED_TESTS_SUPPORT_SUBPROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace durable::test {

struct Command {
  std::vector<std::string> argv;  // argv[0] is the executable's path
  std::string stdin_data;
  // Environment additions, "NAME=value".
  std::vector<std::string> environment;
  // When set, the child drops to this uid and gid (no supplementary
  // groups) before exec. Needs root.
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
};

struct CommandResult {
  int exit_code = -1;  // -1 if killed by a signal
  std::string out;
  std::string err;
};

// Runs `command` to completion, feeding stdin and collecting stdout and
// stderr. Only async-signal-safe calls happen between fork and exec.
CommandResult RunCommand(const Command& command);

}  // namespace durable::test

#endif  // DURABLED_TESTS_SUPPORT_SUBPROCESS_H_
