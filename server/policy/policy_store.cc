#include "server/policy/policy_store.h"

namespace durable {

absl::StatusOr<std::shared_ptr<const ActivePolicy>> BuildActivePolicy(
    const durable::v1::DaemonConfig& config) {
  Policy policy = Policy::FromConfig(config);
  // A per-caller root's fixed prefix is what exists at start.
  std::vector<std::string> roots;
  for (const RulePolicy& rule : policy.rules()) {
    roots.push_back(rule.root_template.base());
  }
  absl::StatusOr<RootDirectories> opened = RootDirectories::Open(roots);
  if (!opened.ok()) return opened.status();
  return std::make_shared<const ActivePolicy>(
      ActivePolicy{std::move(policy), std::move(*opened)});
}

}  // namespace durable
