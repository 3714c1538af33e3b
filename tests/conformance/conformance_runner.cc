// Conformance runner of the C++ client (tests/conformance/README.md).
//
// Runs every case of $DURABLE_CONFORMANCE_CASES against the daemon at
// $DURABLED_SOCKET, whose roots are $DURABLE_CONFORMANCE_BASE/roots/NAME:
//
//   bash tests/conformance/with-daemon.sh build/server/durabled --
//       build/tests/conformance/conformance_runner [--cases FILE] [CASE...]
//
// (one command line; ctest conformance_cpp runs it).
//
// write, write_stream, stat, remove, whoami and stats go through the public
// API of the C++ client (durable/client.h); raw_stream sends its messages
// through the generated stub (durable/v1/durable.grpc.pb.h), exactly as
// listed. cases.json is read with protobuf's JSON parser into a
// google::protobuf::Value. The semantics are those of the Python runner
// (client/python/tests/conformance_runner.py): a field the README does not
// define fails the case (so that a case is never passed by ignoring what it
// expects); keys starting with "$" or "_", "description" and "comment" are
// notes and ignored. Prints one line per case ("ok NAME", "FAIL NAME:
// reasons" or "BAD NAME: case format: ...") and a summary; exits 1 if any
// case failed, 2 on a bad file.
//
// One difference the client's API imposes: Client::WriteStream takes 0 as
// "size unknown", so a write_stream of empty content announces no size.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "durable/client.h"
#include "durable/v1/durable.grpc.pb.h"
#include "durable/v1/durable.pb.h"

namespace durable_conformance {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;
using StringSet = std::set<std::string>;

// How a step or check fails. A case that breaks the format is BAD
// (kInvalidArgument, made only by BadCase()); every other error (a
// Mismatch, or an I/O error of the runner) means the client or daemon
// behaved otherwise than the case expects: FAIL.
absl::Status BadCase(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}
bool IsBadCase(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument;
}
absl::Status Mismatch(absl::string_view message) {
  return absl::FailedPreconditionError(message);
}
absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

const StringSet kContentKeys = {"content", "content_base64", "content_repeat"};
StringSet WithContent(StringSet fields) {
  fields.insert(kContentKeys.begin(), kContentKeys.end());
  return fields;
}
const StringSet kWriteFields = WithContent(
    {"mode", "if_absent", "if_match", "expected_sha256", "create_parents"});
const std::map<std::string, StringSet> kStepFields = {
    {"write", kWriteFields},
    {"write_stream",
     [] {
       StringSet fields = kWriteFields;
       fields.insert({"chunk_size", "announce_size"});
       return fields;
     }()},
    {"raw_stream", {"messages", "pause_ms_before_close"}},
    {"stat", {}},
    {"remove", {"if_match"}},
    {"whoami", {}},
    {"stats", {}},
};
const StringSet kCommonFields = {"call", "path", "expect", "save_etag",
                                 "socket"};
const StringSet kWrites = {"write", "write_stream", "raw_stream"};
// Which calls' answers each `expect` field describes.
const std::map<std::string, StringSet> kExpectFields = {
    {"created", kWrites},
    {"superseded", kWrites},
    {"sha256", kWrites},
    {"size", {"write", "write_stream", "raw_stream", "stat"}},
    {"mode", {"stat"}},
    {"etag_equals", {"write", "write_stream", "raw_stream", "stat", "remove"}},
    {"etag_differs", {"write", "write_stream", "raw_stream", "stat", "remove"}},
    {"uid_is_self", {"whoami"}},
    {"grant_names", {"whoami"}},
    {"denied_roots_count", {"whoami"}},
    {"writes_ok_at_least", {"stats"}},
};
const StringSet kHeaderFields = {"path",          "size",     "mode",
                                 "if_absent",     "if_match", "expected_sha256",
                                 "create_parents"};
constexpr char kTempPrefix[] = ".durabled-tmp.";

// Status plumbing (absl has no macros for it).
#define CONFORMANCE_CONCAT_INNER(a, b) a##b
#define CONFORMANCE_CONCAT(a, b) CONFORMANCE_CONCAT_INNER(a, b)
#define RETURN_IF_ERROR(expr)                                         \
  do {                                                                \
    if (absl::Status status_ = (expr); !status_.ok()) return status_; \
  } while (0)
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(CONFORMANCE_CONCAT(or_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(result, lhs, expr) \
  auto result = (expr);                          \
  if (!result.ok()) return result.status();      \
  lhs = *std::move(result)

// --- JSON values -------------------------------------------------------------

bool IsNote(absl::string_view key) {
  return absl::StartsWith(key, "$") || absl::StartsWith(key, "_") ||
         key == "description" || key == "comment";
}

const Value* Find(const Struct& object, const std::string& key) {
  auto it = object.fields().find(key);
  return it == object.fields().end() ? nullptr : &it->second;
}
bool Has(const Struct& object, const std::string& key) {
  return Find(object, key) != nullptr;
}

// The value as JSON, for messages.
std::string Show(const Value& value) {
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(value, &text).ok()) {
    return "<value>";
  }
  return text;
}

absl::StatusOr<const Struct*> AsObject(const Value& value,
                                       absl::string_view what) {
  if (value.kind_case() != Value::kStructValue) {
    return BadCase(absl::StrCat(what, ": must be an object"));
  }
  return &value.struct_value();
}

absl::StatusOr<const ListValue*> AsList(const Value& value,
                                        absl::string_view what) {
  if (value.kind_case() != Value::kListValue) {
    return BadCase(absl::StrCat(what, ": must be a list"));
  }
  return &value.list_value();
}

absl::StatusOr<std::string> AsString(const Value& value,
                                     absl::string_view what) {
  if (value.kind_case() != Value::kStringValue) {
    return BadCase(absl::StrCat(what, ": must be a string"));
  }
  return value.string_value();
}

absl::StatusOr<int64_t> AsInteger(const Value& value, absl::string_view what) {
  double number = value.number_value();
  if (value.kind_case() != Value::kNumberValue ||
      number != static_cast<double>(static_cast<int64_t>(number))) {
    return BadCase(
        absl::StrCat(what, ": must be an integer, not ", Show(value)));
  }
  return static_cast<int64_t>(number);
}

absl::StatusOr<bool> AsBool(const Value& value, absl::string_view what) {
  if (value.kind_case() != Value::kBoolValue) {
    return BadCase(absl::StrCat(what, ": must be true or false"));
  }
  return value.bool_value();
}

absl::StatusOr<std::string> StringOr(const Struct& object,
                                     const std::string& key,
                                     std::string fallback) {
  const Value* value = Find(object, key);
  if (value == nullptr) return fallback;
  return AsString(*value, key);
}

absl::StatusOr<int64_t> IntegerOr(const Struct& object, const std::string& key,
                                  int64_t fallback) {
  const Value* value = Find(object, key);
  if (value == nullptr) return fallback;
  return AsInteger(*value, key);
}

absl::StatusOr<bool> BoolOr(const Struct& object, const std::string& key,
                            bool fallback) {
  const Value* value = Find(object, key);
  if (value == nullptr) return fallback;
  return AsBool(*value, key);
}

absl::Status CheckFields(absl::string_view what, const Struct& entry,
                         const StringSet& allowed) {
  std::vector<std::string> unknown;
  for (const auto& [key, value] : entry.fields()) {
    if (!allowed.count(key) && !IsNote(key)) unknown.push_back(key);
  }
  if (unknown.empty()) return absl::OkStatus();
  std::sort(unknown.begin(), unknown.end());
  return BadCase(
      absl::StrCat(what, ": unknown field(s) ", absl::StrJoin(unknown, ", ")));
}

// The content an entry gives (content / content_base64 / content_repeat),
// empty if none.
absl::StatusOr<std::string> ContentOf(const Struct& entry,
                                      absl::string_view what) {
  std::vector<std::string> given;
  for (const std::string& key : kContentKeys) {
    if (Has(entry, key)) given.push_back(key);
  }
  if (given.size() > 1) {
    return BadCase(
        absl::StrCat(what, ": more than one of ", absl::StrJoin(given, ", ")));
  }
  if (given.empty()) return std::string();
  const Value& value = *Find(entry, given[0]);
  if (given[0] == "content") {
    if (value.kind_case() != Value::kStringValue) {
      return BadCase(absl::StrCat(what, ": content must be a string"));
    }
    return value.string_value();
  }
  if (given[0] == "content_base64") {
    std::string decoded;
    if (value.kind_case() != Value::kStringValue ||
        !absl::Base64Unescape(value.string_value(), &decoded)) {
      return BadCase(absl::StrCat(what, ": content_base64 is not base64"));
    }
    return decoded;
  }
  const std::string repeat_what = absl::StrCat(what, ": content_repeat");
  const Struct* repeat;
  ASSIGN_OR_RETURN(repeat, AsObject(value, repeat_what));
  RETURN_IF_ERROR(CheckFields(repeat_what, *repeat, {"text", "count"}));
  const Value* text = Find(*repeat, "text");
  const Value* count = Find(*repeat, "count");
  if (text == nullptr || count == nullptr) {
    return BadCase(absl::StrCat(repeat_what, " needs a text and a count"));
  }
  std::string unit;
  ASSIGN_OR_RETURN(unit, AsString(*text, repeat_what + ".text"));
  int64_t times;
  ASSIGN_OR_RETURN(times, AsInteger(*count, repeat_what + ".count"));
  if (times < 0) return BadCase(absl::StrCat(repeat_what, ": negative count"));
  std::string content;
  content.reserve(unit.size() * times);
  for (int64_t i = 0; i < times; ++i) content += unit;
  return content;
}

// expected_sha256: hex, or "bad31" for 31 zero bytes.
absl::StatusOr<std::string> DigestOf(const Value& value) {
  std::string text;
  ASSIGN_OR_RETURN(text, AsString(value, "expected_sha256"));
  if (text == "bad31") return std::string(31, '\0');
  bool hex = text.size() % 2 == 0;
  for (char c : text) hex = hex && absl::ascii_isxdigit(c);
  if (!hex) {
    return BadCase(absl::StrCat("expected_sha256 '", text, "' is not hex"));
  }
  return absl::HexStringToBytes(text);
}

std::string ToHex(absl::string_view bytes) {
  return absl::BytesToHexString(bytes);
}

bool IsEtag(const std::string& etag) {
  if (etag.size() != 16) return false;
  for (char c : etag) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool IsCaseName(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

bool IsCodeName(const std::string& name) {
  for (int code = 0; code <= 16; ++code) {
    if (absl::StatusCodeToString(static_cast<absl::StatusCode>(code)) == name) {
      return true;
    }
  }
  return false;
}

// --- the host's files --------------------------------------------------------

// mkdir -p, each new directory with `mode` (under the umask).
absl::Status MakeDirectories(const std::string& path, mode_t mode) {
  std::string prefix;
  for (size_t at = 0; at != std::string::npos;) {
    size_t next = path.find('/', at + 1);
    prefix = path.substr(0, next);
    at = next;
    if (prefix.empty()) continue;
    if (mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      return ErrnoError("mkdir", prefix);
    }
  }
  struct stat info;
  if (stat(path.c_str(), &info) != 0) return ErrnoError("stat", path);
  if (!S_ISDIR(info.st_mode)) {
    return absl::InternalError(absl::StrCat(path, " is not a directory"));
  }
  return absl::OkStatus();
}

absl::Status RemoveTree(const std::string& path) {
  std::error_code error;
  std::filesystem::remove_all(path, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("removing ", path, ": ", error.message()));
  }
  return absl::OkStatus();
}

absl::Status WriteHostFile(const std::string& path,
                           const std::string& content) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) return ErrnoError("open", path);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status status = ErrnoError("write", path);
      close(fd);
      return status;
    }
    done += static_cast<size_t>(n);
  }
  if (close(fd) != 0) return ErrnoError("close", path);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadHostFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return ErrnoError("open", path);
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

// Every entry under `directory` whose name starts with ".durabled-tmp."
// (symlinks are listed, not followed).
void FindTempFiles(const std::filesystem::path& directory,
                   std::vector<std::string>* found) {
  std::error_code error;
  std::filesystem::directory_iterator it(directory, error), end;
  for (; !error && it != end; it.increment(error)) {
    const std::filesystem::path& entry = it->path();
    if (absl::StartsWith(entry.filename().string(), kTempPrefix)) {
      found->push_back(entry.string());
    }
    std::error_code type_error;
    if (it->is_directory(type_error) && !it->is_symlink(type_error)) {
      FindTempFiles(entry, found);
    }
  }
}

// Bytes as text for a message: at most 40, escaped.
std::string Excerpt(absl::string_view bytes) {
  return absl::StrCat("'", absl::CHexEscape(bytes.substr(0, 40)), "'");
}

// --- calls -------------------------------------------------------------------

// What a call got: its status and, if OK, its answer.
struct Answer {
  std::string code = "OK";
  std::string message;
  std::optional<durable::WriteResult> write;
  std::optional<durable::FileStatus> stat;
  std::optional<std::string> removed_etag;
  std::optional<durable::CallerInfo> caller;
  std::optional<durable::DaemonStats> stats;

  // The answer's etag, if the call answers one.
  const std::string* etag() const {
    if (write) return &write->etag;
    if (stat) return &stat->etag;
    if (removed_etag) return &*removed_etag;
    return nullptr;
  }
};

Answer FromStatus(const absl::Status& status) {
  Answer answer;
  answer.code = absl::StatusCodeToString(status.code());
  answer.message = std::string(status.message());
  return answer;
}

constexpr absl::Duration kCallTimeout = absl::Seconds(60);
constexpr int64_t kDefaultChunkSize = 65536;

durable::ClientOptions OptionsFor(const std::string& socket,
                                  size_t chunk_size) {
  durable::ClientOptions options;
  options.socket_path = socket;
  options.timeout = kCallTimeout;
  if (chunk_size > options.chunk_size) options.chunk_size = chunk_size;
  return options;
}

class Runner {
 public:
  Runner(std::string base, std::string socket, Value document)
      : base_(std::move(base)),
        socket_(std::move(socket)),
        document_(std::move(document)),
        client_(OptionsFor(socket_, 0)),
        channel_(NewChannel(socket_)) {}

  // Runs the selected cases (all if none); the exit status.
  absl::StatusOr<int> Run(const std::vector<std::string>& selected);

 private:
  static std::shared_ptr<grpc::Channel> NewChannel(const std::string& socket) {
    grpc::ChannelArguments arguments;
    arguments.SetMaxSendMessageSize(-1);
    arguments.SetMaxReceiveMessageSize(-1);
    return grpc::CreateCustomChannel(absl::StrCat("unix:", socket),
                                     grpc::InsecureChannelCredentials(),
                                     arguments);
  }

  // Placeholders and paths.
  absl::StatusOr<std::string> ExpandString(const std::string& text) const;
  absl::StatusOr<Value> Expand(const Value& value) const;
  std::string CaseDir(absl::string_view root) const {
    return absl::StrCat(base_, "/roots/", root, "/", case_name_);
  }
  absl::StatusOr<std::string> HostPath(const std::string& relative) const;
  std::string MissingSocket() const {
    return absl::StrCat(base_, "/missing-", case_name_, ".sock");
  }

  // One case: what went wrong (empty: passed), or a BadCase status.
  absl::StatusOr<std::vector<std::string>> RunCase(
      const Struct& test_case, const std::vector<std::string>& roots);
  absl::StatusOr<std::vector<std::string>> RunCaseBody(const Struct& test_case);
  absl::Status Setup(const Value& raw, const std::string& what);
  absl::Status Step(const Value& raw, int index);
  absl::StatusOr<Answer> Perform(const std::string& call, const Struct& step,
                                 bool missing_socket);
  absl::StatusOr<Answer> CallClient(durable::Client& client,
                                    const std::string& call, const Struct& step,
                                    const std::string& path);
  absl::StatusOr<Answer> RawStream(const Struct& step, bool missing_socket);
  absl::StatusOr<std::vector<std::string>> Compare(const std::string& call,
                                                   const Struct& expect,
                                                   const Answer& answer) const;
  absl::StatusOr<std::vector<std::string>> CheckFile(
      const std::string& relative, const Value& raw_state) const;

  const std::string base_;
  const std::string socket_;
  const Value document_;
  durable::Client client_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string case_name_;
  std::map<std::string, std::string> etags_;
};

absl::StatusOr<std::string> Runner::ExpandString(
    const std::string& text) const {
  // As the regex \{(root:[^{}]+|case|etag:[^{}]+|uid)\}, left to right.
  std::string out;
  size_t at = 0;
  while (at < text.size()) {
    size_t open = text.find('{', at);
    if (open == std::string::npos) break;
    size_t close = text.find_first_of("{}", open + 1);
    if (close == std::string::npos || text[close] == '{') {
      out.append(text, at, open + 1 - at);
      at = open + 1;
      continue;
    }
    const std::string token = text.substr(open + 1, close - open - 1);
    std::optional<std::string> replacement;
    if (token == "case") {
      replacement = case_name_;
    } else if (token == "uid") {
      replacement = absl::StrCat(getuid());
    } else if (absl::StartsWith(token, "root:") && token.size() > 5) {
      replacement = CaseDir(token.substr(5));
    } else if (absl::StartsWith(token, "etag:") && token.size() > 5) {
      auto etag = etags_.find(token.substr(5));
      if (etag == etags_.end()) {
        return BadCase(
            absl::StrCat("{", token, "} used before a step saved it"));
      }
      replacement = etag->second;
    }
    if (!replacement) {
      out.append(text, at, open + 1 - at);
      at = open + 1;
      continue;
    }
    out.append(text, at, open - at);
    out += *replacement;
    at = close + 1;
  }
  if (at < text.size()) out.append(text, at, std::string::npos);
  return out;
}

absl::StatusOr<Value> Runner::Expand(const Value& value) const {
  Value out;
  switch (value.kind_case()) {
    case Value::kStringValue: {
      std::string text;
      ASSIGN_OR_RETURN(text, ExpandString(value.string_value()));
      out.set_string_value(text);
      return out;
    }
    case Value::kListValue:
      for (const Value& item : value.list_value().values()) {
        Value expanded;
        ASSIGN_OR_RETURN(expanded, Expand(item));
        *out.mutable_list_value()->add_values() = std::move(expanded);
      }
      out.mutable_list_value();
      return out;
    case Value::kStructValue:
      for (const auto& [key, item] : value.struct_value().fields()) {
        Value expanded;
        ASSIGN_OR_RETURN(expanded, Expand(item));
        (*out.mutable_struct_value()->mutable_fields())[key] =
            std::move(expanded);
      }
      out.mutable_struct_value();
      return out;
    default:
      return value;
  }
}

// A case-relative path "ROOT/REL" on the host.
absl::StatusOr<std::string> Runner::HostPath(
    const std::string& relative) const {
  size_t slash = relative.find('/');
  std::string root = relative.substr(0, slash);
  std::string rest =
      slash == std::string::npos ? "" : relative.substr(slash + 1);
  if (root.empty()) {
    return BadCase(
        absl::StrCat("case-relative path '", relative, "' names no root"));
  }
  return rest.empty() ? CaseDir(root) : absl::StrCat(CaseDir(root), "/", rest);
}

absl::StatusOr<std::vector<std::string>> Runner::RunCase(
    const Struct& test_case, const std::vector<std::string>& roots) {
  case_name_ = Find(test_case, "name")->string_value();
  etags_.clear();
  RETURN_IF_ERROR(CheckFields(absl::StrCat("case ", case_name_), test_case,
                              {"name", "setup", "steps", "files"}));
  // Each listed root gets a fresh directory for the case (removed after
  // it); a directory that cannot be made fails the case.
  absl::Status made;
  for (const std::string& root : roots) {
    const std::string dir = CaseDir(root);
    made = RemoveTree(dir);
    if (made.ok() &&
        (mkdir(dir.c_str(), 0755) != 0 || chmod(dir.c_str(), 0755) != 0)) {
      made = ErrnoError("mkdir", dir);
    }
    if (!made.ok()) break;
  }
  absl::StatusOr<std::vector<std::string>> problems =
      made.ok() ? RunCaseBody(test_case)
                : std::vector<std::string>{std::string(made.message())};
  for (const std::string& root : roots) RemoveTree(CaseDir(root)).IgnoreError();
  return problems;
}

absl::StatusOr<std::vector<std::string>> Runner::RunCaseBody(
    const Struct& test_case) {
  std::vector<std::string> problems;
  absl::Status steps = [&]() -> absl::Status {
    if (const Value* setup = Find(test_case, "setup")) {
      const ListValue* entries;
      ASSIGN_OR_RETURN(entries, AsList(*setup, "setup"));
      for (int i = 0; i < entries->values_size(); ++i) {
        RETURN_IF_ERROR(
            Setup(entries->values(i), absl::StrCat("setup ", i + 1)));
      }
    }
    if (const Value* list = Find(test_case, "steps")) {
      const ListValue* entries;
      ASSIGN_OR_RETURN(entries, AsList(*list, "steps"));
      for (int i = 0; i < entries->values_size(); ++i) {
        RETURN_IF_ERROR(Step(entries->values(i), i + 1));
      }
    }
    return absl::OkStatus();
  }();
  if (IsBadCase(steps)) return steps;
  if (!steps.ok()) problems.push_back(std::string(steps.message()));
  if (problems.empty()) {
    // Files are compared only when every step behaved: after a failed step
    // they could only repeat the failure.
    if (const Value* files = Find(test_case, "files")) {
      const Struct* states;
      ASSIGN_OR_RETURN(states, AsObject(*files, "files"));
      // (Struct keeps no order: in sorted order, for a stable output.)
      std::map<std::string, const Value*> sorted;
      for (const auto& [key, state] : states->fields()) sorted[key] = &state;
      for (const auto& [key, state] : sorted) {
        std::string relative;
        ASSIGN_OR_RETURN(relative, ExpandString(key));
        absl::StatusOr<std::vector<std::string>> found =
            CheckFile(relative, *state);
        if (!found.ok() && IsBadCase(found.status())) return found.status();
        if (!found.ok()) {
          problems.push_back(std::string(found.status().message()));
        } else {
          problems.insert(problems.end(), found->begin(), found->end());
        }
      }
    }
  }
  // A cancelled stream's temp file may go asynchronously: a moment's grace.
  std::vector<std::string> leftovers;
  for (int attempt = 0; attempt <= 100; ++attempt) {
    if (attempt > 0) absl::SleepFor(absl::Milliseconds(20));
    leftovers.clear();
    FindTempFiles(base_, &leftovers);
    if (leftovers.empty()) break;
  }
  if (!leftovers.empty()) {
    problems.push_back(absl::StrCat("temp files left behind: ",
                                    absl::StrJoin(leftovers, ", ")));
  }
  return problems;
}

absl::Status Runner::Setup(const Value& raw, const std::string& what) {
  Value expanded;
  ASSIGN_OR_RETURN(expanded, Expand(raw));
  const Struct* entry;
  ASSIGN_OR_RETURN(entry, AsObject(expanded, what));
  std::vector<std::string> kinds;
  for (const char* kind : {"file", "dir", "symlink", "fifo"}) {
    if (Has(*entry, kind)) kinds.push_back(kind);
  }
  if (kinds.size() != 1) {
    return BadCase(
        absl::StrCat(what, ": needs exactly one of file, dir, symlink, fifo"));
  }
  const std::string& kind = kinds[0];
  const std::map<std::string, StringSet> allowed = {
      {"file", WithContent({"file", "mode"})},
      {"dir", {"dir"}},
      {"symlink", {"symlink", "target"}},
      {"fifo", {"fifo"}}};
  RETURN_IF_ERROR(CheckFields(what, *entry, allowed.at(kind)));
  std::string relative;
  ASSIGN_OR_RETURN(relative, AsString(*Find(*entry, kind), what));
  std::string path;
  ASSIGN_OR_RETURN(path, HostPath(relative));
  if (kind == "dir") {
    RETURN_IF_ERROR(MakeDirectories(path, 0755));
    if (chmod(path.c_str(), 0755) != 0) return ErrnoError("chmod", path);
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(MakeDirectories(
      std::filesystem::path(path).parent_path().string(), 0755));
  if (kind == "file") {
    std::string content;
    ASSIGN_OR_RETURN(content, ContentOf(*entry, what));
    int64_t mode;
    ASSIGN_OR_RETURN(mode, IntegerOr(*entry, "mode", 0644));
    RETURN_IF_ERROR(WriteHostFile(path, content));
    if (chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
      return ErrnoError("chmod", path);
    }
  } else if (kind == "symlink") {
    const Value* target = Find(*entry, "target");
    if (target == nullptr) {
      return BadCase(absl::StrCat(what, ": a symlink needs a target"));
    }
    std::string destination;
    ASSIGN_OR_RETURN(destination, AsString(*target, what + ": target"));
    if (symlink(destination.c_str(), path.c_str()) != 0) {
      return ErrnoError("symlink", path);
    }
  } else if (mkfifo(path.c_str(), 0644) != 0) {
    return ErrnoError("mkfifo", path);
  }
  return absl::OkStatus();
}

absl::Status Runner::Step(const Value& raw_value, int index) {
  const std::string what = absl::StrCat("step ", index);
  const Struct* raw;
  ASSIGN_OR_RETURN(raw, AsObject(raw_value, what));
  const Value* call_value = Find(*raw, "call");
  std::string call =
      call_value != nullptr && call_value->kind_case() == Value::kStringValue
          ? call_value->string_value()
          : "";
  if (!kStepFields.count(call)) {
    return BadCase(absl::StrCat(
        what, ": unknown call ",
        call_value == nullptr ? "None" : absl::StrCat("'", call, "'")));
  }
  StringSet allowed = kCommonFields;
  allowed.insert(kStepFields.at(call).begin(), kStepFields.at(call).end());
  RETURN_IF_ERROR(
      CheckFields(absl::StrCat(what, " (", call, ")"), *raw, allowed));
  std::string raw_path;
  if (const Value* path = Find(*raw, "path");
      path != nullptr && path->kind_case() == Value::kStringValue) {
    raw_path = path->string_value();
  }
  const std::string label =
      raw_path.empty() ? absl::StrCat(what, " (", call, ")")
                       : absl::StrCat(what, " (", call, " ", raw_path, ")");
  Value expanded;
  ASSIGN_OR_RETURN(expanded, Expand(raw_value));
  const Struct& step = expanded.struct_value();
  const Value* expect_value = Find(step, "expect");
  if (expect_value == nullptr ||
      expect_value->kind_case() != Value::kStructValue ||
      !Has(expect_value->struct_value(), "code")) {
    return BadCase(absl::StrCat(label, ": expect.code is required"));
  }
  const Struct& expect = expect_value->struct_value();
  StringSet expect_allowed = {"code", "message_contains"};
  for (const auto& [field, calls] : kExpectFields) expect_allowed.insert(field);
  RETURN_IF_ERROR(
      CheckFields(absl::StrCat(label, ": expect"), expect, expect_allowed));
  for (const auto& [field, calls] : kExpectFields) {
    if (Has(expect, field) && !calls.count(call)) {
      return BadCase(
          absl::StrCat(label, ": expect.", field, " does not apply to ", call));
    }
  }
  std::string code;
  ASSIGN_OR_RETURN(code, AsString(*Find(expect, "code"), label + ": code"));
  if (!IsCodeName(code)) {
    return BadCase(absl::StrCat(label, ": unknown code ", code));
  }
  if (call != "whoami" && call != "stats") {
    const Value* path = Find(step, "path");
    if (path == nullptr || path->kind_case() != Value::kStringValue) {
      return BadCase(absl::StrCat(label, ": path is required"));
    }
  }
  std::string socket;
  ASSIGN_OR_RETURN(socket, StringOr(step, "socket", ""));
  if (Has(step, "socket") && socket != "missing") {
    return BadCase(absl::StrCat(label, ": unknown socket '", socket, "'"));
  }

  Answer answer;
  ASSIGN_OR_RETURN(answer, Perform(call, step, socket == "missing"));
  std::vector<std::string> problems;
  ASSIGN_OR_RETURN(problems, Compare(call, expect, answer));
  if (!problems.empty()) {
    return Mismatch(absl::StrCat(label, ": ", absl::StrJoin(problems, "; ")));
  }
  if (const Value* save = Find(step, "save_etag");
      save && answer.code == "OK") {
    std::string name;
    ASSIGN_OR_RETURN(name, AsString(*save, label + ": save_etag"));
    if (answer.etag() == nullptr) {
      return BadCase(
          absl::StrCat(label, ": save_etag, but ", call, " answers no etag"));
    }
    etags_[name] = *answer.etag();
  }
  return absl::OkStatus();
}

absl::StatusOr<Answer> Runner::Perform(const std::string& call,
                                       const Struct& step,
                                       bool missing_socket) {
  if (call == "raw_stream") return RawStream(step, missing_socket);
  std::string path;
  ASSIGN_OR_RETURN(path, StringOr(step, "path", ""));
  int64_t chunk_size = 0;
  if (call == "write_stream") {
    ASSIGN_OR_RETURN(chunk_size,
                     IntegerOr(step, "chunk_size", kDefaultChunkSize));
    if (chunk_size <= 0) return BadCase("chunk_size must be positive");
  }
  // The shared client sends chunks of up to 1 MiB; a step that asks for
  // larger ones (or a missing socket) gets a client of its own.
  if (missing_socket ||
      static_cast<size_t>(chunk_size) > client_.options().chunk_size) {
    durable::Client client(
        OptionsFor(missing_socket ? MissingSocket() : socket_, chunk_size));
    return CallClient(client, call, step, path);
  }
  return CallClient(client_, call, step, path);
}

absl::StatusOr<Answer> Runner::CallClient(durable::Client& client,
                                          const std::string& call,
                                          const Struct& step,
                                          const std::string& path) {
  Answer answer;
  if (call == "write" || call == "write_stream") {
    std::string data;
    ASSIGN_OR_RETURN(data, ContentOf(step, call));
    durable::WriteOptions options;
    int64_t mode;
    ASSIGN_OR_RETURN(mode, IntegerOr(step, "mode", 0));
    options.mode = static_cast<mode_t>(mode);
    ASSIGN_OR_RETURN(options.if_absent, BoolOr(step, "if_absent", false));
    ASSIGN_OR_RETURN(options.if_match, StringOr(step, "if_match", ""));
    ASSIGN_OR_RETURN(options.create_parents,
                     BoolOr(step, "create_parents", false));
    if (const Value* digest = Find(step, "expected_sha256")) {
      ASSIGN_OR_RETURN(options.expected_sha256, DigestOf(*digest));
    }
    absl::StatusOr<durable::WriteResult> result;
    if (call == "write") {
      result = client.Write(path, data, options);
    } else {
      int64_t chunk_size;
      ASSIGN_OR_RETURN(chunk_size,
                       IntegerOr(step, "chunk_size", kDefaultChunkSize));
      bool announce;
      ASSIGN_OR_RETURN(announce, BoolOr(step, "announce_size", true));
      size_t offset = 0;
      // Each call of the source yields one chunk of the step's size.
      durable::ChunkSource source =
          [&](char* buffer, size_t capacity) -> absl::StatusOr<size_t> {
        size_t n = std::min(
            {capacity, static_cast<size_t>(chunk_size), data.size() - offset});
        std::memcpy(buffer, data.data() + offset, n);
        offset += n;
        return n;
      };
      result =
          client.WriteStream(path, source, announce ? data.size() : 0, options);
    }
    if (!result.ok()) return FromStatus(result.status());
    answer.write = *std::move(result);
    return answer;
  }
  if (call == "stat") {
    absl::StatusOr<durable::FileStatus> result = client.Stat(path);
    if (!result.ok()) return FromStatus(result.status());
    answer.stat = *std::move(result);
    return answer;
  }
  if (call == "remove") {
    std::string if_match;
    ASSIGN_OR_RETURN(if_match, StringOr(step, "if_match", ""));
    absl::StatusOr<std::string> result = client.Remove(path, if_match);
    if (!result.ok()) return FromStatus(result.status());
    answer.removed_etag = *std::move(result);
    return answer;
  }
  if (call == "whoami") {
    absl::StatusOr<durable::CallerInfo> result = client.WhoAmI();
    if (!result.ok()) return FromStatus(result.status());
    answer.caller = *std::move(result);
    return answer;
  }
  absl::StatusOr<durable::DaemonStats> result = client.GetStats();
  if (!result.ok()) return FromStatus(result.status());
  answer.stats = *std::move(result);
  return answer;
}

absl::StatusOr<Answer> Runner::RawStream(const Struct& step,
                                         bool missing_socket) {
  std::vector<durable::v1::WriteChunk> messages;
  if (const Value* list = Find(step, "messages")) {
    const ListValue* entries;
    ASSIGN_OR_RETURN(entries, AsList(*list, "messages"));
    for (int i = 0; i < entries->values_size(); ++i) {
      const std::string what = absl::StrCat("messages[", i + 1, "]");
      const Struct* raw;
      ASSIGN_OR_RETURN(raw, AsObject(entries->values(i), what));
      RETURN_IF_ERROR(
          CheckFields(what, *raw, WithContent({"header", "data", "finish"})));
      durable::v1::WriteChunk& message = messages.emplace_back();
      if (const Value* header_value = Find(*raw, "header")) {
        const std::string header_what = what + ".header";
        const Struct* header;
        ASSIGN_OR_RETURN(header, AsObject(*header_value, header_what));
        RETURN_IF_ERROR(CheckFields(header_what, *header, kHeaderFields));
        durable::v1::WriteHeader* proto = message.mutable_header();
        std::string path;
        ASSIGN_OR_RETURN(path, StringOr(*header, "path", ""));
        proto->set_path(path);
        if (const Value* size = Find(*header, "size")) {
          int64_t bytes;
          ASSIGN_OR_RETURN(bytes, AsInteger(*size, header_what + ".size"));
          proto->set_size(static_cast<uint64_t>(bytes));
        }
        durable::v1::WriteOptions* options = proto->mutable_options();
        int64_t mode;
        ASSIGN_OR_RETURN(mode, IntegerOr(*header, "mode", 0));
        options->set_mode(static_cast<uint32_t>(mode));
        bool flag;
        ASSIGN_OR_RETURN(flag, BoolOr(*header, "if_absent", false));
        options->set_if_absent(flag);
        std::string if_match;
        ASSIGN_OR_RETURN(if_match, StringOr(*header, "if_match", ""));
        options->set_if_match(if_match);
        ASSIGN_OR_RETURN(flag, BoolOr(*header, "create_parents", false));
        options->set_create_parents(flag);
        if (const Value* digest = Find(*header, "expected_sha256")) {
          std::string bytes;
          ASSIGN_OR_RETURN(bytes, DigestOf(*digest));
          options->set_expected_sha256(bytes);
        }
      }
      const Value* data = Find(*raw, "data");
      if (data != nullptr && data->kind_case() == Value::kStringValue) {
        message.set_data(data->string_value());
      } else if (data != nullptr && data->kind_case() == Value::kStructValue) {
        std::string content;
        ASSIGN_OR_RETURN(content,
                         ContentOf(data->struct_value(), what + ".data"));
        message.set_data(content);
      } else if (data != nullptr && data->kind_case() != Value::kNullValue) {
        return BadCase(
            absl::StrCat(what, ".data must be a string or a content object"));
      } else if (data == nullptr) {
        std::string content;
        ASSIGN_OR_RETURN(content, ContentOf(*raw, what));
        message.set_data(content);
      }
      bool finish;
      ASSIGN_OR_RETURN(finish, BoolOr(*raw, "finish", false));
      message.set_finish(finish);
    }
  }
  int64_t pause_ms;
  ASSIGN_OR_RETURN(pause_ms, IntegerOr(step, "pause_ms_before_close", 0));

  std::shared_ptr<grpc::Channel> channel =
      missing_socket ? NewChannel(MissingSocket()) : channel_;
  std::unique_ptr<durable::v1::DurableWriter::Stub> stub =
      durable::v1::DurableWriter::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(kCallTimeout));
  durable::v1::WriteResponse response;
  std::unique_ptr<grpc::ClientWriter<durable::v1::WriteChunk>> writer =
      stub->WriteStream(&context, &response);
  bool broken = false;
  for (const durable::v1::WriteChunk& message : messages) {
    if (!writer->Write(message)) {
      broken = true;  // the call has ended; Finish says how
      break;
    }
  }
  if (!broken) {
    if (pause_ms > 0) absl::SleepFor(absl::Milliseconds(pause_ms));
    writer->WritesDone();
  }
  grpc::Status status = writer->Finish();
  Answer answer;
  if (!status.ok()) {
    answer.code = absl::StatusCodeToString(
        static_cast<absl::StatusCode>(status.error_code()));
    answer.message = status.error_message();
    return answer;
  }
  durable::WriteResult& result = answer.write.emplace();
  result.size = response.size();
  result.sha256 = response.sha256();
  result.etag = response.etag();
  result.created = response.created();
  result.superseded = response.superseded();
  return answer;
}

absl::StatusOr<std::vector<std::string>> Runner::Compare(
    const std::string& call, const Struct& expect, const Answer& answer) const {
  const std::string& expected_code = Find(expect, "code")->string_value();
  if (answer.code != expected_code) {
    return std::vector<std::string>{absl::StrCat(
        "expected ", expected_code, ", got ", answer.code,
        answer.message.empty() ? "" : absl::StrCat(" (", answer.message, ")"))};
  }
  std::vector<std::string> problems;
  if (const Value* wanted = Find(expect, "message_contains")) {
    std::vector<std::string> parts;
    if (wanted->kind_case() == Value::kStringValue) {
      parts.push_back(wanted->string_value());
    } else {
      const ListValue* list;
      ASSIGN_OR_RETURN(list, AsList(*wanted, "expect.message_contains"));
      for (const Value& part : list->values()) {
        std::string text;
        ASSIGN_OR_RETURN(text, AsString(part, "expect.message_contains"));
        parts.push_back(text);
      }
    }
    for (const std::string& part : parts) {
      if (!absl::StrContains(answer.message, part)) {
        problems.push_back(
            absl::StrCat("message '", answer.message, "' lacks '", part, "'"));
      }
    }
  }
  if (answer.code != "OK") {
    for (const auto& [field, calls] : kExpectFields) {
      if (Has(expect, field)) {
        return BadCase(
            absl::StrCat("expect.", field, " given for a failing call"));
      }
    }
    return problems;
  }
  const std::string* etag = answer.etag();
  if (etag != nullptr && !IsEtag(*etag)) {
    problems.push_back(
        absl::StrCat("etag '", *etag, "' is not 16 lowercase hex digits"));
  }

  // The expected value of `field`, if given, equals `actual`.
  auto same = [&](const std::string& field, const Value& actual) {
    const Value* wanted = Find(expect, field);
    if (wanted == nullptr) return;
    bool equal = wanted->kind_case() == actual.kind_case();
    if (equal && actual.kind_case() == Value::kNumberValue) {
      equal = wanted->number_value() == actual.number_value();
    } else if (equal && actual.kind_case() == Value::kBoolValue) {
      equal = wanted->bool_value() == actual.bool_value();
    } else if (equal && actual.kind_case() == Value::kStringValue) {
      equal = wanted->string_value() == actual.string_value();
    }
    if (!equal) {
      problems.push_back(absl::StrCat(field, ": expected ", Show(*wanted),
                                      ", got ", Show(actual)));
    }
  };
  auto number = [](double n) {
    Value v;
    v.set_number_value(n);
    return v;
  };
  auto boolean = [](bool b) {
    Value v;
    v.set_bool_value(b);
    return v;
  };
  auto text = [](const std::string& s) {
    Value v;
    v.set_string_value(s);
    return v;
  };
  auto null = [] {
    Value v;
    v.set_null_value(google::protobuf::NULL_VALUE);
    return v;
  };

  if (kWrites.count(call)) {
    same("created", boolean(answer.write->created));
    same("superseded", boolean(answer.write->superseded));
    same("size", number(static_cast<double>(answer.write->size)));
    same("sha256", text(ToHex(answer.write->sha256)));
  }
  if (call == "stat") {
    same("size", number(static_cast<double>(answer.stat->size)));
    same("mode", number(answer.stat->mode));
  }
  same("etag_equals", etag == nullptr ? null() : text(*etag));
  if (const Value* differs = Find(expect, "etag_differs")) {
    if (etag != nullptr && differs->kind_case() == Value::kStringValue &&
        *etag == differs->string_value()) {
      problems.push_back(absl::StrCat("etag ", *etag, " did not change"));
    }
  }
  if (call == "whoami") {
    const durable::CallerInfo& caller = *answer.caller;
    if (const Value* self = Find(expect, "uid_is_self")) {
      bool wanted;
      ASSIGN_OR_RETURN(wanted, AsBool(*self, "expect.uid_is_self"));
      if ((caller.uid == getuid()) != wanted) {
        problems.push_back(
            absl::StrCat("uid_is_self: expected ", wanted ? "true" : "false",
                         ", uid ", caller.uid, ", the runner's ", getuid()));
      }
    }
    if (const Value* names = Find(expect, "grant_names")) {
      StringSet got;
      for (const durable::CallerInfo::Grant& grant : caller.grants) {
        if (!grant.name.empty()) got.insert(grant.name);
      }
      StringSet wanted;
      const ListValue* list;
      ASSIGN_OR_RETURN(list, AsList(*names, "expect.grant_names"));
      for (const Value& name : list->values()) {
        std::string text;
        ASSIGN_OR_RETURN(text, AsString(name, "expect.grant_names"));
        wanted.insert(text);
      }
      if (got != wanted) {
        problems.push_back(
            absl::StrCat("grant names [", absl::StrJoin(got, ", "),
                         "], expected [", absl::StrJoin(wanted, ", "), "]"));
      }
    }
    same("denied_roots_count",
         number(static_cast<double>(caller.denied_roots.size())));
  }
  if (call == "stats") {
    if (const Value* least = Find(expect, "writes_ok_at_least")) {
      int64_t wanted;
      ASSIGN_OR_RETURN(wanted, AsInteger(*least, "expect.writes_ok_at_least"));
      if (static_cast<double>(answer.stats->writes_ok) <
          static_cast<double>(wanted)) {
        problems.push_back(
            absl::StrCat("writes_ok ", answer.stats->writes_ok, " < ", wanted));
      }
    }
  }
  return problems;
}

absl::StatusOr<std::vector<std::string>> Runner::CheckFile(
    const std::string& relative, const Value& raw_state) const {
  const std::string what = absl::StrCat("files[", relative, "]");
  const Struct* state;
  ASSIGN_OR_RETURN(state, AsObject(raw_state, what));
  RETURN_IF_ERROR(
      CheckFields(what, *state, WithContent({"absent", "type", "mode"})));
  std::string path;
  ASSIGN_OR_RETURN(path, HostPath(relative));
  struct stat info;
  bool exists = lstat(path.c_str(), &info) == 0;
  if (!exists && errno != ENOENT) return ErrnoError("lstat", path);
  bool absent;
  ASSIGN_OR_RETURN(absent, BoolOr(*state, "absent", false));
  if (absent) {
    if (state->fields_size() > 1) {
      return BadCase(absl::StrCat(what, ": absent with other fields"));
    }
    if (exists) {
      return std::vector<std::string>{
          absl::StrCat(relative, " exists, expected absent")};
    }
    return std::vector<std::string>{};
  }
  if (!exists) {
    return std::vector<std::string>{absl::StrCat(relative, " does not exist")};
  }
  std::vector<std::string> problems;
  bool has_content = false;
  for (const std::string& key : kContentKeys) has_content |= Has(*state, key);
  std::string kind;
  ASSIGN_OR_RETURN(kind, StringOr(*state, "type", has_content ? "file" : ""));
  if (!kind.empty()) {
    const std::map<std::string, mode_t> types = {{"file", S_IFREG},
                                                 {"dir", S_IFDIR},
                                                 {"symlink", S_IFLNK},
                                                 {"fifo", S_IFIFO}};
    auto type = types.find(kind);
    if (type == types.end()) {
      return BadCase(absl::StrCat(what, ": unknown type '", kind, "'"));
    }
    if ((info.st_mode & S_IFMT) != type->second) {
      char octal[16];
      std::snprintf(octal, sizeof octal, "%o",
                    static_cast<unsigned>(info.st_mode));
      return std::vector<std::string>{
          absl::StrCat(relative, " is not a ", kind, " (mode ", octal, ")")};
    }
  }
  if (has_content) {
    std::string expected;
    ASSIGN_OR_RETURN(expected, ContentOf(*state, what));
    std::string actual;
    ASSIGN_OR_RETURN(actual, ReadHostFile(path));
    if (actual != expected) {
      problems.push_back(absl::StrCat(
          relative, " holds ", actual.size(), " bytes ", Excerpt(actual),
          ", expected ", expected.size(), " bytes ", Excerpt(expected)));
    }
  }
  if (const Value* mode_value = Find(*state, "mode")) {
    int64_t mode;
    ASSIGN_OR_RETURN(mode, AsInteger(*mode_value, what + ".mode"));
    unsigned actual = info.st_mode & 07777;
    if (actual != static_cast<unsigned>(mode)) {
      char text[64];
      std::snprintf(text, sizeof text, "has mode %o, expected %o", actual,
                    static_cast<unsigned>(mode));
      problems.push_back(absl::StrCat(relative, " ", text));
    }
  }
  return problems;
}

absl::StatusOr<int> Runner::Run(const std::vector<std::string>& selected) {
  const Struct* document;
  ASSIGN_OR_RETURN(document, AsObject(document_, "cases file"));
  RETURN_IF_ERROR(CheckFields("cases file", *document, {"roots", "cases"}));
  std::vector<std::string> roots;
  if (const Value* list = Find(*document, "roots")) {
    const ListValue* entries;
    ASSIGN_OR_RETURN(entries, AsList(*list, "roots"));
    for (const Value& root : entries->values()) {
      std::string name;
      ASSIGN_OR_RETURN(name, AsString(root, "roots"));
      roots.push_back(name);
    }
  }
  std::vector<const Struct*> cases;
  StringSet names;
  if (const Value* list = Find(*document, "cases")) {
    const ListValue* entries;
    ASSIGN_OR_RETURN(entries, AsList(*list, "cases"));
    for (const Value& entry : entries->values()) {
      const Struct* test_case;
      ASSIGN_OR_RETURN(test_case, AsObject(entry, "a case"));
      const Value* name = Find(*test_case, "name");
      std::string text =
          name != nullptr && name->kind_case() == Value::kStringValue
              ? name->string_value()
              : "";
      if (!IsCaseName(text) || names.count(text)) {
        return BadCase(absl::StrCat("case name '", text,
                                    "' is not [a-z0-9_]+ or not unique"));
      }
      names.insert(text);
      cases.push_back(test_case);
    }
  }
  std::vector<std::string> unknown;
  for (const std::string& name : selected) {
    if (!names.count(name)) unknown.push_back(name);
  }
  if (!unknown.empty()) {
    return BadCase(
        absl::StrCat("no such case: ", absl::StrJoin(unknown, ", ")));
  }
  const StringSet chosen(selected.begin(), selected.end());
  std::vector<std::string> failed, bad;
  int ran = 0;
  const absl::Time started = absl::Now();
  for (const Struct* test_case : cases) {
    const std::string name = Find(*test_case, "name")->string_value();
    if (!chosen.empty() && !chosen.count(name)) continue;
    ++ran;
    absl::StatusOr<std::vector<std::string>> problems =
        RunCase(*test_case, roots);
    if (!problems.ok() && IsBadCase(problems.status())) {
      bad.push_back(name);
      std::printf("BAD  %s: case format: %s\n", name.c_str(),
                  std::string(problems.status().message()).c_str());
    } else if (!problems.ok() || !problems->empty()) {
      failed.push_back(name);
      std::string reasons = problems.ok()
                                ? absl::StrJoin(*problems, " | ")
                                : std::string(problems.status().message());
      std::printf("FAIL %s: %s\n", name.c_str(), reasons.c_str());
    } else {
      std::printf("ok   %s\n", name.c_str());
    }
    std::fflush(stdout);
  }
  std::printf(
      "c++ conformance: %d of %d cases passed, %zu failed, %zu malformed "
      "(%.1f s)\n",
      ran - static_cast<int>(failed.size() + bad.size()), ran, failed.size(),
      bad.size(), absl::ToDoubleSeconds(absl::Now() - started));
  for (const std::vector<std::string>* list : {&failed, &bad}) {
    for (const std::string& name : *list) {
      std::printf("  not passed: %s\n", name.c_str());
    }
  }
  return failed.empty() && bad.empty() ? 0 : 1;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string override_cases;
  if (args.size() >= 2 && args[0] == "--cases") {
    override_cases = args[1];
    args.erase(args.begin(), args.begin() + 2);
  }
  const char* base = std::getenv("DURABLE_CONFORMANCE_BASE");
  const char* socket = std::getenv("DURABLED_SOCKET");
  const char* cases_env = std::getenv("DURABLE_CONFORMANCE_CASES");
  std::string cases =
      !override_cases.empty() ? override_cases : (cases_env ? cases_env : "");
  if (base == nullptr || socket == nullptr || cases.empty()) {
    std::fprintf(stderr,
                 "DURABLE_CONFORMANCE_BASE, DURABLED_SOCKET and "
                 "DURABLE_CONFORMANCE_CASES must be set: run under "
                 "tests/conformance/with-daemon.sh\n");
    return 2;
  }
  absl::StatusOr<std::string> text = ReadHostFile(cases);
  if (!text.ok()) {
    std::fprintf(stderr, "cannot read %s: %s\n", cases.c_str(),
                 std::string(text.status().message()).c_str());
    return 2;
  }
  Value document;
  auto parsed = google::protobuf::util::JsonStringToMessage(*text, &document);
  if (!parsed.ok()) {
    std::fprintf(stderr, "bad cases file %s: not JSON: %s\n", cases.c_str(),
                 parsed.ToString().c_str());
    return 2;
  }
  std::printf("durable C++ client (durable/client.h), socket %s\n", socket);
  Runner runner(base, socket, std::move(document));
  absl::StatusOr<int> status = runner.Run(args);
  if (!status.ok()) {
    std::fprintf(stderr, "bad cases file %s: %s\n", cases.c_str(),
                 std::string(status.status().message()).c_str());
    return 2;
  }
  return *status;
}

}  // namespace
}  // namespace durable_conformance

int main(int argc, char** argv) {
  return durable_conformance::Main(argc, argv);
}
