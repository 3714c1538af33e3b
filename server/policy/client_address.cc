#include "server/policy/client_address.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/policy/path_validation.h"

namespace durable {

bool IsValidRootName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  if (!absl::ascii_islower(name[0]) && !absl::ascii_isdigit(name[0])) {
    return false;
  }
  for (char c : name) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-' &&
        c != '_') {
      return false;
    }
  }
  return true;
}

absl::StatusOr<ClientAddress> ParseClientAddress(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("the path is empty");
  if (text[0] == '/') {
    absl::Status valid = ValidateClientPath(text);
    if (!valid.ok()) return valid;
    return ClientAddress{"", std::string(text)};
  }
  const size_t colon = text.find(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "the path is relative; it must start with '/' or name a root "
        "(name:relative/path)");
  }
  const absl::string_view name = text.substr(0, colon);
  if (!IsValidRootName(name)) {
    return absl::InvalidArgumentError(
        "the root name before ':' is not a valid name (lowercase letters, "
        "digits, '-' and '_', at most 64)");
  }
  const absl::string_view relative = text.substr(colon + 1);
  if (relative.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the path names the root ", name, ": itself; name a file beneath it"));
  }
  absl::Status valid = ValidateRelativePath(relative);
  if (!valid.ok()) return valid;
  return ClientAddress{std::string(name), std::string(relative)};
}

}  // namespace durable
