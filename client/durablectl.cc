// durablectl: the command-line client of durabled.
//
//   durablectl [--socket=PATH] [--timeout=SECONDS] COMMAND [ARGS]
//
// Exit codes (stable, for scripts) are listed in kUsage.
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/client.h"

namespace {

constexpr char kUsage[] = R"(usage: durablectl [--socket=PATH] [--timeout=SECONDS] COMMAND [ARGS]

Commands:
  write PATH [--from=FILE] [--mode=OCTAL] [--if-absent]
      Make PATH hold the content of FILE (default: standard input), durably
      and atomically. --mode sets the permission bits of a created file;
      --if-absent fails if PATH exists.

Options:
  --socket=PATH      daemon socket (default: $DURABLED_SOCKET, else
                     /run/durabled/durabled.sock)
  --timeout=SECONDS  deadline of each call (default 60)

Exit codes:
  0 success            1 other failure        2 usage error
  3 permission denied  4 not found            5 already exists or changed
  6 invalid request    7 daemon unreachable   8 too large or disk full
)";

enum ExitCode {
  kOk = 0,
  kFailure = 1,
  kUsageError = 2,
  kDenied = 3,
  kNotFound = 4,
  kConflict = 5,
  kInvalid = 6,
  kUnreachable = 7,
  kExhausted = 8,
};

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kOk;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return kDenied;
    case absl::StatusCode::kNotFound:
      return kNotFound;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kFailedPrecondition:
      return kConflict;
    case absl::StatusCode::kInvalidArgument:
      return kInvalid;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kUnreachable;
    case absl::StatusCode::kResourceExhausted:
      return kExhausted;
    default:
      return kFailure;
  }
}

int UsageError(const std::string& message) {
  std::cerr << "durablectl: " << message << "\n"
            << "Run 'durablectl --help' for usage.\n";
  return kUsageError;
}

// The daemon's messages already name the path and the reason.
int Fail(const std::string& command, const absl::Status& status) {
  std::cerr << "durablectl: " << command << " failed: "
            << absl::StatusCodeToString(status.code()) << ": "
            << status.message() << "\n";
  return ExitCodeFor(status);
}

// Splits "--name=value" into name and value; a bare "--name" has no value.
struct Flag {
  std::string name;
  std::optional<std::string> value;
};
std::optional<Flag> ParseFlag(const std::string& arg) {
  if (!absl::StartsWith(arg, "--") || arg == "--") return std::nullopt;
  Flag flag;
  size_t eq = arg.find('=');
  flag.name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
  if (eq != std::string::npos) flag.value = arg.substr(eq + 1);
  return flag;
}

absl::StatusOr<std::string> ReadAll(const std::string& from) {
  if (from.empty() || from == "-") {
    std::string data((std::istreambuf_iterator<char>(std::cin)),
                     std::istreambuf_iterator<char>());
    if (std::cin.bad()) {
      return absl::InternalError("cannot read standard input");
    }
    return data;
  }
  std::ifstream in(from, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot open ", from, ": ", strerror(errno)));
  }
  std::ostringstream data;
  data << in.rdbuf();
  return data.str();
}

int Write(durable::Client& client, const std::vector<std::string>& args) {
  std::optional<std::string> path;
  std::string from;
  durable::WriteOptions options;
  for (const std::string& arg : args) {
    std::optional<Flag> flag = ParseFlag(arg);
    if (!flag.has_value()) {
      if (path.has_value()) return UsageError("write takes one PATH");
      path = arg;
    } else if (flag->name == "from" && flag->value.has_value()) {
      from = *flag->value;
    } else if (flag->name == "mode" && flag->value.has_value()) {
      uint32_t mode = 0;
      if (!absl::numbers_internal::safe_strtou32_base(*flag->value, &mode,
                                                      8) ||
          mode > 07777) {
        return UsageError(absl::StrCat("--mode=", *flag->value,
                                       " is not an octal mode up to 7777"));
      }
      options.mode = mode;
    } else if (flag->name == "if-absent" && !flag->value.has_value()) {
      options.if_absent = true;
    } else {
      return UsageError(absl::StrCat("write: unknown option ", arg));
    }
  }
  if (!path.has_value()) return UsageError("write needs a PATH");
  absl::StatusOr<std::string> data = ReadAll(from);
  if (!data.ok()) {
    std::cerr << "durablectl: " << data.status().message() << "\n";
    return ExitCodeFor(data.status());
  }
  absl::StatusOr<durable::WriteResult> result =
      client.Write(*path, *data, options);
  if (!result.ok()) return Fail("write", result.status());
  std::cout << *path << ": " << result->size << " bytes "
            << (result->created ? "created" : "replaced") << ", sha256 "
            << absl::BytesToHexString(result->sha256) << ", etag "
            << result->etag << "\n";
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  durable::ClientOptions options;
  std::vector<std::string> rest;
  int i = 1;
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    std::optional<Flag> flag = ParseFlag(arg);
    if (!flag.has_value()) break;
    if (flag->name == "help" || flag->name == "h") {
      std::cout << kUsage;
      return kOk;
    } else if (flag->name == "socket" && flag->value.has_value()) {
      options.socket_path = *flag->value;
    } else if (flag->name == "timeout" && flag->value.has_value()) {
      double seconds = 0;
      if (!absl::SimpleAtod(*flag->value, &seconds) || seconds <= 0) {
        return UsageError(absl::StrCat("--timeout=", *flag->value,
                                       " is not a positive number of seconds"));
      }
      options.timeout = absl::Seconds(seconds);
    } else {
      return UsageError(absl::StrCat("unknown option ", arg));
    }
  }
  if (i >= argc) return UsageError("no command given");
  std::string command = argv[i++];
  std::vector<std::string> args(argv + i, argv + argc);
  if (command == "help") {
    std::cout << kUsage;
    return kOk;
  }
  durable::Client client(options);
  if (command == "write") return Write(client, args);
  return UsageError(absl::StrCat("unknown command \"", command, "\""));
}
