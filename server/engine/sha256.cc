#include "server/engine/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace durable {

struct Sha256::Context {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Context() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
  // Only allocation failure can make these fail; there is no way on.
  if (context_->ctx == nullptr ||
      EVP_DigestInit_ex(context_->ctx, EVP_sha256(), nullptr) != 1) {
    std::abort();
  }
}

Sha256::~Sha256() = default;

void Sha256::Update(absl::string_view data) {
  if (EVP_DigestUpdate(context_->ctx, data.data(), data.size()) != 1) {
    std::abort();
  }
}

std::string Sha256::Finish() {
  std::string digest(kDigestBytes, '\0');
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context_->ctx,
                         reinterpret_cast<unsigned char*>(digest.data()),
                         &length) != 1 ||
      length != kDigestBytes) {
    std::abort();
  }
  return digest;
}

std::string Sha256::Of(absl::string_view data) {
  Sha256 hasher;
  hasher.Update(data);
  return hasher.Finish();
}

}  // namespace durable
