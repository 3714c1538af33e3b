#ifndef DURABLED_SERVER_ENGINE_SET_RECORD_H_
#define DURABLED_SERVER_ENGINE_SET_RECORD_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace durable {

// A set's commit record lives beside its first member's target (same
// directory, so on the set's filesystem) under this prefix and 16 random hex
// digits. Nothing else may use that prefix inside a root.
inline constexpr absl::string_view kSetRecordPrefix = ".durabled-set.";

// True if `name` is a commit record name of durabled's own making.
bool IsSetRecordName(absl::string_view name);

// A fresh random commit record name.
std::string RandomSetRecordName();

// What start-up recovery needs to finish a set whose record is durable: for
// each member its directory, relative to the record's own directory (which
// is the root of every member path), and what to do there.
//
//  - A write publishes `temp` over `leaf`. Recovery renames `temp` over
//    `leaf` if `temp` still exists, and otherwise does nothing: temp names
//    are never reused, so a missing temp name was published already.
//  - A remove unlinks `leaf`, but only while it still has etag `etag` (the
//    file the set checked); anything else there came later.
//
// Both are idempotent, so recovery may be cut off and run again.
struct SetRecord {
  struct Member {
    bool remove = false;
    // The member's directory beneath the record's directory: "." or
    // components separated by '/', as OpenDirectoryBeneath takes it.
    std::string directory;
    std::string leaf;
    std::string temp;  // a write: the staged temp file's name
    std::string etag;  // a remove: the etag the set removes
  };
  std::vector<Member> members;
};

// The record as bytes: a versioned text form whose last line carries the
// SHA-256 of everything before it, so a torn or foreign file never parses.
std::string EncodeSetRecord(const SetRecord& record);

// DATA_LOSS for anything EncodeSetRecord did not produce whole.
absl::StatusOr<SetRecord> DecodeSetRecord(absl::string_view bytes);

// Largest encoded record recovery reads.
inline constexpr size_t kMaxSetRecordBytes = 4 << 20;

}  // namespace durable

#endif  // DURABLED_SERVER_ENGINE_SET_RECORD_H_
