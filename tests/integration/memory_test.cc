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
#include "server/engine/sha256.h"
#include "tests/support/pattern_content.h"
#include "tests/support/test_daemon.h"

namespace durable::test {
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
}  // namespace durable::test
