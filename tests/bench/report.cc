#include "tests/bench/report.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace durable::bench {
namespace {

double Milliseconds(absl::Duration duration) {
  return absl::ToDoubleMilliseconds(duration);
}

double Microseconds(double seconds) { return seconds * 1e6; }

// The side column is at least this wide, wider for a longer side name.
constexpr int kMinSideWidth = 36;

int SideWidth(const std::vector<ScenarioReport>& reports) {
  size_t width = kMinSideWidth;
  for (const ScenarioReport& report : reports) {
    for (const Measurement& side : report.sides) {
      width = std::max(width, side.side.size());
    }
  }
  return static_cast<int>(width);
}

void PrintHeader(int side_width) {
  std::printf("%-*s %10s %9s %9s %9s %24s %6s %6s %6s %6s\n", side_width + 2,
              "scenario / side", "writes/s", "MiB/s", "p50 ms", "p99 ms",
              "CPU us/write (c+d)", "x thr", "x p50", "x p99", "x CPU");
}

std::string CpuColumn(const Measurement& side) {
  const double writes = side.writes > 0 ? static_cast<double>(side.writes) : 1;
  return absl::StrFormat("%.0f (%.0f+%.0f)",
                         Microseconds(side.CpuSecondsPerWrite()),
                         Microseconds(side.client_cpu_seconds / writes),
                         Microseconds(side.daemon_cpu_seconds / writes));
}

// Daemon/baseline ratios of throughput, p50, p99 and CPU per write.
std::string RatioColumns(const Measurement& side, const Measurement& baseline) {
  return absl::StrFormat(
      " %6.2f %6.2f %6.2f %6.2f",
      Ratio(side.WritesPerSecond(), baseline.WritesPerSecond()),
      Ratio(Milliseconds(side.Percentile(0.5)),
            Milliseconds(baseline.Percentile(0.5))),
      Ratio(Milliseconds(side.Percentile(0.99)),
            Milliseconds(baseline.Percentile(0.99))),
      Ratio(side.CpuSecondsPerWrite(), baseline.CpuSecondsPerWrite()));
}

void PrintSide(int side_width, const Measurement& side,
               const Measurement* baseline) {
  std::printf("  %-*s %10.1f %9.2f %9.3f %9.3f %24s%s%s\n", side_width,
              side.side.c_str(), side.WritesPerSecond(), side.MiBPerSecond(),
              Milliseconds(side.Percentile(0.5)),
              Milliseconds(side.Percentile(0.99)), CpuColumn(side).c_str(),
              baseline == nullptr ? "" : RatioColumns(side, *baseline).c_str(),
              side.errors.empty() ? "" : "  FAILED");
}

}  // namespace

bool Threshold::Met() const {
  return goal == Goal::kAtMost ? measured <= limit : measured >= limit;
}

double Ratio(double numerator, double denominator) {
  return denominator != 0 ? numerator / denominator : 0;
}

void PrintTable(const std::vector<ScenarioReport>& reports) {
  std::printf("\n");
  const int side_width = SideWidth(reports);
  PrintHeader(side_width);
  for (const ScenarioReport& report : reports) {
    std::printf("%s\n", report.title.c_str());
    for (size_t i = 0; i < report.sides.size(); ++i) {
      PrintSide(side_width, report.sides[i],
                i == 0 ? nullptr : &report.sides[0]);
    }
    for (const std::string& note : report.notes) {
      std::printf("  - %s\n", note.c_str());
    }
  }
  std::fflush(stdout);
}

void PrintThresholds(const std::vector<ScenarioReport>& reports) {
  std::printf(
      "\nIssue 12 \"Done when\" thresholds (informational: a MISS does not "
      "fail the run)\n");
  for (const ScenarioReport& report : reports) {
    for (const Threshold& threshold : report.thresholds) {
      std::printf("  %-4s %-62s %9.2f%-4s (goal %s %g%s)\n",
                  threshold.Met() ? "PASS" : "MISS", threshold.what.c_str(),
                  threshold.measured, threshold.unit.c_str(),
                  threshold.goal == Threshold::Goal::kAtMost ? "<=" : ">=",
                  threshold.limit, threshold.unit.c_str());
    }
  }
  std::fflush(stdout);
}

int PrintFailures(const std::vector<ScenarioReport>& reports) {
  int failures = 0;
  for (const ScenarioReport& report : reports) {
    for (const std::string& failure : report.failures) {
      std::fprintf(stderr, "durable_bench: FAILED %s: %s\n",
                   report.title.c_str(), failure.c_str());
      ++failures;
    }
    for (const Measurement& side : report.sides) {
      for (const std::string& error : side.errors) {
        std::fprintf(stderr, "durable_bench: FAILED %s, %s: %s\n",
                     report.title.c_str(), side.side.c_str(), error.c_str());
        ++failures;
      }
    }
  }
  return failures;
}

}  // namespace durable::bench
