#include "cli_path.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <climits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace durable::cli {
namespace {

// "name:" with a valid root name (as proto/durable/v1/durable.proto says).
bool StartsWithRootName(absl::string_view path) {
  const size_t colon = path.find(':');
  if (colon == 0 || colon == absl::string_view::npos || colon > 64) {
    return false;
  }
  for (char c : path.substr(0, colon)) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-' &&
        c != '_') {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string ResolveCliPathAgainst(const std::string& path,
                                  const std::string& working_directory) {
  if (path.empty() || path[0] == '/' || StartsWithRootName(path)) return path;
  std::string base = working_directory;
  absl::string_view rest = path;
  while (true) {
    if (rest == "." || absl::StartsWith(rest, "./")) {
      rest.remove_prefix(rest.size() == 1 ? 1 : 2);
    } else if (rest == ".." || absl::StartsWith(rest, "../")) {
      rest.remove_prefix(rest.size() == 2 ? 2 : 3);
      const size_t slash = base.rfind('/');
      base.resize(slash == 0 ? 1 : slash);
    } else {
      break;
    }
  }
  if (rest.empty()) return base;  // the daemon refuses a directory
  return base == "/" ? absl::StrCat("/", rest) : absl::StrCat(base, "/", rest);
}

absl::StatusOr<std::string> ResolveCliPath(const std::string& path) {
  if (path.empty() || path[0] == '/' || StartsWithRootName(path)) return path;
  char buffer[PATH_MAX];
  if (getcwd(buffer, sizeof(buffer)) == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot resolve the relative path ", path, ": no working directory (",
        strerror(errno), "); give an absolute path"));
  }
  return ResolveCliPathAgainst(path, buffer);
}

}  // namespace durable::cli
