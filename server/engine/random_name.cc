#include "server/engine/random_name.h"

#include <cstdint>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace durable {

std::string RandomHexName(absl::string_view prefix) {
  absl::BitGen bits;
  return absl::StrFormat("%s%016x", prefix, absl::Uniform<uint64_t>(bits));
}

bool IsRandomHexName(absl::string_view name, absl::string_view prefix) {
  if (!absl::ConsumePrefix(&name, prefix) || name.size() != 16) return false;
  for (char c : name) {
    if (!absl::ascii_isxdigit(c) || absl::ascii_isupper(c)) return false;
  }
  return true;
}

}  // namespace durable
