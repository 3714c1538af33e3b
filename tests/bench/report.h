// The benchmark's output: one table of every scenario's sides, the notes
// and correctness checks, and the thresholds with PASS/MISS.
#ifndef DURABLED_TESTS_BENCH_REPORT_H_
#define DURABLED_TESTS_BENCH_REPORT_H_

#include <string>
#include <vector>

#include "tests/bench/measurement.h"

namespace durable::bench {

// One of issue 12's "Done when" figures. Informational: a MISS does not
// fail the benchmark.
struct Threshold {
  enum class Goal { kAtMost, kAtLeast };
  std::string what;  // "1 writer: daemon p50 / in-process p50"
  double measured = 0;
  Goal goal = Goal::kAtMost;
  double limit = 0;
  std::string unit;  // "x", " ms", " MiB"

  bool Met() const;
};

struct ScenarioReport {
  std::string title;
  // sides[0] is the baseline the ratio columns of the others are against.
  std::vector<Measurement> sides;
  std::vector<std::string> notes;
  std::vector<Threshold> thresholds;
  // Beyond the sides' own errors (a failed check, a setup error): any of
  // them fails the benchmark.
  std::vector<std::string> failures;
};

// `numerator` / `denominator`, 0 if the denominator is.
double Ratio(double numerator, double denominator);

void PrintTable(const std::vector<ScenarioReport>& reports);
void PrintThresholds(const std::vector<ScenarioReport>& reports);
// Prints every failure to stderr; returns how many there were.
int PrintFailures(const std::vector<ScenarioReport>& reports);

}  // namespace durable::bench

#endif  // DURABLED_TESTS_BENCH_REPORT_H_
