// gMock matchers for absl::Status and absl::StatusOr<T>:
//
//   EXPECT_THAT(status_or, IsOk());
//   EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound));
//   EXPECT_THAT(status_or, StatusIs(absl::StatusCode::kInvalidArgument,
//                                   HasSubstr("NAME_MAX")));
//
// A failure prints the whole status (code and message).
#ifndef DURABLED_TESTS_SUPPORT_STATUS_MATCHERS_H_
#define DURABLED_TESTS_SUPPORT_STATUS_MATCHERS_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace durable::test {
namespace status_internal {

inline const absl::Status& GetStatus(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

}  // namespace status_internal

MATCHER(IsOk, negation ? "is not OK" : "is OK") {
  const absl::Status& status = status_internal::GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.ok();
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has code " + absl::StatusCodeToString(code) +
               " and a message that " +
               testing::DescribeMatcher<std::string>(message_matcher,
                                                     negation)) {
  const absl::Status& status = status_internal::GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code &&
         testing::Matches(testing::Matcher<std::string>(message_matcher))(
             std::string(status.message()));
}

// StatusIs(code) matches any message.
inline auto StatusIs(absl::StatusCode code) {
  return StatusIs(code, testing::_);
}

}  // namespace durable::test

// The assertion form of IsOk(), for a status a test cannot go on without.
#define ASSERT_OK(expression) ASSERT_THAT((expression), ::durable::test::IsOk())
#define EXPECT_OK(expression) EXPECT_THAT((expression), ::durable::test::IsOk())

#endif  // DURABLED_TESTS_SUPPORT_STATUS_MATCHERS_H_
