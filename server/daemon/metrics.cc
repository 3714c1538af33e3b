#include "server/daemon/metrics.h"

#include "absl/time/clock.h"

namespace durable {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

}  // namespace

void Metrics::RecordCall(bool is_write, const absl::Status& status,
                         uint64_t bytes, absl::Duration latency) {
  if (status.ok()) {
    (is_write ? writes_ok_ : removes_ok_).fetch_add(1, kRelaxed);
    if (is_write) bytes_written_.fetch_add(bytes, kRelaxed);
  } else {
    (is_write ? writes_failed_ : removes_failed_).fetch_add(1, kRelaxed);
    int code = static_cast<int>(status.code());
    if (code >= 0 && code < kCodes)
      errors_by_code_[code].fetch_add(1, kRelaxed);
  }
  const int64_t us = absl::ToInt64Microseconds(latency);
  latency_sum_us_.fetch_add(us > 0 ? us : 0, kRelaxed);
  for (size_t i = 0; i < kLatencyBucketUpperUs.size(); ++i) {
    if (us < kLatencyBucketUpperUs[i] ||
        i + 1 == kLatencyBucketUpperUs.size()) {
      latency_[i].fetch_add(1, kRelaxed);
      break;
    }
  }
}

void Metrics::RecordSync(bool directory, bool ok) {
  (directory ? directory_syncs_ : file_syncs_).fetch_add(1, kRelaxed);
  if (!ok) sync_errors_.fetch_add(1, kRelaxed);
}

void Metrics::OnFilesystemSync(bool ok) {
  filesystem_syncs_.fetch_add(1, kRelaxed);
  if (!ok) sync_errors_.fetch_add(1, kRelaxed);
}

void Metrics::OnBatch(size_t targets, size_t superseded) {
  batches_.fetch_add(1, kRelaxed);
  batched_writes_.fetch_add(targets, kRelaxed);
  superseded_.fetch_add(superseded, kRelaxed);
}

void Metrics::RecordConnection(bool accepted) {
  (accepted ? connections_accepted_ : connections_refused_)
      .fetch_add(1, kRelaxed);
}

void Metrics::Fill(durable::v1::GetStatsResponse* out) const {
  out->set_uptime_seconds(absl::ToInt64Seconds(absl::Now() - start_));
  out->set_writes_ok(writes_ok_.load(kRelaxed));
  out->set_writes_failed(writes_failed_.load(kRelaxed));
  out->set_bytes_written(bytes_written_.load(kRelaxed));
  out->set_removes_ok(removes_ok_.load(kRelaxed));
  out->set_removes_failed(removes_failed_.load(kRelaxed));
  for (int code = 1; code < kCodes; ++code) {
    uint64_t n = errors_by_code_[code].load(kRelaxed);
    if (n == 0) continue;
    (*out->mutable_errors_by_code())[absl::StatusCodeToString(
        static_cast<absl::StatusCode>(code))] = n;
  }
  out->set_file_syncs(file_syncs_.load(kRelaxed));
  out->set_directory_syncs(directory_syncs_.load(kRelaxed));
  out->set_sync_errors(sync_errors_.load(kRelaxed));
  out->set_filesystem_syncs(filesystem_syncs_.load(kRelaxed));
  out->set_commits(batches_.load(kRelaxed));
  out->set_batched_writes(batched_writes_.load(kRelaxed));
  out->set_coalesced_writes(superseded_.load(kRelaxed));
  for (size_t i = 0; i < kLatencyBucketUpperUs.size(); ++i) {
    out->add_latency_bucket_upper_us(kLatencyBucketUpperUs[i]);
    out->add_latency_bucket_count(latency_[i].load(kRelaxed));
  }
  out->set_latency_sum_us(latency_sum_us_.load(kRelaxed));
  out->set_connections_accepted(connections_accepted_.load(kRelaxed));
  out->set_connections_refused(connections_refused_.load(kRelaxed));
}

}  // namespace durable
