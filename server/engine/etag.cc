#include "server/engine/etag.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "server/engine/sha256.h"

namespace durable {

std::string EtagOf(const FileInfo& info) {
  std::string digest = Sha256::Of(absl::StrCat(info.device, ":", info.inode,
                                               ":", info.generation, ":",
                                               info.mtime_ns, ":", info.size));
  return absl::BytesToHexString(digest.substr(0, 8));
}

}  // namespace durable
