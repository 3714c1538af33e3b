#ifndef DURABLED_CLIENT_UTF8_H_
#define DURABLED_CLIENT_UTF8_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace durable {

// Length of the valid UTF-8 sequence at the start of `text` (1 to 4), or 0
// if it does not start with one: a stray continuation byte, a truncated
// sequence, an overlong form, a UTF-16 surrogate or a value past U+10FFFF.
inline size_t Utf8SequenceLength(absl::string_view text) {
  if (text.empty()) return 0;
  const auto byte = [&](size_t i) {
    return static_cast<unsigned char>(text[i]);
  };
  const unsigned char lead = byte(0);
  size_t length;
  uint32_t min;
  if (lead < 0x80) return 1;
  if ((lead & 0xe0) == 0xc0) {
    length = 2, min = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3, min = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  uint32_t code_point = lead & (0x7f >> length);
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(i) & 0x3f);
  }
  if (code_point < min || code_point > 0x10ffff ||
      (code_point >= 0xd800 && code_point <= 0xdfff)) {
    return 0;
  }
  return length;
}

// Whether all of `text` is valid UTF-8 (what proto3 requires of a string
// field; protobuf refuses to serialize a message otherwise).
inline bool IsValidUtf8(absl::string_view text) {
  while (!text.empty()) {
    const size_t length = Utf8SequenceLength(text);
    if (length == 0) return false;
    text.remove_prefix(length);
  }
  return true;
}

}  // namespace durable

#endif  // DURABLED_CLIENT_UTF8_H_
