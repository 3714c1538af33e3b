#include "write_option_flags.h"

#include <charconv>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace durable::cli {
namespace {

// An octal mode: octal digits only (a leading 0 is allowed), no sign or
// spaces, at most 07777.
std::optional<uint32_t> ParseOctalMode(const std::string& text) {
  uint32_t mode = 0;
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, mode, 8);
  if (text.empty() || error != std::errc() || stop != end || mode > 07777) {
    return std::nullopt;
  }
  return mode;
}

}  // namespace

absl::StatusOr<bool> ApplyWriteOption(const std::string& name,
                                      const std::optional<std::string>& value,
                                      WriteOptions* options) {
  if (name == "mode" && value.has_value()) {
    std::optional<uint32_t> mode = ParseOctalMode(*value);
    if (!mode.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("mode=", *value, " is not an octal mode up to 7777"));
    }
    options->mode = *mode;
  } else if (name == "if-absent" && !value.has_value()) {
    options->if_absent = true;
  } else if (name == "if-match" && value.has_value()) {
    options->if_match = *value;
  } else if (name == "sha256" && value.has_value()) {
    options->expected_sha256 = absl::HexStringToBytes(*value);
    if (value->size() != 64 ||
        absl::BytesToHexString(options->expected_sha256) !=
            absl::AsciiStrToLower(*value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("sha256=", *value, " is not 64 hex digits"));
    }
  } else if (name == "parents" && !value.has_value()) {
    options->create_parents = true;
  } else {
    return false;
  }
  return true;
}

}  // namespace durable::cli
