// The daemon's memory stays bounded while a large file is streamed: a 1 GiB
// WriteStream must not raise durabled's peak RSS (VmHWM) by more than
// 32 MiB over its idle RSS.
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "server/sha256.h"
#include "tests/support/test_daemon.h"

namespace durable::testing {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kAllowedGrowth = 32 * kMiB;

// A field of /proc/<pid>/status in bytes (the file gives kB), or -1.
int64_t ProcStatusBytes(pid_t pid, const std::string& field) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, field + ":")) continue;
    rest = absl::StripAsciiWhitespace(rest);
    if (!absl::ConsumeSuffix(&rest, "kB")) return -1;
    int64_t kib = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &kib)) return -1;
    return kib * 1024;
  }
  return -1;
}

std::string InMiB(int64_t bytes) {
  return absl::StrFormat("%.1f MiB", static_cast<double>(bytes) / kMiB);
}

// Deterministic content produced chunk by chunk and digested on the way;
// never held as a whole.
class PatternContent {
 public:
  explicit PatternContent(uint64_t total) : total_(total) {}

  size_t Fill(char* buffer, size_t capacity) {
    const size_t n =
        static_cast<size_t>(std::min<uint64_t>(capacity, total_ - offset_));
    for (size_t i = 0; i < n;) {
      const uint64_t position = offset_ + i;
      const uint64_t word = Mix(position / 8);
      const size_t in_word = position % 8;
      const size_t take = std::min<size_t>(8 - in_word, n - i);
      memcpy(buffer + i, reinterpret_cast<const char*>(&word) + in_word, take);
      i += take;
    }
    hasher_.Update(absl::string_view(buffer, n));
    offset_ += n;
    return n;
  }

  ChunkSource Source() {
    return [this](char* buffer, size_t capacity) -> absl::StatusOr<size_t> {
      return Fill(buffer, capacity);
    };
  }

  uint64_t produced() const { return offset_; }
  std::string Digest() { return hasher_.Finish(); }

 private:
  static uint64_t Mix(uint64_t x) {  // splitmix64
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }

  const uint64_t total_;
  uint64_t offset_ = 0;
  Sha256 hasher_;
};

TEST(MemoryTest, StreamingOneGiBKeepsPeakRssWithin32MiBOfIdle) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "RSS is not meaningful under AddressSanitizer: its "
                  "quarantine keeps freed buffers resident";
#endif
  struct statvfs fs;
  ASSERT_EQ(statvfs("/tmp", &fs), 0);
  const uint64_t available = uint64_t{fs.f_bavail} * fs.f_frsize;
  if (available < 3 * kGiB) {
    GTEST_SKIP() << "needs 3 GiB free in /tmp for a 1 GiB file, has "
                 << InMiB(static_cast<int64_t>(available));
  }

  auto daemon = TestDaemon::Start(
      "socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
      "rule { root: \"{base}/data\" allow_uid: {uid} "
      "max_file_size: 2147483648 }\n");
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  std::unique_ptr<Client> client = (*daemon)->NewClient();
  const pid_t pid = (*daemon)->pid();

  // Warm up both write paths, so that what gRPC and the daemon set up
  // lazily on first use counts as idle.
  ASSERT_TRUE(client->Write((*daemon)->data() + "/warm", "warm up").ok());
  PatternContent small(256 * 1024);
  ASSERT_TRUE(
      client->WriteStream((*daemon)->data() + "/warm", small.Source(), 0).ok());

  const int64_t idle_rss = ProcStatusBytes(pid, "VmRSS");
  const int64_t hwm_before = ProcStatusBytes(pid, "VmHWM");
  ASSERT_GT(idle_rss, 0);
  ASSERT_GT(hwm_before, 0);

  const std::string path = (*daemon)->data() + "/one_gib.bin";
  PatternContent content(kGiB);
  auto result = client->WriteStream(path, content.Source(), kGiB);
  const int64_t peak = ProcStatusBytes(pid, "VmHWM");
  const int64_t rss_after = ProcStatusBytes(pid, "VmRSS");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->size, kGiB);
  EXPECT_EQ(result->sha256, content.Digest());
  ASSERT_GT(peak, 0);

  const int64_t growth = peak - idle_rss;
  std::cout << "peak RSS growth: " << InMiB(growth) << " over idle "
            << InMiB(idle_rss) << " (VmHWM " << InMiB(hwm_before)
            << " before the stream, " << InMiB(peak) << " after; VmRSS "
            << InMiB(rss_after) << " after)" << std::endl;
  EXPECT_LE(growth, static_cast<int64_t>(kAllowedGrowth))
      << "durabled's peak RSS grew by " << InMiB(growth)
      << " while streaming 1 GiB";

  EXPECT_EQ(unlink(path.c_str()), 0);
}

}  // namespace
}  // namespace durable::testing
