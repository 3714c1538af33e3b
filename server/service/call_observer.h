#ifndef DURABLED_SERVER_SERVICE_CALL_OBSERVER_H_
#define DURABLED_SERVER_SERVICE_CALL_OBSERVER_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "durable/v1/durable.pb.h"
#include "server/base/peer_credentials.h"

namespace durable {

// One finished write-like call, as the service saw it.
struct FinishedCall {
  // "write", "write_stream", "remove", "write_set"
  absl::string_view operation;
  const PeerCredentials& caller;
  absl::string_view path;  // as the caller sent it, unescaped
  uint64_t bytes = 0;
  const absl::Status& status;
  absl::Duration latency;
  // A set's members' paths (`path` is the first).
  absl::Span<const std::string> members = {};
};

// Where the service reports what it did: the daemon implements it with its
// audit log and metrics, so the service depends on neither. Called from
// any thread; must not block.
class CallObserver {
 public:
  virtual ~CallObserver() = default;

  virtual void OnCallFinished(const FinishedCall& call) = 0;

  // The counters for GetStats (writes_in_progress is the service's).
  virtual void FillStats(durable::v1::GetStatsResponse* out) const = 0;
};

}  // namespace durable

#endif  // DURABLED_SERVER_SERVICE_CALL_OBSERVER_H_
