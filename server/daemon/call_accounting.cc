#include "server/daemon/call_accounting.h"

#include "server/daemon/audit_log.h"

namespace durable {

void CallAccounting::OnCallFinished(const FinishedCall& call) {
  EmitAuditRecord(AuditRecord{call.operation, call.caller, call.path,
                              call.bytes, call.status, call.latency,
                              call.members});
  metrics_->RecordCall(call.operation != "remove", call.status, call.bytes,
                       call.latency);
}

void CallAccounting::FillStats(durable::v1::GetStatsResponse* out) const {
  metrics_->Fill(out);
}

}  // namespace durable
