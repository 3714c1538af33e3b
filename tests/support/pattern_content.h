#ifndef DURABLED_TESTS_SUPPORT_PATTERN_CONTENT_H_
#define DURABLED_TESTS_SUPPORT_PATTERN_CONTENT_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "durable/client.h"
#include "server/engine/sha256.h"

namespace durable::test {

// Deterministic pseudo-random content of a given size, produced chunk by
// chunk (byte i depends only on i and the seed) and digested on the way, so
// that no test holds a large file in memory.
class PatternContent {
 public:
  explicit PatternContent(uint64_t total, uint64_t seed = 0x5eed)
      : total_(total), seed_(seed) {}

  // Fills up to `capacity` bytes; 0 at the end.
  size_t Fill(char* buffer, size_t capacity) {
    const size_t n =
        static_cast<size_t>(std::min<uint64_t>(capacity, total_ - offset_));
    for (size_t i = 0; i < n;) {
      const uint64_t position = offset_ + i;
      const uint64_t word = Mix(seed_ ^ (position / 8));
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
  // The SHA-256 of everything produced; call once, at the end.
  std::string Digest() { return hasher_.Finish(); }

 private:
  static uint64_t Mix(uint64_t x) {  // splitmix64
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }

  const uint64_t total_;
  const uint64_t seed_;
  uint64_t offset_ = 0;
  Sha256 hasher_;
};

}  // namespace durable::test

#endif  // DURABLED_TESTS_SUPPORT_PATTERN_CONTENT_H_
