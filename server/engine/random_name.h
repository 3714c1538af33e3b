#ifndef DURABLED_SERVER_ENGINE_RANDOM_NAME_H_
#define DURABLED_SERVER_ENGINE_RANDOM_NAME_H_

#include <string>

#include "absl/strings/string_view.h"

namespace durable {

// The daemon's own names (temp files, set records, versions of a
// versioned layout): a reserved prefix and 16 lowercase hex digits of a
// random 64-bit number, so two never collide in practice and none can be
// mistaken for a caller's name.
std::string RandomHexName(absl::string_view prefix);

// `name` is `prefix` followed by exactly 16 lowercase hex digits.
bool IsRandomHexName(absl::string_view name, absl::string_view prefix);

}  // namespace durable

#endif  // DURABLED_SERVER_ENGINE_RANDOM_NAME_H_
