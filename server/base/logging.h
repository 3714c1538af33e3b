#ifndef DURABLED_SERVER_BASE_LOGGING_H_
#define DURABLED_SERVER_BASE_LOGGING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace durable {

// syslog priorities, as journald reads them from a "<N>" line prefix.
enum class LogPriority {
  kError = 3,
  kWarning = 4,
  kNotice = 5,
  kInfo = 6,
  kDebug = 7,
};

// Writes one line "<N>message" to stderr, atomically with respect to other
// log lines. Under systemd, journald turns the prefix into the priority.
// Control characters in `message` are written as escapes (\n, \x1b, ...),
// so no byte of it can end the line or forge a priority prefix; messages
// should still quote names with EscapeName so that they read unambiguously.
void Log(LogPriority priority, absl::string_view message);

// A caller- or disk-controlled name (path, file name) C-escaped for a log
// line or an error message: quotes, backslashes, control and non-ASCII
// bytes become escapes.
std::string EscapeName(absl::string_view name);

// `path` escaped as EscapeName does and cut to a readable length, for
// messages that echo what a caller sent.
std::string DisplayPath(absl::string_view path);

inline void LogError(absl::string_view m) { Log(LogPriority::kError, m); }
inline void LogWarning(absl::string_view m) { Log(LogPriority::kWarning, m); }
inline void LogNotice(absl::string_view m) { Log(LogPriority::kNotice, m); }
inline void LogInfo(absl::string_view m) { Log(LogPriority::kInfo, m); }

}  // namespace durable

#endif  // DURABLED_SERVER_BASE_LOGGING_H_
