#ifndef DURABLE_CLIENT_H_
#define DURABLE_CLIENT_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace durable {

inline constexpr char kDefaultSocketPath[] = "/run/durabled/durabled.sock";
// Environment variable that overrides the default socket path.
inline constexpr char kSocketEnvironmentVariable[] = "DURABLED_SOCKET";

// The socket a client connects to by default: $DURABLED_SOCKET if set,
// else kDefaultSocketPath.
std::string DefaultSocketPath();

struct ClientOptions {
  std::string socket_path = DefaultSocketPath();
  // Deadline of each call. Past it the call fails with DEADLINE_EXCEEDED and
  // (unless the daemon was already publishing) nothing is published.
  absl::Duration timeout = absl::Minutes(10);
  // Write() sends content larger than this as a stream.
  size_t stream_threshold = 4 << 20;
  // Size of the chunks of a streamed write.
  size_t chunk_size = 1 << 20;
};

// Called during streamed writes with the bytes sent so far and the total
// (0 if unknown).
using ProgressCallback = std::function<void(uint64_t sent, uint64_t total)>;

struct WriteOptions {
  // Permission bits for the file; 0 means the rule's create_mode for a new
  // file and the existing bits for a replaced one.
  mode_t mode = 0;
  // Fail with ALREADY_EXISTS if the file exists.
  bool if_absent = false;
  // Fail with ABORTED unless the file's current etag is this.
  std::string if_match;
  // Fail with DATA_LOSS unless the content has this SHA-256 (32 raw bytes).
  std::string expected_sha256;
  // Create missing parent directories (if the rule allows it).
  bool create_parents = false;
  ProgressCallback on_progress;
};

struct WriteResult {
  uint64_t size = 0;
  std::string sha256;  // 32 raw bytes
  std::string etag;
  bool created = false;
  // A newer write of the same target was published in this one's place
  // (see WriteResponse.superseded); `etag` is that newer version's.
  bool superseded = false;
};

struct FileStatus {
  uint64_t size = 0;
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  int64_t mtime_ns = 0;
  std::string etag;
};

// The caller as the daemon sees it, and where it may write (WhoAmI).
struct CallerInfo {
  // As the kernel reported them when the connection was accepted.
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups
  pid_t pid = 0;
  // The caller's cgroup and systemd unit, as read at accept; empty if the
  // cgroup could not be read.
  std::string cgroup;
  std::string unit;
  // What one rule lets this caller do.
  struct Grant {
    // Directory under which the caller may write (unless one of
    // `denied_roots` covers the path), expanded for the caller; empty if
    // the rule hides it.
    std::string root;
    // Name for "name:relative/path" addresses; empty if the root has none.
    std::string name;
    // Quota of the root (0: none).
    uint64_t max_bytes = 0;
    uint64_t max_files = 0;
    uint64_t max_file_size = 0;
    mode_t create_mode = 0;
    mode_t max_mode = 0;
    bool allow_overwrite = false;
    bool allow_create_parents = false;
    // Permission bits of the directories it creates (create_parents).
    mode_t directory_mode = 0;
    // Sets under the root use the versioned ..data layout.
    bool versioned_layout = false;
  };
  std::vector<Grant> grants;
  // Roots nested under one of `grants` whose rules do not allow this caller.
  std::vector<std::string> denied_roots;
};

// One bucket of the daemon's latency histogram: `count` calls took less than
// `upper_bound_us` microseconds (and at least the previous bucket's bound).
struct LatencyBucket {
  // The last bucket's bound is kUnboundedLatencyUs: everything longer.
  int64_t upper_bound_us = 0;
  uint64_t count = 0;
};
inline constexpr int64_t kUnboundedLatencyUs =
    std::numeric_limits<int64_t>::max();

// The daemon's counters since it started (GetStats).
struct DaemonStats {
  absl::Duration uptime;  // whole seconds
  // Completed Write and WriteStream calls, by outcome.
  uint64_t writes_ok = 0;
  uint64_t writes_failed = 0;
  // Bytes published by successful writes.
  uint64_t bytes_written = 0;
  // Completed Remove calls, by outcome.
  uint64_t removes_ok = 0;
  uint64_t removes_failed = 0;
  // Failed writes and removes by status code name ("PERMISSION_DENIED").
  std::map<std::string, uint64_t> errors_by_code;
  // fsync calls on files and on directories, syncfs calls that flushed a
  // batch's data, and how many of them failed.
  uint64_t file_syncs = 0;
  uint64_t directory_syncs = 0;
  uint64_t filesystem_syncs = 0;
  uint64_t sync_errors = 0;
  // Batches the commit queue committed (group commits), the writes in them
  // (batched_writes / commits is the mean batch size), and writes answered
  // as superseded by a newer write of their target (coalesced).
  uint64_t commits = 0;
  uint64_t batched_writes = 0;
  uint64_t coalesced_writes = 0;
  // Latency of completed writes and removes, by ascending bound, and the
  // sum of all of them.
  std::vector<LatencyBucket> latency;
  absl::Duration latency_sum;
  // Connections accepted and refused at accept (no rule for the caller, or
  // over the per-uid limit).
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;
  // Writes in progress when the daemon answered.
  uint32_t writes_in_progress = 0;
};

// Fills `buffer` with up to `capacity` bytes of content; returns how many,
// 0 at the end.
using ChunkSource =
    std::function<absl::StatusOr<size_t>(char* buffer, size_t capacity)>;

// The members of one WriteSet: files that change together, all or none
// (see Client::WriteSet). Members are sent in the order they are added.
class WriteSetBuilder {
 public:
  // A member that makes `path` hold `data` (copied). `options` as for
  // Client::Write; its on_progress is not used (see Client::WriteSet).
  WriteSetBuilder& Write(std::string path, std::string data,
                         WriteOptions options = {});
  // A member whose content is what `source` yields, which must be exactly
  // `size` bytes (else the set fails with INVALID_ARGUMENT and nothing is
  // published). `source` is called while the set is sent.
  WriteSetBuilder& WriteFrom(std::string path, ChunkSource source,
                             uint64_t size, WriteOptions options = {});
  // A member that removes `path`, which must exist; with `if_match` only
  // that version.
  WriteSetBuilder& Remove(std::string path, std::string if_match = "");

  size_t size() const { return members_.size(); }
  // The write members' sizes added up.
  uint64_t content_bytes() const;

 private:
  friend class Client;
  struct Member {
    std::string path;
    bool remove = false;
    std::string if_match;  // remove
    WriteOptions options;  // write
    std::string data;      // write, unless `source` is set
    ChunkSource source;
    uint64_t size = 0;
  };
  std::vector<Member> members_;
};

// What became of one member of a set, in the order of the builder.
struct SetMemberResult {
  std::string path;
  // A write: the new version's etag; a remove: the removed file's.
  std::string etag;
  uint64_t size = 0;     // a write's
  std::string sha256;    // a write's, 32 raw bytes
  bool created = false;  // a write that created the file
  bool removed = false;  // a remove member
};

// A connection to durabled. Thread-safe; one Client may serve many threads.
// Errors are the daemon's status codes and messages (see
// proto/durable/v1/durable.proto); an unreachable daemon is UNAVAILABLE.
//
// Movable (not while another thread uses it): the moved-to Client takes over
// the connection and options; a moved-from Client answers every call with
// FAILED_PRECONDITION until a Client is assigned to it.
class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  Client(Client&& other) noexcept;
  Client& operator=(Client&& other) noexcept;

  // Makes `path` hold exactly `data`, durably. Content above
  // stream_threshold goes as a stream.
  absl::StatusOr<WriteResult> Write(const std::string& path,
                                    absl::string_view data,
                                    const WriteOptions& options = {});

  // Makes `path` hold everything `source` yields, streamed in chunks so that
  // neither side holds the whole content. `total_size` (0 if unknown)
  // feeds the progress callback and is announced to the daemon, which then
  // refuses content over a limit or quota before staging anything, and
  // fails the write (INVALID_ARGUMENT) if `source` yields another size.
  //
  // `path`, here and below: an absolute host path, or "name:relative/path"
  // under a named root (WhoAmI lists the names).
  absl::StatusOr<WriteResult> WriteStream(const std::string& path,
                                          const ChunkSource& source,
                                          uint64_t total_size,
                                          const WriteOptions& options = {});

  absl::StatusOr<FileStatus> Stat(const std::string& path);

  // Removes `path` durably; with `if_match`, only that version. Returns the
  // removed file's etag.
  absl::StatusOr<std::string> Remove(const std::string& path,
                                     const std::string& if_match = "");

  absl::StatusOr<CallerInfo> WhoAmI();

  // Publishes every member of `set` durably, or none: each target keeps
  // its old content unless all get their new one, even across a crash of
  // the daemon or a power cut. Members' content is streamed in chunks of
  // chunk_size. `on_progress`, if set, gets the content bytes sent so far
  // and the total. Errors name the member they concern; UNKNOWN means the
  // daemon committed the set but could not finish publishing it now (its
  // next start does).
  absl::StatusOr<std::vector<SetMemberResult>> WriteSet(
      const WriteSetBuilder& set, const ProgressCallback& on_progress = {});

  // The daemon's counters (root or the daemon's uid only).
  absl::StatusOr<DaemonStats> GetStats();

  const ClientOptions& options() const { return options_; }

 private:
  struct Stub;
  ClientOptions options_;
  std::unique_ptr<Stub> stub_;
};

}  // namespace durable

#endif  // DURABLE_CLIENT_H_
