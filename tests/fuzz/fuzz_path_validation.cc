// Fuzzes the lexical path checks. Beyond "does not crash", it asserts the
// properties the rest of the daemon relies on for every accepted path.
#include <limits.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "server/policy/path_validation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path(reinterpret_cast<const char*>(data), size);
  if (!durable::ValidateClientPath(path).ok()) return 0;
  // Accepted: absolute, clean, bounded, no NUL/control characters.
  if (path.empty() || path[0] != '/' || path.back() == '/') std::abort();
  if (path.size() >= PATH_MAX) std::abort();
  if (absl::StrContains(path, "//") || absl::StrContains(path, "/./") ||
      absl::StrContains(path, "/../") || absl::EndsWith(path, "/.") ||
      absl::EndsWith(path, "/..")) {
    std::abort();
  }
  for (char c : path) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) std::abort();
  }
  const durable::SplitPath split = durable::SplitParentAndLeaf(path);
  if (split.leaf.empty() || split.leaf.size() > NAME_MAX ||
      split.leaf.find('/') != std::string::npos) {
    std::abort();
  }
  if (!durable::PathIsWithin(path, split.parent)) std::abort();
  if (!durable::PathIsWithin(path, "/")) std::abort();
  // A root that is a strict prefix at a non-boundary never contains it.
  if (path.size() > 2) {
    const std::string prefix = path.substr(0, path.size() - 1);
    if (path.back() != '/' && prefix.back() != '/' &&
        durable::PathIsWithin(path, prefix) && path[prefix.size()] != '/') {
      std::abort();
    }
  }
  return 0;
}
