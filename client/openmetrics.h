#ifndef DURABLED_CLIENT_OPENMETRICS_H_
#define DURABLED_CLIENT_OPENMETRICS_H_

#include <string>

#include "durable/client.h"

namespace durable::cli {

// The daemon's counters in the OpenMetrics 1.0 text format (`durablectl
// stats --openmetrics`), for node_exporter's textfile collector or any
// Prometheus-compatible scraper. Families (all prefixed durabled_):
//   uptime_seconds (gauge), writes_in_progress (gauge),
//   writes{outcome}, removes{outcome}, errors{code}, written_bytes,
//   syncs{kind=file|directory|filesystem}, sync_errors, commits,
//   batched_writes, coalesced_writes, connections{outcome} (counters, whose
//   samples end in _total), call_latency_seconds (histogram of completed
//   writes and removes, with _count and _sum). Ends with "# EOF".
std::string FormatOpenMetrics(const DaemonStats& stats);

}  // namespace durable::cli

#endif  // DURABLED_CLIENT_OPENMETRICS_H_
