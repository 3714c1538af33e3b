// Fuzzes the config parser and the policy built from whatever it accepts.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/base/peer_credentials.h"
#include "server/policy/config_loader.h"
#include "server/policy/policy.h"

// Authorizes an absolute path, as a request naming one would be.
[[maybe_unused]] absl::StatusOr<durable::Grant> AuthorizePath(
    const durable::Policy& policy, const durable::PeerCredentials& caller,
    absl::string_view path) {
  return policy.Authorize(caller,
                          durable::ClientAddress{"", std::string(path)});
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = durable::ParseConfig(text, "fuzz.conf");
  if (!config.ok()) {
    // Every refusal names the file.
    if (config.status().message().find("fuzz.conf") != 0) std::abort();
    return 0;
  }
  durable::Policy policy = durable::Policy::FromConfig(*config);
  durable::PeerCredentials caller;
  caller.uid = 1000;
  caller.gid = 1000;
  for (const durable::RulePolicy& rule : policy.rules()) {
    const std::string inside = rule.root == "/" ? "/f" : rule.root + "/f";
    auto grant = AuthorizePath(policy, caller, inside);
    if (grant.ok() && grant->leaf != "f") std::abort();
    // Prefix confusion: a sibling with the root as string prefix.
    if (rule.root != "/") {
      auto sibling = AuthorizePath(policy, caller, rule.root + "x/f");
      if (sibling.ok() && sibling->rule->root == rule.root) std::abort();
    }
  }
  (void)policy.CouldEverAllow(caller);
  return 0;
}
