#include "server/base/logging.h"

#include <unistd.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace durable {

namespace {

constexpr size_t kDisplayPathLimit = 512;

}  // namespace

std::string EscapeName(absl::string_view name) { return absl::CEscape(name); }

std::string DisplayPath(absl::string_view path) {
  if (path.size() <= kDisplayPathLimit) return EscapeName(path);
  return absl::StrCat(EscapeName(path.substr(0, kDisplayPathLimit)), "...(",
                      path.size(), " bytes)");
}

void Log(LogPriority priority, absl::string_view message) {
  std::string line = absl::StrCat("<", static_cast<int>(priority), ">");
  line.reserve(line.size() + message.size() + 1);
  for (char c : message) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      line.push_back(c);
    } else if (c == '\n') {
      line.append("\\n");
    } else if (c == '\t') {
      line.append("\\t");
    } else {
      absl::StrAppend(&line, "\\x", absl::Hex(u, absl::kZeroPad2));
    }
  }
  line.push_back('\n');
  // One write(2) per line keeps concurrent lines whole.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace durable
