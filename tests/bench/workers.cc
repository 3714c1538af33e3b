#include "tests/bench/workers.h"

#include <errno.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/bench/bench_util.h"
#include "tests/bench/replace_cycle.h"

namespace durable::bench {
namespace {

// Performs one write of `content`; returns whether the answer said
// superseded.
using WriteOnce = std::function<absl::StatusOr<bool>(std::string_view)>;

// A step writing the next content of `content` with `write` and, if `log`
// is not null, logging it once acknowledged.
WriteStep LoggedStep(std::shared_ptr<StampedContent> content,
                     std::vector<Ack>* log, WriteOnce write) {
  return [content, log, write]() -> absl::StatusOr<int> {
    const std::string_view data = content->Next();
    const absl::Time sent = absl::Now();
    const absl::StatusOr<bool> superseded = write(data);
    if (!superseded.ok()) return superseded.status();
    if (log != nullptr) {
      log->push_back({content->sequence(), sent, absl::Now(), *superseded});
    }
    return 1;
  };
}

std::vector<Ack>* LogOf(AckLog* acks, int worker) {
  return acks == nullptr ? nullptr : &(*acks)[worker];
}

absl::StatusOr<std::shared_ptr<ScopedFd>> SharedDirectory(
    const std::string& dir) {
  auto fd = std::make_shared<ScopedFd>(OpenDirectory(dir));
  if (fd->get() < 0) return ErrnoStatus(absl::StrCat("open ", dir), errno);
  return fd;
}

std::string Describe(const Stamp& stamp) {
  return absl::StrCat("writer ", stamp.writer, " seq ", stamp.sequence);
}

}  // namespace

std::string PatternBytes(size_t size) {
  std::string data(size, '\0');
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (char& byte : data) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    byte = static_cast<char>(x);
  }
  return data;
}

StampedContent::StampedContent(int writer)
    : writer_(writer), buffer_(PatternBytes(kSmallWriteBytes)) {}

std::string_view StampedContent::Next() {
  ++sequence_;
  const std::string stamp =
      absl::StrFormat("writer %03d seq %012d\n", writer_, sequence_);
  memcpy(buffer_.data(), stamp.data(), stamp.size());
  return buffer_;
}

std::optional<Stamp> ReadStamp(absl::string_view content) {
  Stamp stamp;
  const std::string first_line(content.substr(0, content.find('\n')));
  if (std::sscanf(first_line.c_str(), "writer %d seq %" SCNd64, &stamp.writer,
                  &stamp.sequence) != 2) {
    return std::nullopt;
  }
  return stamp;
}

std::string TargetLayout::Leaf(int worker) const {
  return shared_target ? "target" : absl::StrCat("target-", worker);
}

std::string TargetLayout::Temp(int worker) const {
  return absl::StrCat(".", Leaf(worker), ".tmp-", worker);
}

WorkerFactory CycleWorkers(const TargetLayout& layout, std::mutex* turns,
                           AckLog* acks) {
  return [layout, turns, acks](int worker) -> absl::StatusOr<WriteStep> {
    absl::StatusOr<std::shared_ptr<ScopedFd>> dir = SharedDirectory(layout.dir);
    if (!dir.ok()) return dir.status();
    const std::string leaf = layout.Leaf(worker);
    const std::string temp = layout.Temp(worker);
    return LoggedStep(
        std::make_shared<StampedContent>(worker), LogOf(acks, worker),
        [dir = *dir, leaf, temp,
         turns](std::string_view data) -> absl::StatusOr<bool> {
          std::unique_lock<std::mutex> turn;
          if (turns != nullptr) turn = std::unique_lock<std::mutex>(*turns);
          absl::Status status =
              CycleStatus(ReplaceDurably(dir->get(), leaf, temp, data));
          if (!status.ok()) return status;
          return false;
        });
  };
}

WorkerFactory DaemonWorkers(const TargetLayout& layout,
                            const ClientOptions& options, AckLog* acks) {
  return [layout, options, acks](int worker) -> absl::StatusOr<WriteStep> {
    auto client = std::make_shared<Client>(options);
    const std::string path = absl::StrCat(layout.dir, "/", layout.Leaf(worker));
    return LoggedStep(
        std::make_shared<StampedContent>(worker), LogOf(acks, worker),
        [client, path](std::string_view data) -> absl::StatusOr<bool> {
          const absl::StatusOr<WriteResult> result =
              client->Write(path, absl::string_view(data.data(), data.size()));
          if (!result.ok()) return result.status();
          if (result->size != data.size()) {
            return absl::DataLossError(absl::StrCat(
                "daemon wrote ", result->size, " bytes, not ", data.size()));
          }
          return result->superseded;
        });
  };
}

WorkerFactory BatchedWorker(const std::string& dir, int batch_size) {
  return [dir, batch_size](int) -> absl::StatusOr<WriteStep> {
    absl::StatusOr<std::shared_ptr<ScopedFd>> dir_fd = SharedDirectory(dir);
    if (!dir_fd.ok()) return dir_fd.status();
    auto contents = std::make_shared<std::vector<StampedContent>>();
    for (int i = 0; i < batch_size; ++i) contents->emplace_back(i);
    const TargetLayout layout{dir, /*shared_target=*/false};
    return [dir_fd = *dir_fd, contents, layout]() -> absl::StatusOr<int> {
      std::vector<BatchEntry> batch;
      for (int i = 0; i < static_cast<int>(contents->size()); ++i) {
        batch.push_back(
            {layout.Leaf(i), layout.Temp(i), (*contents)[i].Next()});
      }
      absl::Status status =
          CycleStatus(ReplaceBatchDurably(dir_fd->get(), batch));
      if (!status.ok()) return status;
      return static_cast<int>(batch.size());
    };
  };
}

absl::StatusOr<Stamp> CheckLastWriteWins(const std::string& path,
                                         const AckLog& acks) {
  const absl::StatusOr<std::string> content = ReadWholeFile(path);
  if (!content.ok()) return content.status();
  const std::optional<Stamp> stamp = ReadStamp(*content);
  if (!stamp.has_value() || stamp->writer < 0 ||
      stamp->writer >= static_cast<int>(acks.size())) {
    return absl::DataLossError(path + " holds no writer's content");
  }
  const std::vector<Ack>& own = acks[stamp->writer];
  if (own.empty() || own.back().sequence != stamp->sequence) {
    return absl::DataLossError(
        absl::StrCat(path, " holds ", Describe(*stamp),
                     ", not that writer's last acknowledged write (seq ",
                     own.empty() ? -1 : own.back().sequence, ")"));
  }
  const absl::Time published = own.back().acknowledged;
  for (size_t writer = 0; writer < acks.size(); ++writer) {
    if (!acks[writer].empty() && acks[writer].back().sent > published) {
      return absl::DataLossError(absl::StrCat(
          path, " holds ", Describe(*stamp), " but writer ", writer, " seq ",
          acks[writer].back().sequence,
          " was sent after that was acknowledged, and acknowledged too"));
    }
  }
  return *stamp;
}

int64_t CountSuperseded(const AckLog& acks) {
  int64_t superseded = 0;
  for (const std::vector<Ack>& own : acks) {
    for (const Ack& ack : own) superseded += ack.superseded ? 1 : 0;
  }
  return superseded;
}

int64_t CountAcknowledged(const AckLog& acks) {
  int64_t acknowledged = 0;
  for (const std::vector<Ack>& own : acks) acknowledged += own.size();
  return acknowledged;
}

}  // namespace durable::bench
