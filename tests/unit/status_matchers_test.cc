#include "tests/support/status_matchers.h"

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace durable::test {
namespace {

using testing::HasSubstr;
using testing::Not;

TEST(StatusMatchersTest, IsOkMatchesOnlyOk) {
  EXPECT_THAT(absl::OkStatus(), IsOk());
  EXPECT_THAT(absl::StatusOr<int>(7), IsOk());
  EXPECT_THAT(absl::NotFoundError("gone"), Not(IsOk()));
  EXPECT_THAT(absl::StatusOr<int>(absl::InternalError("x")), Not(IsOk()));
}

TEST(StatusMatchersTest, StatusIsComparesTheCode) {
  EXPECT_THAT(absl::NotFoundError("gone"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(absl::StatusOr<int>(absl::AbortedError("a")),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(absl::NotFoundError("gone"),
              Not(StatusIs(absl::StatusCode::kInternal)));
  EXPECT_THAT(absl::StatusOr<int>(1), StatusIs(absl::StatusCode::kOk));
}

TEST(StatusMatchersTest, StatusIsAlsoMatchesTheMessage) {
  const absl::Status status = absl::InvalidArgumentError("name too long");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("too long")));
  EXPECT_THAT(status, Not(StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("too short"))));
  EXPECT_THAT(status, Not(StatusIs(absl::StatusCode::kNotFound,
                                   HasSubstr("too long"))));
  EXPECT_THAT(status,
              StatusIs(absl::StatusCode::kInvalidArgument, "name too long"));
}

TEST(StatusMatchersTest, MismatchExplainsWithTheWholeStatus) {
  testing::StringMatchResultListener listener;
  EXPECT_FALSE(testing::ExplainMatchResult(
      IsOk(), absl::PermissionDeniedError("not yours"), &listener));
  EXPECT_THAT(listener.str(), HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(listener.str(), HasSubstr("not yours"));
  EXPECT_THAT(testing::DescribeMatcher<absl::Status>(
                  StatusIs(absl::StatusCode::kNotFound, HasSubstr("x"))),
              HasSubstr("NOT_FOUND"));
}

}  // namespace
}  // namespace durable::test
