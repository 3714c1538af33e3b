#ifndef DURABLED_SERVER_POLICY_CLIENT_ADDRESS_H_
#define DURABLED_SERVER_POLICY_CLIENT_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace durable {

// How a request names its file: an absolute host path
// ("/var/lib/agents/7/x.json"), or a rule's root name and a path relative
// to that root ("state:agent/x.json"), which a sandboxed caller can use
// without knowing the host's layout.
struct ClientAddress {
  std::string root_name;  // empty for an absolute path
  std::string path;       // absolute, or relative to the named root

  bool by_name() const { return !root_name.empty(); }
};

// Splits and checks a request's path field lexically. A text starting with
// '/' is an absolute path (ValidateClientPath); otherwise it must be
// "name:relative" with a valid root name (IsValidRootName) and a relative
// path that passes ValidateRelativePath. INVALID_ARGUMENT with the reason.
absl::StatusOr<ClientAddress> ParseClientAddress(absl::string_view text);

// Lowercase ASCII letters, digits, '-' and '_', 1 to 64 of them, the first
// a letter or digit: never '/', ':', '.' or NUL.
bool IsValidRootName(absl::string_view name);

}  // namespace durable

#endif  // DURABLED_SERVER_POLICY_CLIENT_ADDRESS_H_
