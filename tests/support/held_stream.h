// A WriteStream content source that is held open between its two pieces,
// for tests that need a write in flight (shutdown, root locks).
#ifndef DURABLED_TESTS_SUPPORT_HELD_STREAM_H_
#define DURABLED_TESTS_SUPPORT_HELD_STREAM_H_

#include <string.h>

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "durable/client.h"
#include "gtest/gtest.h"

namespace durable::test {

// Content for a WriteStream that is held open between its two pieces: the
// stream sends `first`, signals FirstSent, and waits (at most 20 s, within
// the daemon's idle timeout) until Release before sending `second`.
class HeldStream {
 public:
  HeldStream(std::string first, std::string second)
      : first_(std::move(first)), second_(std::move(second)) {}

  ChunkSource Source() {
    return [this](char* buffer, size_t capacity) -> absl::StatusOr<size_t> {
      const std::string* piece = nullptr;
      switch (calls_++) {
        case 0:
          piece = &first_;
          break;
        case 1:
          first_sent_.Notify();
          if (!release_.WaitForNotificationWithTimeout(absl::Seconds(20))) {
            return absl::DeadlineExceededError("the test never released");
          }
          piece = &second_;
          break;
        default:
          return 0;
      }
      EXPECT_LE(piece->size(), capacity);
      memcpy(buffer, piece->data(), piece->size());
      return piece->size();
    };
  }

  bool WaitUntilFirstSent(absl::Duration timeout) {
    return first_sent_.WaitForNotificationWithTimeout(timeout);
  }
  void Release() {
    if (!release_.HasBeenNotified()) release_.Notify();
  }
  size_t total_size() const { return first_.size() + second_.size(); }
  std::string content() const { return first_ + second_; }

 private:
  const std::string first_;
  const std::string second_;
  int calls_ = 0;
  absl::Notification first_sent_;
  absl::Notification release_;
};

}  // namespace durable::test

#endif  // DURABLED_TESTS_SUPPORT_HELD_STREAM_H_
