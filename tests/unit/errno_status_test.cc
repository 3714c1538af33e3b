#include "server/base/errno_status.h"

#include <errno.h>
#include <string.h>

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace durable {
namespace {

using testing::HasSubstr;

struct Case {
  const char* name;
  int error_number;
  absl::StatusCode code;
};

#define ERRNO_CASE(e, status_code) \
  Case { #e, e, absl::StatusCode::status_code }

class SyscallErrorTest : public testing::TestWithParam<Case> {};

TEST_P(SyscallErrorTest, CodeMessageAndErrno) {
  const Case& c = GetParam();
  absl::Status status = SyscallError(c.error_number, "fsync(.tmp.1)");
  EXPECT_EQ(status.code(), c.code) << strerror(c.error_number);
  EXPECT_THAT(std::string(status.message()), HasSubstr("fsync(.tmp.1): "));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr(strerror(c.error_number)));
  EXPECT_EQ(ErrnoOf(status), c.error_number);
}

INSTANTIATE_TEST_SUITE_P(
    Errnos, SyscallErrorTest,
    testing::Values(ERRNO_CASE(ENOENT, kNotFound),
                    ERRNO_CASE(ENOTDIR, kNotFound),
                    ERRNO_CASE(EACCES, kPermissionDenied),
                    ERRNO_CASE(EPERM, kPermissionDenied),
                    ERRNO_CASE(EROFS, kPermissionDenied),
                    ERRNO_CASE(ELOOP, kPermissionDenied),
                    ERRNO_CASE(EXDEV, kPermissionDenied),
                    ERRNO_CASE(EEXIST, kAlreadyExists),
                    ERRNO_CASE(ENOSPC, kResourceExhausted),
                    ERRNO_CASE(EDQUOT, kResourceExhausted),
                    ERRNO_CASE(EFBIG, kResourceExhausted),
                    ERRNO_CASE(EAGAIN, kUnavailable),
                    ERRNO_CASE(EINVAL, kInvalidArgument),
                    ERRNO_CASE(ENAMETOOLONG, kInvalidArgument),
                    ERRNO_CASE(EISDIR, kFailedPrecondition),
                    ERRNO_CASE(EIO, kInternal), ERRNO_CASE(EBADF, kInternal)),
    [](const testing::TestParamInfo<Case>& info) {
      return std::string(info.param.name);
    });

#undef ERRNO_CASE

TEST(SyscallErrorMessageTest, ExactFormat) {
  absl::Status status = SyscallError(EIO, "fsync(.durabled-tmp.1f2e)");
  EXPECT_EQ(status.message(),
            std::string("fsync(.durabled-tmp.1f2e): ") + strerror(EIO));
}

TEST(ErrnoOfTest, ZeroForStatusesWithoutErrno) {
  EXPECT_EQ(ErrnoOf(absl::OkStatus()), 0);
  EXPECT_EQ(ErrnoOf(absl::InternalError("boom")), 0);
  EXPECT_EQ(ErrnoOf(absl::NotFoundError("no such thing")), 0);
}

TEST(ErrnoOfTest, SurvivesCopyAndIsIndependentOfTheCode) {
  absl::Status original = SyscallError(ENOSPC, "write");
  absl::Status copy = original;
  EXPECT_EQ(ErrnoOf(copy), ENOSPC);
  // EDQUOT and ENOSPC share a code but not an errno.
  EXPECT_EQ(SyscallError(EDQUOT, "write").code(), copy.code());
  EXPECT_EQ(ErrnoOf(SyscallError(EDQUOT, "write")), EDQUOT);
}

}  // namespace
}  // namespace durable
