#include "server/daemon/audit_log.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/base/logging.h"

namespace durable {
namespace {

// ` unit="agent@7.service" cgroup="/system.slice/agent@7.service"`, or
// ` cgroup=unknown` for a caller identified by uid and gids only. Both
// values are escaped: a caller with a delegated cgroup subtree names its
// own cgroups.
std::string CgroupFields(const PeerCredentials& caller) {
  if (!caller.cgroup_known) return " cgroup=unknown";
  return absl::StrCat(" unit=\"", EscapeName(caller.unit), "\" cgroup=\"",
                      DisplayPath(caller.cgroup), "\"");
}

}  // namespace

std::string FormatAuditRecord(const AuditRecord& record) {
  std::string line = absl::StrFormat(
      "audit op=%s uid=%d gid=%d pid=%d%s path=\"%s\" bytes=%d result=%s "
      "latency_us=%d",
      record.operation, record.caller.uid, record.caller.gid, record.caller.pid,
      CgroupFields(record.caller), DisplayPath(record.path), record.bytes,
      absl::StatusCodeToString(record.result.code()),
      absl::ToInt64Microseconds(record.latency));
  if (!record.members.empty()) {
    absl::StrAppend(&line, " members=", record.members.size(),
                    " member_paths=[");
    for (size_t i = 0; i < record.members.size(); ++i) {
      absl::StrAppend(&line, i == 0 ? "\"" : ",\"",
                      DisplayPath(record.members[i]), "\"");
    }
    absl::StrAppend(&line, "]");
  }
  if (!record.result.ok()) {
    absl::StrAppend(&line, " reason=\"", absl::CEscape(record.result.message()),
                    "\"");
  }
  return line;
}

void EmitAuditRecord(const AuditRecord& record) {
  Log(record.result.ok() ? LogPriority::kNotice : LogPriority::kWarning,
      FormatAuditRecord(record));
}

}  // namespace durable
