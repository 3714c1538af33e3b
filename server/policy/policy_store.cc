#include "server/policy/policy_store.h"

namespace durable {

absl::StatusOr<std::shared_ptr<const ActivePolicy>> BuildActivePolicy(
    const durable::v1::DaemonConfig& config) {
  std::vector<std::string> roots;
  for (const auto& rule : config.rule()) roots.push_back(rule.root());
  absl::StatusOr<RootDirectories> opened = RootDirectories::Open(roots);
  if (!opened.ok()) return opened.status();
  return std::make_shared<const ActivePolicy>(
      ActivePolicy{Policy::FromConfig(config), std::move(*opened)});
}

}  // namespace durable
