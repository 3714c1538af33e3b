// What the crash-torture and stress tests share: environment knobs,
// self-describing content (a header naming the operation and target, then
// deterministic bytes, then the SHA-256 of all before it, so torn or mixed
// content is detected), and reading the daemon's start-up log.
#ifndef DURABLED_TESTS_SUPPORT_TORTURE_SUPPORT_H_
#define DURABLED_TESTS_SUPPORT_TORTURE_SUPPORT_H_

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "durable/client.h"
#include "gtest/gtest.h"
#include "server/engine/sha256.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_daemon.h"

// Defined in a build under AddressSanitizer, where the torture tests run
// shorter by default (every call is several times slower there).
#if defined(__SANITIZE_ADDRESS__)
#define DURABLED_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DURABLED_TEST_UNDER_ASAN 1
#endif
#endif

namespace durable::test {

// $`name` as an int, or `fallback` if unset or not a number.
inline int EnvInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  int parsed;
  if (value == nullptr || !absl::SimpleAtoi(value, &parsed)) return fallback;
  return parsed;
}

// Identifies one operation: thread and index in that thread's log.
struct OpId {
  int thread = -1;
  int index = -1;
};

inline constexpr char kContentTrailerPrefix[] = "\nsha256=";

// Member `member` of `members` of operation `id`, for `target`: a header
// starting with `prefix` that names all of that, `size` deterministic
// bytes, and the SHA-256 of everything before it.
inline std::string MakeMemberContent(absl::string_view prefix, OpId id,
                                     const std::string& target, int member,
                                     int members, size_t size) {
  std::string content =
      absl::StrCat(prefix, id.thread, ".", id.index, " target=", target,
                   " member=", member, "/", members, " size=", size, "\n");
  std::mt19937_64 bytes(id.thread * 1000003ull + id.index * 7919ull + member);
  content.reserve(content.size() + size + 80);
  for (size_t i = 0; i < size; ++i) {
    content.push_back(static_cast<char>('a' + bytes() % 26));
  }
  absl::StrAppend(&content, kContentTrailerPrefix,
                  absl::BytesToHexString(Sha256::Of(content)), "\n");
  return content;
}

struct ParsedMember {
  OpId id;
  std::string target;
  int member = 0;
  int members = 0;
};

// Checks `content` is one whole MakeMemberContent(prefix, ...); returns
// what its header names.
inline absl::StatusOr<ParsedMember> ParseMemberContent(
    absl::string_view prefix, const std::string& content) {
  if (content.empty()) return absl::DataLossError("empty");
  const size_t trailer = content.rfind(kContentTrailerPrefix);
  if (!absl::StartsWith(content, prefix) || trailer == std::string::npos) {
    return absl::DataLossError("no header or trailer (torn)");
  }
  const std::string body = content.substr(0, trailer);
  if (content.substr(trailer) !=
      absl::StrCat(kContentTrailerPrefix,
                   absl::BytesToHexString(Sha256::Of(body)), "\n")) {
    return absl::DataLossError("checksum mismatch (torn or mixed)");
  }
  absl::string_view header = absl::string_view(body).substr(0, body.find('\n'));
  header.remove_prefix(prefix.size());
  std::vector<std::string> fields = absl::StrSplit(header, ' ');
  if (fields.size() != 4 || !absl::StartsWith(fields[1], "target=") ||
      !absl::StartsWith(fields[2], "member=")) {
    return absl::DataLossError("bad header");
  }
  std::vector<std::string> id = absl::StrSplit(fields[0], '.');
  std::vector<std::string> member =
      absl::StrSplit(fields[2].substr(strlen("member=")), '/');
  ParsedMember parsed;
  if (id.size() != 2 || member.size() != 2 ||
      !absl::SimpleAtoi(id[0], &parsed.id.thread) ||
      !absl::SimpleAtoi(id[1], &parsed.id.index) ||
      !absl::SimpleAtoi(member[0], &parsed.member) ||
      !absl::SimpleAtoi(member[1], &parsed.members)) {
    return absl::DataLossError("bad header fields");
  }
  parsed.target = fields[1].substr(strlen("target="));
  return parsed;
}

// Whether `daemon` answers (after a restart).
inline bool WaitUntilServing(const TestDaemon& daemon) {
  absl::StatusOr<CallerInfo> identity = daemon.NewClient()->WhoAmI();
  EXPECT_THAT(identity, IsOk());
  return identity.ok();
}

// The N of every "start-up sweep of ROOT: removed N leftover temp files"
// in `log`, added up.
inline uint64_t SweptTempFiles(const std::string& log) {
  uint64_t total = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    const size_t at = line.find(": removed ");
    if (!absl::StrContains(line, "start-up sweep of") ||
        at == absl::string_view::npos) {
      continue;
    }
    absl::string_view rest = line.substr(at + strlen(": removed "));
    uint64_t n;
    if (absl::SimpleAtoi(rest.substr(0, rest.find(' ')), &n)) total += n;
  }
  return total;
}

}  // namespace durable::test

#endif  // DURABLED_TESTS_SUPPORT_TORTURE_SUPPORT_H_
