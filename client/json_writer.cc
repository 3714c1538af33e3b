#include "json_writer.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "utf8.h"

namespace durable::cli {

std::string JsonQuote(absl::string_view text) {
  std::string out = "\"";
  while (!text.empty()) {
    const unsigned char c = static_cast<unsigned char>(text[0]);
    size_t consumed = 1;
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (size_t length = durable::Utf8SequenceLength(text); length > 0) {
      out.append(text.data(), length);
      consumed = length;
    } else {
      out += "\\ufffd";
    }
    text.remove_prefix(consumed);
  }
  out += '"';
  return out;
}

void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (needs_comma_) text_ += ',';
}

void JsonWriter::Open(char bracket) {
  BeforeValue();
  text_ += bracket;
  needs_comma_ = false;
}

void JsonWriter::Close(char bracket) {
  text_ += bracket;
  needs_comma_ = true;
}

void JsonWriter::Key(absl::string_view key) {
  BeforeValue();
  absl::StrAppend(&text_, JsonQuote(key), ":");
  after_key_ = true;
}

void JsonWriter::String(absl::string_view value) {
  BeforeValue();
  text_ += JsonQuote(value);
  needs_comma_ = true;
}

void JsonWriter::Number(uint64_t value) {
  BeforeValue();
  absl::StrAppend(&text_, value);
  needs_comma_ = true;
}

void JsonWriter::Number(int64_t value) {
  BeforeValue();
  absl::StrAppend(&text_, value);
  needs_comma_ = true;
}

void JsonWriter::Bool(bool value) {
  BeforeValue();
  text_ += value ? "true" : "false";
  needs_comma_ = true;
}

}  // namespace durable::cli
