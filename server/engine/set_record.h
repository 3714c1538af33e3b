#ifndef DURABLED_SERVER_ENGINE_SET_RECORD_H_
#define DURABLED_SERVER_ENGINE_SET_RECORD_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/engine/file_system.h"

namespace durable {

// A set's commit record lives in the directory kSetDirectoryName of the
// set's root (the caller's root all members lie under, so on the set's
// filesystem), named kSetRecordPrefix and 16 random hex digits. That
// directory is the daemon's own: made by it with mode 0700, and trusted
// only while it is owned by the daemon's uid and writable by nobody else
// (IsTrustedSetDirectory), so no caller can plant a record there. Names
// beginning with kSetReservedPrefix are refused in callers' paths.
inline constexpr absl::string_view kSetReservedPrefix = ".durabled-set";
inline constexpr absl::string_view kSetDirectoryName = ".durabled-sets";
inline constexpr absl::string_view kSetRecordPrefix = ".durabled-set.";

// True if `name` is a commit record name of durabled's own making.
bool IsSetRecordName(absl::string_view name);

// A fresh random commit record name.
std::string RandomSetRecordName();

// Whether `info` (of a directory named kSetDirectoryName) may hold commit
// records: a directory owned by `daemon_uid` that no group or other may
// write.
bool IsTrustedSetDirectory(const FileInfo& info, uid_t daemon_uid);

// What recovery needs to finish a set whose record is durable: for each
// member its directory, relative to the set's root (the parent of the
// record's directory), and what to do there.
//
//  - A write publishes `temp` (inode `temp_inode`) over `leaf`, but only
//    while `leaf` is still as the set found it: etag `expected_etag`, or
//    absent if that is empty. A `leaf` that holds the temp's inode was
//    published already; one that changed otherwise got a newer write after
//    the set (its outcome was not acknowledged), which stays, and the temp
//    file is discarded.
//  - A remove unlinks `leaf`, but only while it still has etag `etag` (the
//    file the set checked); anything else there came later.
//
// Both are idempotent, so recovery may be cut off and run again. Decoding
// refuses any field that would reach outside the member's directory: a
// leaf is one path component, a temp name one of IsTempFileName, a
// directory "." or plain components.
struct SetRecord {
  struct Member {
    bool remove = false;
    // The member's directory beneath the record's directory: "." or
    // components separated by '/', as OpenDirectoryBeneath takes it.
    std::string directory;
    std::string leaf;
    std::string temp;           // a write: the staged temp file's name ...
    uint64_t temp_inode = 0;    // ... and its inode
    std::string expected_etag;  // a write: the target's etag before, or ""
    std::string etag;           // a remove: the etag the set removes
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
