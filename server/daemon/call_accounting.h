#ifndef DURABLED_SERVER_DAEMON_CALL_ACCOUNTING_H_
#define DURABLED_SERVER_DAEMON_CALL_ACCOUNTING_H_

#include "server/daemon/metrics.h"
#include "server/service/call_observer.h"

namespace durable {

// The daemon's CallObserver: one audit record and one metrics update per
// finished call; GetStats reads the metrics.
class CallAccounting final : public CallObserver {
 public:
  explicit CallAccounting(Metrics* metrics) : metrics_(metrics) {}

  void OnCallFinished(const FinishedCall& call) override;
  void FillStats(durable::v1::GetStatsResponse* out) const override;

 private:
  Metrics* const metrics_;
};

}  // namespace durable

#endif  // DURABLED_SERVER_DAEMON_CALL_ACCOUNTING_H_
