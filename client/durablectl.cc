// durablectl: the command-line client of durabled.
//
//   durablectl [--socket=PATH] [--timeout=SECONDS] COMMAND [ARGS]
//
// Exit codes (stable, for scripts) are listed in kUsage.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli_path.h"
#include "durable/client.h"
#include "json_writer.h"
#include "openmetrics.h"
#include "write_option_flags.h"
#include "write_set_plan.h"

namespace {

constexpr char kUsage[] =
    R"(usage: durablectl [--socket=PATH] [--timeout=SECONDS] COMMAND [ARGS]

Commands:
  write PATH          make PATH hold standard input (or --from=FILE), durably
                      and atomically; content over 4 MiB is streamed
  stat PATH           print size, mode, owner, modification time and etag
  rm PATH             remove PATH durably
  write-set MANIFEST  change several files together: all or none
  write-set --from-dir=DIR --to=SUB
                      make SUB hold DIR's files, all or none
  whoami              print your uid, gids, cgroup and unit as the daemon sees
                      them, and where you may write (with root names)
  stats               print the daemon's counters (root or the daemon's uid)
  help                print this help

write:
  --from=FILE         read the content from FILE (default: standard input)
  --mode=OCTAL        permission bits, capped by the rule's max_mode
  --if-absent         fail (exit 5) if PATH exists
  --if-match=ETAG     fail (exit 5) unless PATH is still at version ETAG
  --sha256=HEX        have the daemon verify the content's SHA-256 first
  --parents           create missing parent directories (if the rule allows)
  --no-progress       no progress line while streaming to a terminal
stat:
  --json              print one JSON object (mode and times as numbers)
rm:
  --if-match=ETAG     remove only version ETAG
write-set:
  MANIFEST            a file (- for standard input), one member per line:
                        write TARGET FILE [mode=OCTAL] [if-absent]
                              [if-match=ETAG] [sha256=HEX] [parents]
                        remove TARGET [if-match=ETAG]
                      fields separated by tabs (or spaces if a line has none)
  --from-dir=DIR      write each regular file under DIR to the same place
                      under --to=SUB (a host path)
  --to=SUB            where --from-dir's files go
  --delete            also remove SUB's files that DIR lacks
  --parents           create missing directories under SUB
  --no-progress       no progress line on a terminal
whoami:
  --json              print one JSON object
stats:
  --openmetrics       print the OpenMetrics text format (node_exporter's
                      textfile collector: durablectl stats --openmetrics > F.prom)

Options:
  --socket=PATH       daemon socket (default: $DURABLED_SOCKET, else
                      /run/durabled/durabled.sock)
  --timeout=SECONDS   deadline of each call (default 600)
  --help              print this help and exit
  --version           print durablectl's version and exit

PATH is an absolute host path (/var/lib/agents/7/x.json), a root name and a
path beneath that root (state:agent/x.json; whoami lists the names), or a
path relative to the working directory (x.json, ./x.json, ../x.json), which
durablectl makes absolute before sending it. Write ./name:x for a file in
the working directory whose name looks like a root name.

Exit codes:
  0  success
  1  other failure (e.g. an I/O error in the daemon)
  2  usage error
  3  permission denied
  4  not found
  5  already exists, changed (etag), or not a regular file
  6  invalid request (bad path or mode)
  7  daemon unreachable
  8  too large, over quota, or disk full
  9  content digest mismatch (--sha256)
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
  kDigestMismatch = 9,
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
    case absl::StatusCode::kDataLoss:
      return kDigestMismatch;
    default:
      return kFailure;
  }
}

int UsageError(const std::string& message) {
  const std::string usage(kUsage, std::string_view(kUsage).find('\n'));
  std::cerr << "durablectl: " << message << "\n"
            << usage << "\n"
            << "Run 'durablectl --help' for usage.\n";
  return kUsageError;
}

// The daemon's messages already name the path and the reason.
int Fail(const std::string& command, const absl::Status& status) {
  std::cerr << "durablectl: " << command
            << " failed: " << absl::StatusCodeToString(status.code()) << ": "
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
  flag.name =
      arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
  if (eq != std::string::npos) flag.value = arg.substr(eq + 1);
  return flag;
}

// Parses the arguments of a command: one positional PATH (if `wants_path`)
// and flags, each handled by `on_flag` (false: unknown flag).
absl::StatusOr<std::string> ParseArgs(
    const std::string& command, const std::vector<std::string>& args,
    bool wants_path, const std::function<bool(const Flag&)>& on_flag) {
  std::optional<std::string> path;
  for (const std::string& arg : args) {
    std::optional<Flag> flag = ParseFlag(arg);
    if (flag.has_value()) {
      if (!on_flag(*flag)) {
        return absl::InvalidArgumentError(
            absl::StrCat(command, ": unknown or malformed option ", arg));
      }
    } else if (wants_path && !path.has_value()) {
      path = arg;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(command, ": unexpected argument ", arg));
    }
  }
  if (wants_path && !path.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(command, " needs a PATH"));
  }
  return path.value_or("");
}

// Where the content of a write comes from: a file or standard input.
class ContentSource {
 public:
  static absl::StatusOr<ContentSource> Open(const std::string& from) {
    if (from.empty() || from == "-") return ContentSource(STDIN_FILENO, false);
    int fd = open(from.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return absl::NotFoundError(
          absl::StrCat("cannot open ", from, ": ", strerror(errno)));
    }
    return ContentSource(fd, true);
  }
  ContentSource(ContentSource&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), owned_(other.owned_) {}
  ~ContentSource() {
    if (owned_ && fd_ >= 0) close(fd_);
  }

  // The size if the source is a regular file, else 0.
  uint64_t KnownSize() const {
    struct stat st;
    if (fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) return st.st_size;
    return 0;
  }

  absl::StatusOr<size_t> Read(char* buffer, size_t capacity) {
    size_t total = 0;
    while (total < capacity) {
      ssize_t n = read(fd_, buffer + total, capacity - total);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return absl::InternalError(
            absl::StrCat("cannot read the content: ", strerror(errno)));
      }
      if (n == 0) break;
      total += n;
    }
    return total;
  }

 private:
  ContentSource(int fd, bool owned) : fd_(fd), owned_(owned) {}
  int fd_;
  bool owned_;
};

// Reads the first `limit` bytes of `source` (fewer if it ends sooner) into
// `head`. The buffer grows with the content instead of starting at `limit`:
// zeroing a 4 MiB buffer for a 4 KiB write cost about a thousand page
// faults, most of a one-shot write's system time.
absl::Status ReadHead(ContentSource& source, size_t limit, uint64_t known_size,
                      std::string* head) {
  constexpr size_t kFirstRead = 64 << 10;
  // A regular file's size is known: one read of it (plus one byte, to see
  // the end) fills the head.
  size_t capacity = std::min<uint64_t>(
      limit, known_size > 0 ? known_size + 1 : uint64_t{kFirstRead});
  size_t filled = 0;
  while (true) {
    head->resize(capacity);
    absl::StatusOr<size_t> n =
        source.Read(head->data() + filled, capacity - filled);
    if (!n.ok()) return n.status();
    filled += *n;
    if (filled < capacity || capacity == limit) break;  // the end, or enough
    capacity = std::min(limit, 2 * capacity);
  }
  head->resize(filled);
  return absl::OkStatus();
}

std::string HumanBytes(uint64_t bytes) {
  if (bytes == 1) return "1 byte";
  if (bytes < 1024) return absl::StrCat(bytes, " bytes");
  if (bytes < (1 << 20)) return absl::StrFormat("%.1f KiB", bytes / 1024.0);
  if (bytes < (1ull << 30)) {
    return absl::StrFormat("%.1f MiB", bytes / 1048576.0);
  }
  return absl::StrFormat("%.2f GiB", bytes / 1073741824.0);
}

// Progress of a long write on a terminal, at most ten updates a second.
durable::ProgressCallback TerminalProgress(const std::string& path) {
  auto last = std::make_shared<absl::Time>(absl::InfinitePast());
  return [path, last](uint64_t sent, uint64_t total) {
    absl::Time now = absl::Now();
    bool done = total != 0 && sent >= total;
    if (!done && now - *last < absl::Milliseconds(100)) return;
    *last = now;
    if (total != 0) {
      std::cerr << absl::StrFormat("\r%s: %s of %s (%d%%)  ", path,
                                   HumanBytes(sent), HumanBytes(total),
                                   static_cast<int>(100.0 * sent / total));
    } else {
      std::cerr << absl::StrFormat("\r%s: %s  ", path, HumanBytes(sent));
    }
    if (done) std::cerr << "\n";
  };
}

int Write(durable::Client& client, const std::vector<std::string>& args) {
  std::string from;
  bool progress = isatty(STDERR_FILENO);
  durable::WriteOptions options;
  std::string usage_error;
  absl::StatusOr<std::string> path =
      ParseArgs("write", args, true, [&](const Flag& flag) {
        if (flag.name == "from" && flag.value.has_value()) {
          from = *flag.value;
          return true;
        }
        if (flag.name == "no-progress" && !flag.value.has_value()) {
          progress = false;
          return true;
        }
        absl::StatusOr<bool> applied =
            durable::cli::ApplyWriteOption(flag.name, flag.value, &options);
        if (!applied.ok()) {
          usage_error = absl::StrCat("--", applied.status().message());
          return true;
        }
        return *applied;
      });
  if (!path.ok()) return UsageError(std::string(path.status().message()));
  if (!usage_error.empty()) return UsageError(usage_error);
  path = durable::cli::ResolveCliPath(*path);
  if (!path.ok()) return Fail("write", path.status());

  absl::StatusOr<ContentSource> source = ContentSource::Open(from);
  if (!source.ok()) {
    std::cerr << "durablectl: " << source.status().message() << "\n";
    return ExitCodeFor(source.status());
  }
  // Read up to the threshold: small content goes in one message, anything
  // larger is streamed, starting with what was already read.
  const size_t threshold = client.options().stream_threshold;
  const uint64_t known_size = source->KnownSize();
  std::string head;
  absl::Status head_read = ReadHead(*source, threshold + 1, known_size, &head);
  if (!head_read.ok()) {
    std::cerr << "durablectl: " << head_read.message() << "\n";
    return kFailure;
  }

  absl::StatusOr<durable::WriteResult> result;
  if (head.size() <= threshold) {
    result = client.Write(*path, head, options);
  } else {
    if (progress) options.on_progress = TerminalProgress(*path);
    size_t head_offset = 0;
    durable::ChunkSource chunks =
        [&](char* buffer, size_t capacity) -> absl::StatusOr<size_t> {
      if (head_offset < head.size()) {
        size_t n = std::min(capacity, head.size() - head_offset);
        memcpy(buffer, head.data() + head_offset, n);
        head_offset += n;
        return n;
      }
      return source->Read(buffer, capacity);
    };
    result = client.WriteStream(*path, chunks, known_size, options);
  }
  if (!result.ok()) {
    if (options.on_progress) std::cerr << "\n";  // end the progress line
    return Fail("write", result.status());
  }
  // A superseded write's content was never published: a newer write of the
  // same file was, and the etag is that version's.
  std::cout << *path << ": " << result->size << " bytes "
            << (result->superseded ? "superseded by a newer write"
                : result->created  ? "created"
                                   : "replaced")
            << ", sha256 " << absl::BytesToHexString(result->sha256)
            << ", etag " << result->etag << "\n";
  return kOk;
}

int Stat(durable::Client& client, const std::vector<std::string>& args) {
  bool json = false;
  absl::StatusOr<std::string> path =
      ParseArgs("stat", args, true, [&](const Flag& flag) {
        if (flag.name != "json" || flag.value.has_value()) return false;
        json = true;
        return true;
      });
  if (!path.ok()) return UsageError(std::string(path.status().message()));
  path = durable::cli::ResolveCliPath(*path);
  if (!path.ok()) return Fail("stat", path.status());
  absl::StatusOr<durable::FileStatus> status = client.Stat(*path);
  if (!status.ok()) return Fail("stat", status.status());
  if (json) {
    durable::cli::JsonWriter out;
    out.BeginObject();
    out.StringField("path", *path);
    out.NumberField("size", status->size);
    out.NumberField("mode", uint64_t{status->mode});
    out.NumberField("uid", uint64_t{status->uid});
    out.NumberField("gid", uint64_t{status->gid});
    out.NumberField("mtime_ns", status->mtime_ns);
    out.StringField("etag", status->etag);
    out.EndObject();
    std::cout << out.text() << "\n";
    return kOk;
  }
  std::cout << *path << "\n"
            << "  size:  " << status->size << "\n"
            << "  mode:  " << absl::StrFormat("0%o", status->mode) << "\n"
            << "  owner: " << status->uid << ":" << status->gid << "\n"
            << "  mtime: "
            << absl::FormatTime(absl::RFC3339_full,
                                absl::FromUnixNanos(status->mtime_ns),
                                absl::UTCTimeZone())
            << "\n"
            << "  etag:  " << status->etag << "\n";
  return kOk;
}

int Remove(durable::Client& client, const std::vector<std::string>& args) {
  std::string if_match;
  absl::StatusOr<std::string> path =
      ParseArgs("rm", args, true, [&](const Flag& flag) {
        if (flag.name != "if-match" || !flag.value.has_value()) return false;
        if_match = *flag.value;
        return true;
      });
  if (!path.ok()) return UsageError(std::string(path.status().message()));
  path = durable::cli::ResolveCliPath(*path);
  if (!path.ok()) return Fail("rm", path.status());
  absl::StatusOr<std::string> etag = client.Remove(*path, if_match);
  if (!etag.ok()) return Fail("rm", etag.status());
  std::cout << *path << ": removed (etag " << *etag << ")\n";
  return kOk;
}

// WhoAmI's answer as one JSON object; fields as in durable::CallerInfo.
std::string CallerInfoJson(const durable::CallerInfo& caller) {
  durable::cli::JsonWriter out;
  out.BeginObject();
  out.NumberField("uid", uint64_t{caller.uid});
  out.NumberField("gid", uint64_t{caller.gid});
  out.Key("groups");
  out.BeginArray();
  for (gid_t group : caller.groups) out.Number(uint64_t{group});
  out.EndArray();
  out.NumberField("pid", int64_t{caller.pid});
  out.StringField("cgroup", caller.cgroup);
  out.StringField("unit", caller.unit);
  out.Key("grants");
  out.BeginArray();
  for (const durable::CallerInfo::Grant& grant : caller.grants) {
    out.BeginObject();
    out.StringField("name", grant.name);
    out.StringField("root", grant.root);
    out.NumberField("max_file_size", grant.max_file_size);
    out.NumberField("max_bytes", grant.max_bytes);
    out.NumberField("max_files", grant.max_files);
    out.NumberField("create_mode", uint64_t{grant.create_mode});
    out.NumberField("max_mode", uint64_t{grant.max_mode});
    out.BoolField("allow_overwrite", grant.allow_overwrite);
    out.BoolField("allow_create_parents", grant.allow_create_parents);
    out.NumberField("directory_mode", uint64_t{grant.directory_mode});
    out.BoolField("versioned_layout", grant.versioned_layout);
    out.EndObject();
  }
  out.EndArray();
  out.Key("denied_roots");
  out.BeginArray();
  for (const std::string& root : caller.denied_roots) out.String(root);
  out.EndArray();
  out.EndObject();
  return out.text();
}

int WhoAmI(durable::Client& client, const std::vector<std::string>& args) {
  bool json = false;
  absl::StatusOr<std::string> parsed =
      ParseArgs("whoami", args, false, [&](const Flag& flag) {
        if (flag.name != "json" || flag.value.has_value()) return false;
        json = true;
        return true;
      });
  if (!parsed.ok()) return UsageError(std::string(parsed.status().message()));
  absl::StatusOr<durable::CallerInfo> caller = client.WhoAmI();
  if (!caller.ok()) return Fail("whoami", caller.status());
  if (json) {
    std::cout << CallerInfoJson(*caller) << "\n";
    return kOk;
  }
  std::cout << "uid " << caller->uid << ", gid " << caller->gid << ", groups ["
            << absl::StrJoin(caller->groups, " ") << "], pid " << caller->pid
            << "\n";
  if (caller->cgroup.empty()) {
    std::cout << "cgroup unknown (matched by uid and groups only)\n";
  } else {
    std::cout << "cgroup " << caller->cgroup << ", unit "
              << (caller->unit.empty() ? "none" : caller->unit) << "\n";
  }
  if (caller->grants.empty()) std::cout << "may write nowhere\n";
  for (const durable::CallerInfo::Grant& grant : caller->grants) {
    std::string where;
    if (!grant.name.empty()) {
      where = grant.root.empty()
                  ? absl::StrCat(grant.name, ":")
                  : absl::StrCat(grant.name, ": (", grant.root, ")");
    } else {
      where = grant.root;
    }
    std::string quota;
    if (grant.max_bytes != 0) {
      absl::StrAppend(&quota, ", quota ", grant.max_bytes, " bytes");
    }
    if (grant.max_files != 0) {
      absl::StrAppend(&quota, quota.empty() ? ", quota " : " and ",
                      grant.max_files, " files");
    }
    std::cout << "may write under " << where << " (max " << grant.max_file_size
              << " bytes, create mode "
              << absl::StrFormat("0%o", grant.create_mode) << ", max mode "
              << absl::StrFormat("0%o", grant.max_mode)
              << (grant.allow_overwrite ? ", overwrite" : ", create-only")
              << (grant.allow_create_parents ? ", creates parents" : "")
              << ", directory mode "
              << absl::StrFormat("0%o", grant.directory_mode)
              << (grant.versioned_layout ? ", versioned sets" : "") << quota
              << ")\n";
  }
  for (const std::string& root : caller->denied_roots) {
    std::cout << "but not under " << root << "\n";
  }
  return kOk;
}

int Stats(durable::Client& client, const std::vector<std::string>& args) {
  bool openmetrics = false;
  absl::StatusOr<std::string> parsed =
      ParseArgs("stats", args, false, [&](const Flag& flag) {
        if (flag.name != "openmetrics" || flag.value.has_value()) return false;
        openmetrics = true;
        return true;
      });
  if (!parsed.ok()) return UsageError(std::string(parsed.status().message()));
  absl::StatusOr<durable::DaemonStats> stats = client.GetStats();
  if (!stats.ok()) return Fail("stats", stats.status());
  if (openmetrics) {
    std::cout << durable::cli::FormatOpenMetrics(*stats);
    return kOk;
  }
  std::cout << "uptime:          " << absl::ToInt64Seconds(stats->uptime)
            << " s\n"
            << "writes:          " << stats->writes_ok << " ok, "
            << stats->writes_failed << " failed, "
            << HumanBytes(stats->bytes_written) << " written\n"
            << "removes:         " << stats->removes_ok << " ok, "
            << stats->removes_failed << " failed\n"
            << "in progress:     " << stats->writes_in_progress << "\n"
            << "fsyncs:          " << stats->file_syncs << " files, "
            << stats->directory_syncs << " directories, "
            << stats->filesystem_syncs << " filesystems (syncfs), "
            << stats->sync_errors << " errors\n"
            << "commits:         " << stats->commits << " batches of "
            << stats->batched_writes << " writes, " << stats->coalesced_writes
            << " coalesced\n"
            << "connections:     " << stats->connections_accepted
            << " accepted, " << stats->connections_refused << " refused\n";
  // errors_by_code is a std::map: already sorted by code name.
  for (const auto& [code, count] : stats->errors_by_code) {
    std::cout << "errors:          " << code << " " << count << "\n";
  }
  std::cout << "latency:\n";
  for (const durable::LatencyBucket& bucket : stats->latency) {
    std::cout << "  "
              << (bucket.upper_bound_us == durable::kUnboundedLatencyUs
                      ? std::string("     longer")
                      : absl::StrFormat("< %8d us", bucket.upper_bound_us))
              << "  " << bucket.count << "\n";
  }
  return kOk;
}

// A regular file's content for a set member, read as the set is sent.
durable::ChunkSource FileChunks(std::shared_ptr<ContentSource> file) {
  return [file](char* buffer, size_t capacity) {
    return file->Read(buffer, capacity);
  };
}

int WriteSet(durable::Client& client, const std::vector<std::string>& args) {
  std::string from_dir, to;
  bool remove_extra = false, parents = false;
  bool progress = isatty(STDERR_FILENO);
  std::optional<std::string> manifest_path;
  for (const std::string& arg : args) {
    std::optional<Flag> flag = ParseFlag(arg);
    if (!flag.has_value()) {
      if (manifest_path.has_value()) {
        return UsageError(absl::StrCat("write-set: unexpected argument ", arg));
      }
      manifest_path = arg;
    } else if (flag->name == "from-dir" && flag->value.has_value()) {
      from_dir = *flag->value;
    } else if (flag->name == "to" && flag->value.has_value()) {
      to = *flag->value;
    } else if (flag->name == "delete" && !flag->value.has_value()) {
      remove_extra = true;
    } else if (flag->name == "parents" && !flag->value.has_value()) {
      parents = true;
    } else if (flag->name == "no-progress" && !flag->value.has_value()) {
      progress = false;
    } else {
      return UsageError(
          absl::StrCat("write-set: unknown or malformed option ", arg));
    }
  }
  const bool from_directory = !from_dir.empty() || !to.empty();
  if (from_directory == manifest_path.has_value()) {
    return UsageError(
        "write-set needs a MANIFEST or --from-dir=DIR and --to=SUB");
  }
  if (from_directory && (from_dir.empty() || to.empty())) {
    return UsageError("write-set: --from-dir and --to go together");
  }
  if (!from_directory && (remove_extra || parents)) {
    return UsageError("write-set: --delete and --parents need --from-dir");
  }
  std::string cwd(PATH_MAX, '\0');
  if (getcwd(cwd.data(), cwd.size()) == nullptr) {
    return Fail("write-set",
                absl::InternalError(absl::StrCat(
                    "cannot read the working directory: ", strerror(errno))));
  }
  cwd.resize(strlen(cwd.c_str()));
  absl::StatusOr<std::vector<durable::cli::PlannedMember>> plan;
  if (from_directory) {
    plan = durable::cli::PlanDirectoryReplace(
        from_dir, durable::cli::ResolveCliPathAgainst(to, cwd), remove_extra,
        parents);
  } else {
    absl::StatusOr<ContentSource> source = ContentSource::Open(*manifest_path);
    if (!source.ok()) return Fail("write-set", source.status());
    std::string text;
    absl::Status read = ReadHead(*source, 16 << 20, source->KnownSize(), &text);
    if (!read.ok()) return Fail("write-set", read);
    plan = durable::cli::ParseSetManifest(text, cwd);
  }
  if (!plan.ok()) return Fail("write-set", plan.status());

  durable::WriteSetBuilder set;
  for (durable::cli::PlannedMember& member : *plan) {
    if (member.remove) {
      set.Remove(member.target, member.if_match);
      continue;
    }
    absl::StatusOr<ContentSource> file =
        ContentSource::Open(member.source_file);
    if (!file.ok()) return Fail("write-set", file.status());
    const uint64_t size = file->KnownSize();
    set.WriteFrom(member.target,
                  FileChunks(std::make_shared<ContentSource>(*std::move(file))),
                  size, member.options);
  }
  durable::ProgressCallback on_progress;
  if (progress && set.content_bytes() > client.options().stream_threshold) {
    on_progress = TerminalProgress(absl::StrCat(set.size(), " members"));
  }
  absl::StatusOr<std::vector<durable::SetMemberResult>> results =
      client.WriteSet(set, on_progress);
  if (!results.ok()) {
    if (on_progress) std::cerr << "\n";
    return Fail("write-set", results.status());
  }
  for (const durable::SetMemberResult& result : *results) {
    if (result.removed) {
      std::cout << result.path << ": removed, etag was " << result.etag << "\n";
    } else {
      std::cout << result.path << ": " << result.size << " bytes "
                << (result.created ? "created" : "replaced") << ", sha256 "
                << absl::BytesToHexString(result.sha256) << ", etag "
                << result.etag << "\n";
    }
  }
  return kOk;
}

int RunCommand(durable::Client& client, const std::string& command,
               const std::vector<std::string>& args) {
  if (command == "write") return Write(client, args);
  if (command == "stat") return Stat(client, args);
  if (command == "rm") return Remove(client, args);
  if (command == "write-set") return WriteSet(client, args);
  if (command == "whoami") return WhoAmI(client, args);
  if (command == "stats") return Stats(client, args);
  return UsageError(absl::StrCat("unknown command \"", command, "\""));
}

// durablectl makes one call and exits; what a long-lived process needs costs
// it page faults, which dominate its run time (about 10 us each on a VM).
void PrepareOneShotProcess() {
  // Debian's Abseil tracks every Mutex acquisition in a deadlock graph
  // (GraphCycles), allocated page by page; the CLI only ever runs gRPC's
  // locks, which gRPC's own tests check.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // gRPC's threads would each get a malloc arena (a fresh heap and its
  // faults); they allocate little, one arena serves them all.
  mallopt(M_ARENA_MAX, 1);
}

// Ends the process once the answer is printed. Tearing down gRPC (joining
// its threads, destroying the channel, protobuf's registries and the other
// static state) took several ms and changes nothing: the daemon sees the
// connection close either way, and the kernel frees the rest.
[[noreturn]] void ExitWithoutTeardown(int code) {
  std::cout.flush();
  std::cerr.flush();
  std::_Exit(code);
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
    } else if (flag->name == "version" && !flag->value.has_value()) {
      std::cout << "durablectl " << DURABLED_VERSION << "\n";
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
  PrepareOneShotProcess();
  durable::Client client(options);
  ExitWithoutTeardown(RunCommand(client, command, args));
}
