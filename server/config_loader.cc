#include "server/config_loader.h"

#include <errno.h>
#include <string.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "server/path_validation.h"

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
      error_ = absl::StrFormat("%s:%d:%d: %s", file_name_, line + 1,
                               column + 1, message);
    }
  }

  const std::string& error() const { return error_; }

 private:
  std::string file_name_;
  std::string error_;
};

// Formats "file:line:column: reason" for a field found in `tree`.
class ErrorLocator {
 public:
  ErrorLocator(absl::string_view file_name,
               const TextFormat::ParseInfoTree* tree)
      : file_name_(file_name), tree_(tree) {}

  // `rule_index` < 0 means a top-level field of DaemonConfig.
  absl::Status Error(int rule_index, absl::string_view field,
                     absl::string_view reason, int repeated_index = -1) const {
    const auto* config_descriptor = DaemonConfig::descriptor();
    const TextFormat::ParseInfoTree* tree = tree_;
    const google::protobuf::Descriptor* descriptor = config_descriptor;
    if (rule_index >= 0 && tree != nullptr) {
      tree = tree->GetTreeForNested(config_descriptor->FindFieldByName("rule"),
                                    rule_index);
      descriptor = durable::v1::Rule::descriptor();
    }
    google::protobuf::TextFormat::ParseLocation location;
    if (tree != nullptr) {
      const auto* fd = descriptor->FindFieldByName(std::string(field));
      if (fd != nullptr) {
        location = tree->GetLocation(fd, fd->is_repeated()
                                             ? std::max(repeated_index, 0)
                                             : -1);
      }
    }
    if (location.line < 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: %s: %s", file_name_, field, reason));
    }
    return absl::InvalidArgumentError(
        absl::StrFormat("%s:%d:%d: %s: %s", file_name_, location.line + 1,
                        location.column + 1, field, reason));
  }

 private:
  std::string file_name_;
  const TextFormat::ParseInfoTree* tree_;
};

bool IsCleanRoot(const std::string& root) {
  return root == "/" || ValidateClientPath(root).ok();
}

absl::Status Validate(const DaemonConfig& config, const ErrorLocator& at) {
  if (config.has_socket()) {
    const auto& socket = config.socket();
    if (!socket.path().empty() && !ValidateClientPath(socket.path()).ok()) {
      return at.Error(-1, "socket",
                      absl::StrCat("path \"", socket.path(),
                                   "\" must be a clean absolute path"));
    }
    if (socket.mode() > 0777) {
      return at.Error(-1, "socket",
                      absl::StrFormat("mode 0%o has bits outside 0777",
                                      socket.mode()));
    }
  }
  absl::flat_hash_set<std::string> roots;
  for (int i = 0; i < config.rule_size(); ++i) {
    const durable::v1::Rule& rule = config.rule(i);
    if (rule.root().empty()) {
      return at.Error(i, "root", "every rule needs a root");
    }
    if (!IsCleanRoot(rule.root())) {
      return at.Error(i, "root",
                      absl::StrCat("\"", rule.root(),
                                   "\" is not a clean absolute path (no "
                                   "'.', '..', '//' or trailing '/')"));
    }
    if (!roots.insert(rule.root()).second) {
      return at.Error(i, "root",
                      absl::StrCat("\"", rule.root(),
                                   "\" is the root of an earlier rule too"));
    }
    if (rule.allow_uid_size() == 0 && rule.allow_gid_size() == 0) {
      return at.Error(i, "root",
                      absl::StrCat("the rule for \"", rule.root(),
                                   "\" allows nobody; add allow_uid or "
                                   "allow_gid"));
    }
    if (rule.create_mode() > 07777) {
      return at.Error(i, "create_mode",
                      absl::StrFormat("0%o has bits outside 07777",
                                      rule.create_mode()));
    }
    if (rule.max_mode() > 07777) {
      return at.Error(i, "max_mode",
                      absl::StrFormat("0%o has bits outside 07777",
                                      rule.max_mode()));
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
  if (socket->path().empty()) socket->set_path(kDefaultSocketPath);
  if (socket->mode() == 0) socket->set_mode(kDefaultSocketMode);
  return config;
}

absl::StatusOr<DaemonConfig> LoadConfigFile(const std::string& path) {
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
