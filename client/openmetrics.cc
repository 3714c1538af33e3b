#include "openmetrics.h"

#include <cstdint>
#include <initializer_list>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace durable::cli {
namespace {

constexpr absl::string_view kPrefix = "durabled_";

// Appends one metric family's metadata lines.
void Family(std::string* out, absl::string_view name, absl::string_view type,
            absl::string_view help, absl::string_view unit = "") {
  absl::StrAppend(out, "# TYPE ", kPrefix, name, " ", type, "\n");
  if (!unit.empty())
    absl::StrAppend(out, "# UNIT ", kPrefix, name, " ", unit, "\n");
  absl::StrAppend(out, "# HELP ", kPrefix, name, " ", help, "\n");
}

// A label value, escaped as OpenMetrics wants (backslash, quote, newline).
std::string LabelValue(absl::string_view value) {
  std::string escaped;
  for (char c : value) {
    if (c == '\\' || c == '"') escaped += '\\';
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped += c;
  }
  return escaped;
}

void Sample(std::string* out, absl::string_view name, absl::string_view labels,
            absl::string_view value) {
  absl::StrAppend(out, kPrefix, name, labels.empty() ? "" : "{", labels,
                  labels.empty() ? "" : "}", " ", value, "\n");
}

void Counter(std::string* out, absl::string_view name, absl::string_view help,
             uint64_t value, absl::string_view unit = "") {
  Family(out, name, "counter", help, unit);
  Sample(out, absl::StrCat(name, "_total"), "", absl::StrCat(value));
}

// A counter with one label and a sample per value of it.
void LabelledCounter(
    std::string* out, absl::string_view name, absl::string_view help,
    absl::string_view label,
    std::initializer_list<std::pair<absl::string_view, uint64_t>> samples) {
  Family(out, name, "counter", help);
  for (const auto& [value, count] : samples) {
    Sample(out, absl::StrCat(name, "_total"),
           absl::StrCat(label, "=\"", LabelValue(value), "\""),
           absl::StrCat(count));
  }
}

}  // namespace

std::string FormatOpenMetrics(const DaemonStats& stats) {
  std::string out;
  Family(&out, "uptime_seconds", "gauge", "Seconds since the daemon started.",
         "seconds");
  Sample(&out, "uptime_seconds", "",
         absl::StrCat(absl::ToInt64Seconds(stats.uptime)));
  Family(&out, "writes_in_progress", "gauge", "Writes in progress now.");
  Sample(&out, "writes_in_progress", "",
         absl::StrCat(stats.writes_in_progress));

  LabelledCounter(&out, "writes", "Completed Write and WriteStream calls.",
                  "outcome",
                  {{"ok", stats.writes_ok}, {"failed", stats.writes_failed}});
  LabelledCounter(&out, "removes", "Completed Remove calls.", "outcome",
                  {{"ok", stats.removes_ok}, {"failed", stats.removes_failed}});
  Family(&out, "errors", "counter",
         "Failed writes and removes by gRPC status code.");
  for (const auto& [code, count] : stats.errors_by_code) {
    Sample(&out, "errors_total",
           absl::StrCat("code=\"", LabelValue(code), "\""),
           absl::StrCat(count));
  }
  Counter(&out, "written_bytes", "Bytes published by successful writes.",
          stats.bytes_written, "bytes");
  LabelledCounter(&out, "syncs",
                  "fsync calls on files and directories, and syncfs calls "
                  "that flushed a batch's data.",
                  "kind",
                  {{"file", stats.file_syncs},
                   {"directory", stats.directory_syncs},
                   {"filesystem", stats.filesystem_syncs}});
  Counter(&out, "sync_errors", "fsync and syncfs calls that failed.",
          stats.sync_errors);
  Counter(&out, "commits", "Batches the commit queue committed.",
          stats.commits);
  Counter(&out, "batched_writes", "Writes committed in batches.",
          stats.batched_writes);
  Counter(&out, "coalesced_writes",
          "Writes answered as superseded by a newer write of their target.",
          stats.coalesced_writes);
  LabelledCounter(&out, "connections", "Connections accepted and refused.",
                  "outcome",
                  {{"accepted", stats.connections_accepted},
                   {"refused", stats.connections_refused}});

  Family(&out, "call_latency_seconds", "histogram",
         "Latency of completed writes and removes.", "seconds");
  uint64_t cumulative = 0;
  for (const LatencyBucket& bucket : stats.latency) {
    cumulative += bucket.count;
    const std::string bound =
        bucket.upper_bound_us == kUnboundedLatencyUs
            ? "+Inf"
            : absl::StrFormat("%g", bucket.upper_bound_us / 1e6);
    Sample(&out, "call_latency_seconds_bucket",
           absl::StrCat("le=\"", bound, "\""), absl::StrCat(cumulative));
  }
  if (stats.latency.empty() ||
      stats.latency.back().upper_bound_us != kUnboundedLatencyUs) {
    Sample(&out, "call_latency_seconds_bucket", "le=\"+Inf\"",
           absl::StrCat(cumulative));
  }
  Sample(&out, "call_latency_seconds_count", "", absl::StrCat(cumulative));
  Sample(&out, "call_latency_seconds_sum", "",
         absl::StrFormat("%.6f", absl::ToDoubleSeconds(stats.latency_sum)));
  out += "# EOF\n";
  return out;
}

}  // namespace durable::cli
