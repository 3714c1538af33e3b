#include "write_set_plan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli_path.h"
#include "write_option_flags.h"

namespace durable::cli {
namespace {

// The daemon's own files beside targets (temp files, set records).
constexpr absl::string_view kDaemonFilePrefix = ".durabled-";

absl::Status LineError(int line, absl::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat("manifest line ", line, ": ", message));
}

// Applies one option field ("NAME" or "NAME=VALUE") of a write line.
absl::Status ApplyWriteField(absl::string_view field, WriteOptions* options) {
  const size_t eq = field.find('=');
  const std::string name(field.substr(0, eq));
  std::optional<std::string> value;
  if (eq != absl::string_view::npos) value = std::string(field.substr(eq + 1));
  absl::StatusOr<bool> applied = ApplyWriteOption(name, value, options);
  if (!applied.ok()) return applied.status();
  if (!*applied) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown option \"", absl::CEscape(field), "\""));
  }
  return absl::OkStatus();
}

std::string Absolute(const std::string& path, const std::string& cwd) {
  if (absl::StartsWith(path, "/")) return path;
  return absl::StrCat(cwd, "/", path);
}

// Lists the regular files under `root` (relative paths, sorted); symlinks
// and special files are an error unless `tolerate_others`.
absl::Status ListFiles(const std::string& root, const std::string& relative,
                       bool tolerate_others, std::set<std::string>* files) {
  const std::string directory =
      relative.empty() ? root : absl::StrCat(root, "/", relative);
  DIR* dir = opendir(directory.c_str());
  if (dir == nullptr) {
    return absl::Status(
        errno == ENOENT ? absl::StatusCode::kNotFound
                        : absl::StatusCode::kPermissionDenied,
        absl::StrCat("cannot list ", directory, ": ", strerror(errno)));
  }
  absl::Status status;
  while (struct dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    const std::string child =
        relative.empty() ? name : absl::StrCat(relative, "/", name);
    struct stat st;
    if (fstatat(dirfd(dir), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      status = absl::InternalError(absl::StrCat("cannot stat ", root, "/",
                                                child, ": ", strerror(errno)));
      break;
    }
    if (S_ISDIR(st.st_mode)) {
      status = ListFiles(root, child, tolerate_others, files);
      if (!status.ok()) break;
    } else if (S_ISREG(st.st_mode)) {
      files->insert(child);
    } else if (!tolerate_others) {
      status = absl::InvalidArgumentError(absl::StrCat(
          root, "/", child,
          " is not a regular file (a symlink or special file); write-set "
          "--from-dir copies regular files only"));
      break;
    }
  }
  closedir(dir);
  return status;
}

}  // namespace

absl::StatusOr<std::vector<PlannedMember>> ParseSetManifest(
    absl::string_view text, const std::string& working_directory) {
  std::vector<PlannedMember> members;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    if (absl::EndsWith(line, "\r")) line.remove_suffix(1);
    absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (trimmed.empty() || trimmed[0] == '#') continue;
    std::vector<std::string> fields =
        absl::StrContains(line, '\t')
            ? absl::StrSplit(line, '\t', absl::SkipEmpty())
            : absl::StrSplit(line, ' ', absl::SkipEmpty());
    PlannedMember member;
    if (fields[0] == "write") {
      if (fields.size() < 3) {
        return LineError(number, "a write needs TARGET and FILE");
      }
      member.source_file = Absolute(fields[2], working_directory);
      for (size_t i = 3; i < fields.size(); ++i) {
        absl::Status applied = ApplyWriteField(fields[i], &member.options);
        if (!applied.ok()) return LineError(number, applied.message());
      }
    } else if (fields[0] == "remove") {
      if (fields.size() < 2 || fields.size() > 3) {
        return LineError(number,
                         "a remove takes TARGET and at most if-match=ETAG");
      }
      if (fields.size() == 3) {
        if (!absl::StartsWith(fields[2], "if-match=")) {
          return LineError(number,
                           absl::StrCat("unknown option \"",
                                        absl::CEscape(fields[2]), "\""));
        }
        member.if_match = fields[2].substr(strlen("if-match="));
      }
      member.remove = true;
    } else {
      return LineError(number, absl::StrCat("\"", absl::CEscape(fields[0]),
                                            "\" is neither write nor remove"));
    }
    member.target = ResolveCliPathAgainst(fields[1], working_directory);
    members.push_back(std::move(member));
  }
  if (members.empty()) {
    return absl::InvalidArgumentError("the manifest lists no member");
  }
  return members;
}

absl::StatusOr<std::vector<PlannedMember>> PlanDirectoryReplace(
    const std::string& from_dir, const std::string& to, bool remove_extra,
    bool parents) {
  if (!absl::StartsWith(to, "/")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--to=", to,
                     " must be a host path (absolute or relative), not a root "
                     "name, so that its files can be listed"));
  }
  std::set<std::string> sources;
  absl::Status listed = ListFiles(from_dir, "", false, &sources);
  if (!listed.ok()) return listed;
  std::vector<PlannedMember> members;
  for (const std::string& file : sources) {
    PlannedMember& member = members.emplace_back();
    member.target = absl::StrCat(to, "/", file);
    member.source_file = absl::StrCat(from_dir, "/", file);
    member.options.create_parents = parents;
  }
  if (remove_extra) {
    std::set<std::string> existing;
    listed = ListFiles(to, "", true, &existing);
    if (!listed.ok() && !absl::IsNotFound(listed)) return listed;
    for (const std::string& file : existing) {
      const std::string leaf = file.substr(file.rfind('/') + 1);
      if (absl::StartsWith(leaf, kDaemonFilePrefix)) continue;
      if (sources.count(file) != 0) continue;
      PlannedMember& member = members.emplace_back();
      member.target = absl::StrCat(to, "/", file);
      member.remove = true;
    }
  }
  if (members.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(from_dir,
                     " has no regular file and nothing is to be "
                     "removed: the set would be empty"));
  }
  return members;
}

}  // namespace durable::cli
