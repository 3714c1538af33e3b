#ifndef DURABLED_SERVER_ENGINE_INODE_KEY_H_
#define DURABLED_SERVER_ENGINE_INODE_KEY_H_

#include <cstdint>
#include <utility>

namespace durable {

// One inode, by (device, inode number): how a directory is told apart from
// another whatever path reaches it (a root's quota usage, a root's lock).
struct InodeKey {
  uint64_t device = 0;
  uint64_t inode = 0;

  friend bool operator==(const InodeKey& a, const InodeKey& b) {
    return a.device == b.device && a.inode == b.inode;
  }
  template <typename H>
  friend H AbslHashValue(H h, const InodeKey& key) {
    return H::combine(std::move(h), key.device, key.inode);
  }
};

}  // namespace durable

#endif  // DURABLED_SERVER_ENGINE_INODE_KEY_H_
