#ifndef DURABLED_SERVER_ENGINE_SHA256_H_
#define DURABLED_SERVER_ENGINE_SHA256_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"

namespace durable {

// Incremental SHA-256 (OpenSSL EVP), so streamed content can be digested as
// it arrives.
class Sha256 {
 public:
  static constexpr size_t kDigestBytes = 32;

  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(absl::string_view data);

  // Returns the 32-byte raw digest. Call once.
  std::string Finish();

  static std::string Of(absl::string_view data);

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

}  // namespace durable

#endif  // DURABLED_SERVER_ENGINE_SHA256_H_
