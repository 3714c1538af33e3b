#ifndef DURABLED_CLIENT_JSON_WRITER_H_
#define DURABLED_CLIENT_JSON_WRITER_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace durable::cli {

// Builds one JSON object, for durablectl's --json output:
//
//   JsonWriter json;
//   json.BeginObject();
//   json.NumberField("size", 3);
//   json.Key("groups");
//   json.BeginArray(); json.Number(1); json.EndArray();
//   json.EndObject();
//   std::cout << json.text() << "\n";
//
// Strings are written as valid JSON whatever their bytes: paths need not be
// UTF-8, so a byte that is not part of a valid UTF-8 sequence becomes
// U+FFFD. The caller keeps keys and values in order; nothing is checked.
class JsonWriter {
 public:
  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }
  void Key(absl::string_view key);
  void String(absl::string_view value);
  void Number(uint64_t value);
  void Number(int64_t value);
  void Bool(bool value);
  // Key and value in one.
  void StringField(absl::string_view key, absl::string_view value) {
    Key(key);
    String(value);
  }
  void NumberField(absl::string_view key, uint64_t value) {
    Key(key);
    Number(value);
  }
  void NumberField(absl::string_view key, int64_t value) {
    Key(key);
    Number(value);
  }
  void BoolField(absl::string_view key, bool value) {
    Key(key);
    Bool(value);
  }

  const std::string& text() const { return text_; }

 private:
  void Open(char bracket);
  void Close(char bracket);
  // Writes a comma if a value came before at this level.
  void BeforeValue();

  std::string text_;
  bool needs_comma_ = false;
  bool after_key_ = false;
};

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(absl::string_view text);

}  // namespace durable::cli

#endif  // DURABLED_CLIENT_JSON_WRITER_H_
