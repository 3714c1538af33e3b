#ifndef DURABLED_SERVER_ENGINE_TARGET_KEY_H_
#define DURABLED_SERVER_ENGINE_TARGET_KEY_H_

#include <cstdint>
#include <string>
#include <tuple>
#include <utility>

namespace durable {

// Identity of a write target that survives renames of its ancestors and
// does not depend on the path string: the parent directory's (device,
// inode) and the final name.
struct TargetKey {
  uint64_t device = 0;
  uint64_t inode = 0;
  std::string leaf;

  friend bool operator==(const TargetKey& a, const TargetKey& b) {
    return std::tie(a.device, a.inode, a.leaf) ==
           std::tie(b.device, b.inode, b.leaf);
  }
  template <typename H>
  friend H AbslHashValue(H h, const TargetKey& key) {
    return H::combine(std::move(h), key.device, key.inode, key.leaf);
  }
};

}  // namespace durable

#endif  // DURABLED_SERVER_ENGINE_TARGET_KEY_H_
