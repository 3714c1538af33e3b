#include "server/daemon/writable_paths.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/policy/policy.h"

namespace durable {

std::vector<std::string> WritablePaths(
    const durable::v1::DaemonConfig& config) {
  std::vector<std::string> paths;
  const Policy policy = Policy::FromConfig(config);
  for (const RulePolicy& rule : policy.rules()) {
    paths.push_back(rule.root_template.base());
  }
  const std::string& socket = config.socket().path();
  const size_t slash = socket.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    paths.push_back(socket.substr(0, slash));
  }
  std::sort(paths.begin(), paths.end());
  std::vector<std::string> distinct;
  for (const std::string& path : paths) {
    // Sorted, a path's ancestors come before it: one of them covers it.
    const bool covered =
        std::any_of(distinct.begin(), distinct.end(), [&](const auto& kept) {
          return path == kept || kept == "/" ||
                 absl::StartsWith(path, absl::StrCat(kept, "/"));
        });
    if (!covered) distinct.push_back(path);
  }
  return distinct;
}

}  // namespace durable
