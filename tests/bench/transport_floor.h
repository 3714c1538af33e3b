// The transport floor of scenario 1: what any gRPC-based daemon pays on this
// machine for one 4 KiB write before it does any work of its own. An
// in-process grpc::Server with DurableWriter's generated async service
// listens on a Unix socket; its one polling thread takes each Write off the
// completion queue, runs the benchmark's own cycle (ReplaceDurably) inline
// into one directory and answers: no policy, no peer credentials, no queue,
// no hand-off to another thread. One client writes through the plain
// generated sync stub on one channel, measured by MeasureWorkers like every
// other side. Its p50 over the in-process cycle's is what gRPC's round trip
// and the wake-ups around it cost here (by hand, on a paravirtualised 2-core
// VM: 1.17-1.56x), so no gRPC server can get a 1-writer daemon/cycle ratio
// below it; the daemon's p50 over this side's is the daemon's own overhead.
// Like every side it runs on its own, after the daemon's, so the storage's
// latency drifting between sides moves its ratios as much as theirs.
#ifndef DURABLED_TESTS_BENCH_TRANSPORT_FLOOR_H_
#define DURABLED_TESTS_BENCH_TRANSPORT_FLOOR_H_

#include <string>

#include "absl/time/time.h"
#include "tests/bench/measurement.h"

namespace durable::bench {

inline constexpr char kTransportFloorSide[] =
    "ideal gRPC server (async CQ, cycle inline)";

struct TransportFloorSetup {
  std::string socket_path;  // created by the server, in the scratch tree
  std::string dir;          // where the server writes; must exist
  absl::Duration duration;
};

// Starts the server, lets one client rewrite one target through it for
// `setup.duration` (after one untimed write), then stops the server (Shutdown,
// then the completion queue's, drained, the polling thread joined). A setup
// failure is the measurement's error. Server and client are both this
// process, so all their CPU is in the client column; there is no daemon part.
Measurement MeasureTransportFloor(const TransportFloorSetup& setup);

}  // namespace durable::bench

#endif  // DURABLED_TESTS_BENCH_TRANSPORT_FLOOR_H_
