#ifndef DURABLED_SERVER_POLICY_ROOT_DIRECTORIES_H_
#define DURABLED_SERVER_POLICY_ROOT_DIRECTORIES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/base/unique_fd.h"

namespace durable {

// The policy's roots, each opened once (O_PATH | O_DIRECTORY) so that every
// later lookup happens beneath a handle, not by walking the path again.
class RootDirectories {
 public:
  // Opens every root in order. Fails, naming the root and the reason, if one
  // is missing, not a directory, reached through a symlink anywhere on its
  // path, or on a mount that is read-only in this process's mount namespace
  // (e.g. outside the unit's ReadWritePaths=).
  static absl::StatusOr<RootDirectories> Open(
      const std::vector<std::string>& roots);

  // The handle of the index-th root given to Open.
  int fd(size_t index) const { return fds_[index].get(); }

  // OK if `root` (the path the index-th handle was opened from) still names
  // that same directory. A root moved away or replaced since start must not
  // keep receiving writes at its new location: NOT_FOUND if the path is
  // gone, PERMISSION_DENIED if it now names something else.
  // Messages name the root as `label` (the path itself if empty), so that a
  // hidden root stays hidden.
  absl::Status VerifyInPlace(size_t index, const std::string& root,
                             const std::string& label = "") const;
  size_t size() const { return fds_.size(); }

  // Findings worth an operator's attention, e.g. an ancestor of a root that
  // someone other than root and the daemon could rename: such a person can
  // swap what the root path means before the next start or reload.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  struct DirectoryId {
    uint64_t device = 0;
    uint64_t inode = 0;
  };

  std::vector<UniqueFd> fds_;
  std::vector<DirectoryId> identities_;
  std::vector<std::string> warnings_;
};

}  // namespace durable

#endif  // DURABLED_SERVER_POLICY_ROOT_DIRECTORIES_H_
