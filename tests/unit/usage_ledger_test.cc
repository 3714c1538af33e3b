// The daemon's own quota accounting: counted from disk on first use, held
// while writes are in flight, settled by their outcome.
#include "server/engine/usage_ledger.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/engine/posix_file_system.h"
#include "tests/support/status_matchers.h"

namespace durable {
namespace {

using test::IsOk;
using test::StatusIs;
using testing::HasSubstr;

class UsageLedgerTest : public testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/usage-ledger.XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = templ;
    root_ = UniqueFd(open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_.valid());
  }
  void TearDown() override { ASSERT_EQ(system(("rm -rf " + dir_).c_str()), 0); }
  void Put(const std::string& relative, size_t bytes) {
    std::ofstream(dir_ + "/" + relative) << std::string(bytes, 'x');
  }

  std::string dir_;
  UniqueFd root_;
  PosixFileSystem fs_;
  UsageLedger ledger_{&fs_};
};

TEST_F(UsageLedgerTest, CountsRegularFilesAtAnyDepthButNotTempFiles) {
  Put("a", 10);
  ASSERT_EQ(mkdir((dir_ + "/d").c_str(), 0755), 0);
  Put("d/b", 20);
  Put(".durabled-tmp.leftover", 1000);
  ASSERT_EQ(symlink("/etc/passwd", (dir_ + "/link").c_str()), 0);
  absl::StatusOr<UsageLedger::Usage> usage = ledger_.UsageOf(root_.get());
  ASSERT_THAT(usage, IsOk());
  EXPECT_EQ(usage->bytes, 30u);
  EXPECT_EQ(usage->files, 2u);
}

TEST_F(UsageLedgerTest, RefusesPastEitherCapAndNamesIt) {
  Put("a", 60);
  const QuotaLimits limits{100, 2};
  absl::StatusOr<UsageLedger::Reservation> fits =
      ledger_.Reserve(root_.get(), limits, "state:", root_.get(), "b", 40);
  ASSERT_THAT(fits, IsOk());
  // 60 used + 40 held: one byte more is too many.
  absl::StatusOr<UsageLedger::Reservation> over =
      ledger_.Reserve(root_.get(), limits, "state:", root_.get(), "c", 0);
  EXPECT_THAT(over, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(std::string(over.status().message()),
              HasSubstr("2 files (max_files)"));
  fits->SettlePublished(40, /*created=*/true, 0);
  absl::StatusOr<UsageLedger::Reservation> bytes = ledger_.Reserve(
      root_.get(), QuotaLimits{100, 0}, "state:", root_.get(), "c", 1);
  EXPECT_THAT(bytes, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(std::string(bytes.status().message()),
              HasSubstr("quota of root state: is 100 bytes (max_bytes)"));
}

TEST_F(UsageLedgerTest, ReplacingCountsOnlyTheGrowth) {
  Put("a", 60);
  const QuotaLimits limits{100, 1};
  // Replacing a's 60 bytes by 90 needs 30 more, and no new file.
  absl::StatusOr<UsageLedger::Reservation> replace =
      ledger_.Reserve(root_.get(), limits, "r", root_.get(), "a", 90);
  ASSERT_THAT(replace, IsOk());
  replace->SettlePublished(90, /*created=*/false, 60);
  absl::StatusOr<UsageLedger::Usage> usage = ledger_.UsageOf(root_.get());
  ASSERT_THAT(usage, IsOk());
  EXPECT_EQ(usage->bytes, 90u);
  EXPECT_EQ(usage->files, 1u);
}

TEST_F(UsageLedgerTest, AnUnsettledReservationGivesItsRoomBack) {
  const QuotaLimits limits{10, 0};
  {
    absl::StatusOr<UsageLedger::Reservation> held =
        ledger_.Reserve(root_.get(), limits, "r", root_.get(), "a", 10);
    ASSERT_THAT(held, IsOk());
    EXPECT_THAT(ledger_.Reserve(root_.get(), limits, "r", root_.get(), "b", 1),
                StatusIs(absl::StatusCode::kResourceExhausted));
  }  // the write failed: nothing published
  EXPECT_THAT(ledger_.Reserve(root_.get(), limits, "r", root_.get(), "b", 10),
              IsOk());
}

TEST_F(UsageLedgerTest, StreamsGrowTheirReservationAndRemovalsFreeRoom) {
  Put("a", 50);
  const QuotaLimits limits{100, 0};
  absl::StatusOr<UsageLedger::Reservation> stream =
      ledger_.Reserve(root_.get(), limits, "r", root_.get(), "b", 0);
  ASSERT_THAT(stream, IsOk());
  EXPECT_THAT(stream->Grow(50), IsOk());
  EXPECT_THAT(stream->Grow(1), StatusIs(absl::StatusCode::kResourceExhausted));
  stream->SettlePublished(50, /*created=*/true, 0);
  ledger_.RecordRemoval(root_.get(), 50);
  absl::StatusOr<UsageLedger::Usage> usage = ledger_.UsageOf(root_.get());
  ASSERT_THAT(usage, IsOk());
  EXPECT_EQ(usage->bytes, 50u);
  EXPECT_EQ(usage->files, 1u);
}

TEST_F(UsageLedgerTest, AStreamReplacingAFileGrowsIntoTheOldSizeFirst) {
  Put("a", 80);
  absl::StatusOr<UsageLedger::Reservation> stream = ledger_.Reserve(
      root_.get(), QuotaLimits{100, 0}, "r", root_.get(), "a", 0);
  ASSERT_THAT(stream, IsOk());
  EXPECT_THAT(stream->Grow(80), IsOk());  // the old content's room
  EXPECT_THAT(stream->Grow(20), IsOk());
  EXPECT_THAT(stream->Grow(1), StatusIs(absl::StatusCode::kResourceExhausted));
}

}  // namespace
}  // namespace durable
