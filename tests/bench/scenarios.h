// The six scenarios of issue 12, each run against its in-process baseline
// (see write_bench.cc for what each one measures).
#ifndef DURABLED_TESTS_BENCH_SCENARIOS_H_
#define DURABLED_TESTS_BENCH_SCENARIOS_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tests/bench/daemon_process.h"
#include "tests/bench/report.h"

namespace durable::bench {

inline constexpr int kScenarioCount = 6;

struct BenchOptions {
  std::set<int> scenarios = {1, 2, 3, 4, 5, 6};
  absl::Duration side_duration = absl::Seconds(3);
  uint64_t stream_mib = 1024;
  std::vector<int> directory_sizes = {10, 10000, 100000};
  int daemon_starts = 10;
  int one_shot_runs = 30;
  std::vector<std::string> daemon_flags;
  std::string scratch_parent = "/tmp";
  bool keep_scratch = false;
};

// The scratch tree: <base>/data is the daemon's root, <base>/baseline the
// in-process writers'; each scenario makes its own directory in both.
struct Scratch {
  std::string base;
  std::string data() const { return base + "/data"; }
  std::string baseline() const { return base + "/baseline"; }
  DaemonSetup MainDaemon(const BenchOptions& options) const;
  // For the start-up measurements: own root, socket, config and log.
  DaemonSetup StartupDaemon(const BenchOptions& options) const;
};

struct BenchEnvironment {
  const BenchOptions& options;
  const Scratch& scratch;
  const DaemonProcess& daemon;
};

// Runs scenario `number` (1..kScenarioCount); one report per table block.
std::vector<ScenarioReport> RunScenario(int number,
                                        const BenchEnvironment& environment);

}  // namespace durable::bench

#endif  // DURABLED_TESTS_BENCH_SCENARIOS_H_
