#ifndef DURABLED_SERVER_POLICY_PATH_VALIDATION_H_
#define DURABLED_SERVER_POLICY_PATH_VALIDATION_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace durable {

// Lexical checks on a path a client sent. OK only for a clean absolute path:
// starts with '/', no empty component ("//" or a trailing '/'), no "." or
// ".." component, no NUL or other control character, every component at
// most NAME_MAX bytes, no component in durabled's temp namespace (starting
// with kTempFilePrefix, which the start-up sweep deletes), the whole at most
// PATH_MAX - 1 bytes, and not "/" itself. INVALID_ARGUMENT otherwise, with
// the reason.
//
// Necessary, never sufficient: the filesystem is checked again during
// resolution (symlinks, mounts, races).
absl::Status ValidateClientPath(absl::string_view path);

// The same checks for a path relative to a named root (the "agent/x.json"
// of "state:agent/x.json"): like an absolute path without its leading '/'.
absl::Status ValidateRelativePath(absl::string_view path);

// A validated path split at its last '/': "/a/b/c" -> {"/a/b", "c"};
// "/c" -> {"/", "c"}.
struct SplitPath {
  std::string parent;
  std::string leaf;
};
SplitPath SplitParentAndLeaf(absl::string_view path);

// True if `path` equals `root` or lies beneath it at a component boundary
// ("/srv/a" contains "/srv/a/x" but not "/srv/ab"). Both must be clean
// absolute paths; "/" contains everything.
bool PathIsWithin(absl::string_view path, absl::string_view root);

}  // namespace durable

#endif  // DURABLED_SERVER_POLICY_PATH_VALIDATION_H_
