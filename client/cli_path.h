#ifndef DURABLED_CLIENT_CLI_PATH_H_
#define DURABLED_CLIENT_CLI_PATH_H_

#include <string>

#include "absl/status/statusor.h"

namespace durable::cli {

// The PATH argument of durablectl as the daemon takes it. The daemon takes
// only absolute paths and "name:relative/path"; a shell user expects a
// relative path to mean one below the working directory:
//   "/abs/x"          unchanged
//   "state:agent/x"   unchanged (a root name: 1-64 of [a-z0-9_-], then ':')
//   "x", "./x"        <cwd>/x
//   "../x"            <parent of cwd>/x
// Only leading "." and ".." components are resolved (lexically, against the
// physical working directory from getcwd, so no symlink is involved). A
// "." or ".." further in is sent as it is, for the daemon to refuse: below
// the working directory it could follow a symlink, which the daemon never
// does. A relative file name with a ':' after a valid root name is taken as
// a root name; write "./name:x" to mean the file.
absl::StatusOr<std::string> ResolveCliPath(const std::string& path);

// As above, against `working_directory` (absolute) instead of getcwd().
std::string ResolveCliPathAgainst(const std::string& path,
                                  const std::string& working_directory);

}  // namespace durable::cli

#endif  // DURABLED_CLIENT_CLI_PATH_H_
