#include "server/engine/set_record.h"

#include <sys/stat.h>

#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/engine/file_replacer.h"
#include "server/engine/random_name.h"
#include "server/engine/sha256.h"

namespace durable {
namespace {

constexpr absl::string_view kMagic = "durabled-set 2";
constexpr absl::string_view kChecksum = "sha256 ";

std::string Digest(absl::string_view bytes) {
  Sha256 hasher;
  hasher.Update(bytes);
  return absl::BytesToHexString(hasher.Finish());
}

absl::Status Malformed(absl::string_view why) {
  return absl::DataLossError(absl::StrCat("not a whole set record: ", why));
}

// One path component that names an entry of its directory and nothing
// beyond it.
bool IsPlainComponent(absl::string_view name) {
  return !name.empty() && name.size() <= 255 && name != "." && name != ".." &&
         !absl::StrContains(name, '/') && !absl::StrContains(name, '\0');
}

bool IsPlainDirectory(absl::string_view directory) {
  if (directory == ".") return true;
  for (absl::string_view component : absl::StrSplit(directory, '/')) {
    if (!IsPlainComponent(component)) return false;
  }
  return true;
}

// Why `member` could reach outside its directory, or "" if it cannot.
std::string Unsafe(const SetRecord::Member& member) {
  if (!IsPlainDirectory(member.directory)) return "directory";
  if (!IsPlainComponent(member.leaf)) return "leaf";
  if (member.remove) return member.etag.empty() ? "etag" : "";
  return IsTempFileName(member.temp) ? "" : "temp name";
}

}  // namespace

bool IsSetRecordName(absl::string_view name) {
  return IsRandomHexName(name, kSetRecordPrefix);
}

std::string RandomSetRecordName() { return RandomHexName(kSetRecordPrefix); }

bool IsTrustedSetDirectory(const FileInfo& info, uid_t daemon_uid) {
  return S_ISDIR(info.mode) && info.uid == daemon_uid &&
         (info.mode & (S_IWGRP | S_IWOTH)) == 0;
}

// One line per member, fields tab-separated and C-escaped (so names with
// tabs or newlines survive); EXPECTED is "-" for an absent target:
//   write  DIR LEAF TEMP TEMP_INODE EXPECTED
//   remove DIR LEAF ETAG
std::string EncodeSetRecord(const SetRecord& record) {
  std::string body = absl::StrCat(kMagic, "\n");
  for (const SetRecord::Member& member : record.members) {
    absl::StrAppend(&body, member.remove ? "remove" : "write", "\t",
                    absl::CEscape(member.directory), "\t",
                    absl::CEscape(member.leaf), "\t");
    if (member.remove) {
      absl::StrAppend(&body, absl::CEscape(member.etag), "\n");
    } else {
      absl::StrAppend(
          &body, absl::CEscape(member.temp), "\t", member.temp_inode, "\t",
          member.expected_etag.empty() ? "-"
                                       : absl::CEscape(member.expected_etag),
          "\n");
    }
  }
  return absl::StrCat(body, kChecksum, Digest(body), "\n");
}

absl::StatusOr<SetRecord> DecodeSetRecord(absl::string_view bytes) {
  if (!absl::ConsumeSuffix(&bytes, "\n")) return Malformed("no final newline");
  const size_t last = bytes.rfind('\n');
  if (last == absl::string_view::npos) return Malformed("no checksum line");
  absl::string_view body = bytes.substr(0, last + 1);
  absl::string_view checksum = bytes.substr(last + 1);
  if (!absl::ConsumePrefix(&checksum, kChecksum) || checksum != Digest(body)) {
    return Malformed("checksum mismatch");
  }
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::StripSuffix(body, "\n"), '\n');
  if (lines.empty() || lines[0] != kMagic) return Malformed("unknown version");
  SetRecord record;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<absl::string_view> fields = absl::StrSplit(lines[i], '\t');
    SetRecord::Member member;
    member.remove = !fields.empty() && fields[0] == "remove";
    const bool write = !fields.empty() && fields[0] == "write";
    if ((!member.remove || fields.size() != 4) &&
        (!write || fields.size() != 6)) {
      return Malformed(absl::StrCat("bad member line ", i));
    }
    bool ok =
        absl::CUnescape(fields[1], &member.directory) &&
        absl::CUnescape(fields[2], &member.leaf) &&
        absl::CUnescape(fields[3], member.remove ? &member.etag : &member.temp);
    if (ok && write) {
      ok = absl::SimpleAtoi(fields[4], &member.temp_inode) &&
           (fields[5] == "-" ||
            absl::CUnescape(fields[5], &member.expected_etag));
    }
    if (!ok) return Malformed(absl::StrCat("bad field in member line ", i));
    const std::string unsafe = Unsafe(member);
    if (!unsafe.empty()) {
      return Malformed(absl::StrCat("unsafe ", unsafe, " in member line ", i));
    }
    record.members.push_back(std::move(member));
  }
  return record;
}

}  // namespace durable
