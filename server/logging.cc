#include "server/logging.h"

#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace durable {

void Log(LogPriority priority, absl::string_view message) {
  std::string line =
      absl::StrCat("<", static_cast<int>(priority), ">", message, "\n");
  // One write(2) per line keeps concurrent lines whole.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace durable
