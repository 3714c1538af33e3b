#include "server/policy/config_loader.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "server/policy/client_address.h"
#include "server/policy/path_validation.h"
#include "server/policy/root_template.h"

namespace durable {
namespace {

using durable::v1::DaemonConfig;
using google::protobuf::TextFormat;

// Keeps the first error the text-format parser reports.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit FirstErrorCollector(absl::string_view file_name)
      : file_name_(file_name) {}

  void AddError(int line, int column, const std::string& message) override {
    if (error_.empty()) {
      // The parser counts from 0; editors count from 1.
      error_ = absl::StrFormat("%s:%d:%d: %s", file_name_, line + 1, column + 1,
                               message);
    }
  }

  const std::string& error() const { return error_; }

 private:
  std::string file_name_;
  std::string error_;
};

// Formats "file:line:column: block.field: reason" from the parser's record
// of where each field was.
class ErrorLocator {
 public:
  ErrorLocator(absl::string_view file_name,
               const TextFormat::ParseInfoTree* tree)
      : file_name_(file_name), tree_(tree) {}

  // An error about `field` inside the top-level block `block` ("rule",
  // "socket", "limits"); `index` picks one of a repeated block. Where the
  // field itself was not written, the block's position is given.
  absl::Status Error(absl::string_view block, int index,
                     absl::string_view field, absl::string_view reason) const {
    const auto* block_field =
        DaemonConfig::descriptor()->FindFieldByName(std::string(block));
    const int block_index = block_field->is_repeated() ? index : -1;
    TextFormat::ParseLocation location =
        tree_->GetLocation(block_field, block_index);
    const TextFormat::ParseInfoTree* nested =
        tree_->GetTreeForNested(block_field, block_index);
    const auto* field_descriptor =
        block_field->message_type()->FindFieldByName(std::string(field));
    if (nested != nullptr && field_descriptor != nullptr) {
      TextFormat::ParseLocation field_location = nested->GetLocation(
          field_descriptor, field_descriptor->is_repeated() ? 0 : -1);
      if (field_location.line >= 0) location = field_location;
    }
    const std::string what = absl::StrCat(block, ".", field);
    if (location.line < 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: %s: %s", file_name_, what, reason));
    }
    return absl::InvalidArgumentError(
        absl::StrFormat("%s:%d:%d: %s: %s", file_name_, location.line + 1,
                        location.column + 1, what, reason));
  }

 private:
  std::string file_name_;
  const TextFormat::ParseInfoTree* tree_;
};

absl::Status Validate(const DaemonConfig& config, const ErrorLocator& at) {
  if (config.has_socket()) {
    const auto& socket = config.socket();
    if (!socket.path().empty() && !ValidateClientPath(socket.path()).ok()) {
      return at.Error("socket", -1, "path",
                      absl::StrCat("path \"", socket.path(),
                                   "\" must be a clean absolute path"));
    }
    if (socket.mode() > 0777) {
      return at.Error(
          "socket", -1, "mode",
          absl::StrFormat("mode 0%o has bits outside 0777", socket.mode()));
    }
  }
  if (config.commit().max_batch() > kMaxCommitBatch) {
    return at.Error("commit", -1, "max_batch",
                    absl::StrCat(config.commit().max_batch(),
                                 " is more than the most a batch may hold, ",
                                 kMaxCommitBatch));
  }
  if (config.commit().committers() > kMaxCommitters) {
    return at.Error(
        "commit", -1, "committers",
        absl::StrCat(config.commit().committers(),
                     " is more than the most committers, ", kMaxCommitters));
  }
  absl::flat_hash_set<std::string> roots;
  absl::flat_hash_set<std::string> names;
  for (int i = 0; i < config.rule_size(); ++i) {
    const durable::v1::Rule& rule = config.rule(i);
    if (rule.root().empty()) {
      return at.Error("rule", i, "root", "every rule needs a root");
    }
    absl::StatusOr<RootTemplate> root = RootTemplate::Parse(rule.root());
    if (!root.ok()) return at.Error("rule", i, "root", root.status().message());
    if (!roots.insert(rule.root()).second) {
      return at.Error("rule", i, "root",
                      absl::StrCat("\"", rule.root(),
                                   "\" is the root of an earlier rule too"));
    }
    if (rule.allow_uid_size() == 0 && rule.allow_gid_size() == 0 &&
        rule.allow_unit_size() == 0 && rule.allow_cgroup_size() == 0) {
      return at.Error("rule", i, "root",
                      absl::StrCat("the rule for \"", rule.root(),
                                   "\" allows nobody; add allow_uid, "
                                   "allow_gid, allow_unit or allow_cgroup"));
    }
    if (!rule.name().empty()) {
      if (!IsValidRootName(rule.name())) {
        return at.Error("rule", i, "name",
                        absl::StrCat("\"", rule.name(),
                                     "\" is not a valid root name (lowercase "
                                     "letters, digits, '-' and '_', at most "
                                     "64, starting with a letter or digit)"));
      }
      if (!names.insert(rule.name()).second) {
        return at.Error("rule", i, "name",
                        absl::StrCat("\"", rule.name(),
                                     "\" is the name of an earlier rule too"));
      }
    }
    if (rule.hide_root() && rule.name().empty()) {
      return at.Error("rule", i, "hide_root",
                      "a rule that hides its root needs a name callers can "
                      "use instead");
    }
    if (rule.create_root() && !root->per_caller()) {
      return at.Error("rule", i, "create_root",
                      absl::StrCat("\"", rule.root(),
                                   "\" has no placeholder; create_root is "
                                   "for per-caller roots (the root itself "
                                   "must exist at start)"));
    }
    for (const std::string& pattern : rule.allow_unit()) {
      if (pattern.empty() || absl::StrContains(pattern, '/') ||
          !IsSingleComponent(pattern)) {
        return at.Error("rule", i, "allow_unit",
                        absl::StrCat("\"", absl::CEscape(pattern),
                                     "\" is not a unit name pattern (such as "
                                     "agent@*.service)"));
      }
    }
    for (const std::string& prefix : rule.allow_cgroup()) {
      if (prefix != "/" && !ValidateClientPath(prefix).ok()) {
        return at.Error("rule", i, "allow_cgroup",
                        absl::StrCat("\"", absl::CEscape(prefix),
                                     "\" is not a clean absolute cgroup path "
                                     "(such as /machine.slice/agents)"));
      }
    }
    if (rule.create_owner() != durable::v1::OWNER_FIXED &&
        (rule.owner_uid() != 0 || rule.owner_gid() != 0)) {
      return at.Error("rule", i, "owner_uid",
                      "owner_uid and owner_gid apply only with "
                      "create_owner: OWNER_FIXED");
    }
    // The daemon runs as root: a setuid, setgid or sticky bit on a file or
    // directory it creates for a caller would be a privilege it grants.
    const struct {
      const char* field;
      uint32_t mode;
    } modes[] = {{"create_mode", rule.create_mode()},
                 {"max_mode", rule.max_mode()},
                 {"directory_mode", rule.directory_mode()}};
    for (const auto& [field, mode] : modes) {
      if (mode > 07777) {
        return at.Error("rule", i, field,
                        absl::StrFormat("0%o has bits outside 07777", mode));
      }
      if ((mode & 07000) != 0) {
        return at.Error(
            "rule", i, field,
            absl::StrFormat("0%o has setuid, setgid or sticky bits (07000); "
                            "durabled never gives callers' files or "
                            "directories these bits, use at most 0777",
                            mode));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DaemonConfig> ParseConfig(absl::string_view text,
                                         absl::string_view file_name) {
  DaemonConfig config;
  FirstErrorCollector errors(file_name);
  TextFormat::ParseInfoTree tree;
  TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(std::string(text), &config)) {
    return absl::InvalidArgumentError(
        errors.error().empty() ? absl::StrCat(file_name, ": cannot parse")
                               : errors.error());
  }
  absl::Status valid = Validate(config, ErrorLocator(file_name, &tree));
  if (!valid.ok()) return valid;
  auto* socket = config.mutable_socket();
  if (socket->path().empty()) socket->set_path(kDefaultListenSocketPath);
  if (socket->mode() == 0) socket->set_mode(kDefaultSocketMode);
  return config;
}

absl::StatusOr<DaemonConfig> LoadConfigFile(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the config must be a regular file"));
  }
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot open the config file: ", strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path);
}

uint64_t MaxMessageBytes(const DaemonConfig& config) {
  if (config.limits().max_message_bytes() != 0) {
    return config.limits().max_message_bytes();
  }
  return kDefaultMaxFileSize + kMessageHeadroom;
}

}  // namespace durable

namespace durable {

durable::v1::Limits EffectiveLimits(const DaemonConfig& config) {
  durable::v1::Limits limits = config.limits();
  limits.set_max_message_bytes(MaxMessageBytes(config));
  if (limits.stream_idle_timeout_ms() == 0) {
    limits.set_stream_idle_timeout_ms(kDefaultStreamIdleTimeoutMs);
  }
  if (limits.max_concurrent_writes() == 0) {
    limits.set_max_concurrent_writes(kDefaultMaxConcurrentWrites);
  }
  if (limits.max_concurrent_writes_per_uid() == 0) {
    limits.set_max_concurrent_writes_per_uid(kDefaultMaxConcurrentWritesPerUid);
  }
  if (limits.max_connections_per_uid() == 0) {
    limits.set_max_connections_per_uid(kDefaultMaxConnectionsPerUid);
  }
  if (limits.max_streams_per_connection() == 0) {
    limits.set_max_streams_per_connection(kDefaultMaxStreamsPerConnection);
  }
  if (limits.max_metadata_bytes() == 0) {
    limits.set_max_metadata_bytes(kDefaultMaxMetadataBytes);
  }
  if (limits.request_arrival_timeout_ms() == 0) {
    limits.set_request_arrival_timeout_ms(kDefaultRequestArrivalTimeoutMs);
  }
  if (limits.grpc_memory_bytes() == 0) {
    limits.set_grpc_memory_bytes(kDefaultGrpcMemoryBytes);
  }
  if (limits.max_grpc_threads() == 0) {
    limits.set_max_grpc_threads(kDefaultMaxGrpcThreads);
  }
  if (limits.max_set_members() == 0) {
    limits.set_max_set_members(kDefaultMaxSetMembers);
  }
  if (limits.max_set_bytes() == 0) {
    limits.set_max_set_bytes(kDefaultMaxSetBytes);
  }
  return limits;
}

absl::Duration StreamIdleTimeout(const DaemonConfig& config) {
  uint32_t ms = config.limits().stream_idle_timeout_ms();
  return absl::Milliseconds(ms != 0 ? ms : kDefaultStreamIdleTimeoutMs);
}

}  // namespace durable
