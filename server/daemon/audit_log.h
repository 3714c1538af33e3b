#ifndef DURABLED_SERVER_DAEMON_AUDIT_LOG_H_
#define DURABLED_SERVER_DAEMON_AUDIT_LOG_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/base/peer_credentials.h"

namespace durable {

// One record per write-like call: who, what, how much, how it ended.
struct AuditRecord {
  absl::string_view operation;  // "write", ...
  PeerCredentials caller;
  absl::string_view path;
  uint64_t bytes = 0;
  absl::Status result;
  absl::Duration latency;
  // A set's members' paths, all named in the record.
  absl::Span<const std::string> members = {};
};

// Formats a record as one key=value line. The caller's unit and cgroup
// are named where they were read at accept (unit="..." cgroup="..."; the
// unit is "" if the cgroup names none), else the line says cgroup=unknown.
// A set's record adds members=N and every member's path as
// member_paths=["...","..."]. The paths, unit and cgroup are C-escaped and
// quoted so that no client-chosen byte can forge a line or a field.
std::string FormatAuditRecord(const AuditRecord& record);

// Logs the record (notice priority for success, warning for failure).
void EmitAuditRecord(const AuditRecord& record);

}  // namespace durable

#endif  // DURABLED_SERVER_DAEMON_AUDIT_LOG_H_
