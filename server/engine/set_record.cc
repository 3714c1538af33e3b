#include "server/engine/set_record.h"

#include <cstdint>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/engine/sha256.h"

namespace durable {
namespace {

constexpr absl::string_view kMagic = "durabled-set 1";
constexpr absl::string_view kChecksum = "sha256 ";

std::string Digest(absl::string_view bytes) {
  Sha256 hasher;
  hasher.Update(bytes);
  return absl::BytesToHexString(hasher.Finish());
}

absl::Status Malformed(absl::string_view why) {
  return absl::DataLossError(absl::StrCat("not a whole set record: ", why));
}

}  // namespace

bool IsSetRecordName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, kSetRecordPrefix) || name.size() != 16) {
    return false;
  }
  for (char c : name) {
    if (!absl::ascii_isxdigit(c) || absl::ascii_isupper(c)) return false;
  }
  return true;
}

std::string RandomSetRecordName() {
  absl::BitGen bits;
  return absl::StrFormat("%s%016x", kSetRecordPrefix,
                         absl::Uniform<uint64_t>(bits));
}

// One line per member, fields tab-separated and C-escaped (so names with
// tabs or newlines survive):
//   write  DIR LEAF TEMP
//   remove DIR LEAF ETAG
std::string EncodeSetRecord(const SetRecord& record) {
  std::string body = absl::StrCat(kMagic, "\n");
  for (const SetRecord::Member& member : record.members) {
    absl::StrAppend(
        &body, member.remove ? "remove" : "write", "\t",
        absl::CEscape(member.directory), "\t", absl::CEscape(member.leaf), "\t",
        absl::CEscape(member.remove ? member.etag : member.temp), "\n");
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
    if (fields.size() != 4 || (fields[0] != "write" && fields[0] != "remove")) {
      return Malformed(absl::StrCat("bad member line ", i));
    }
    SetRecord::Member member;
    member.remove = fields[0] == "remove";
    std::string last_field;
    if (!absl::CUnescape(fields[1], &member.directory) ||
        !absl::CUnescape(fields[2], &member.leaf) ||
        !absl::CUnescape(fields[3], &last_field)) {
      return Malformed(absl::StrCat("bad escape in member line ", i));
    }
    (member.remove ? member.etag : member.temp) = std::move(last_field);
    record.members.push_back(std::move(member));
  }
  return record;
}

}  // namespace durable
