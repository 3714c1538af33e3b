#ifndef DURABLED_SERVER_POLICY_PATH_RESOLVER_H_
#define DURABLED_SERVER_POLICY_PATH_RESOLVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/base/peer_credentials.h"
#include "server/base/unique_fd.h"
#include "server/engine/file_system.h"
#include "server/engine/pending_directories.h"
#include "server/engine/target_key.h"
#include "server/policy/policy_store.h"

namespace durable {

// A directory created on the way to a target, by its parent's handle.
struct CreatedDirectory {
  UniqueFd parent;
  std::string name;
};

// A target the caller may write, pinned to its parent directory's handle.
// From here on nothing walks the path string again, so a symlink or a
// directory swapped in after the check cannot redirect the write.
struct ResolvedTarget {
  std::shared_ptr<const ActivePolicy> policy;  // keeps `rule` and roots alive
  const RulePolicy* rule = nullptr;
  // How messages to the caller name the root ("state:", or the host path).
  std::string root_label;
  // The caller's root (the rule's root expanded for it), opened; only when
  // the rule has a quota, which is kept per root.
  UniqueFd quota_root;
  UniqueFd dir;
  TargetKey key;  // key.leaf is the final path component
  // The caller's root, opened, and the parent directory's path beneath it
  // ("." for the root itself); only with ResolveOptions::keep_root (sets
  // keep their commit record there).
  UniqueFd root;
  std::string relative_parent;
  // Directories created for this target (create_parents), outermost first.
  std::vector<CreatedDirectory> created_directories;
};

struct ResolveOptions {
  // Create missing parent directories (the rule must allow it), each made
  // durable (the directory and its parent fsynced) before going deeper.
  bool create_parents = false;
  // Create a missing per-caller root where the rule says create_root (a
  // write; a stat or remove must change nothing on disk).
  bool create_root = false;
  // Where directories being created are registered until durable.
  PendingDirectories* pending_directories = nullptr;
  // Fill in ResolvedTarget::root and relative_parent.
  bool keep_root = false;
};

// Turns a client's path (absolute, or "name:relative", see
// ParseClientAddress) into a ResolvedTarget: lexical validation
// (INVALID_ARGUMENT), policy (PERMISSION_DENIED), then the caller's root
// opened beneath the rule's root handle (for a per-caller root: created
// first if the rule says create_root, else NOT_FOUND while it is missing),
// then the parent directory opened beneath that, each with openat2 and
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
// RESOLVE_NO_XDEV (PERMISSION_DENIED for a symlink or mount point on the
// way, NOT_FOUND for a missing parent). Messages state the reason without
// the path (the caller adds it) and name the root as the caller may see
// it. Created directories get the rule's directory_mode and the rule's
// owner for `caller`, applied only after checking that the directory
// opened is the one just made (ABORTED if another process swapped it).
absl::StatusOr<ResolvedTarget> ResolveTarget(
    std::shared_ptr<const ActivePolicy> policy, FileSystem& fs,
    const PeerCredentials& caller, absl::string_view path,
    const ResolveOptions& options = {});

// Removes the directories `target` created, innermost first, as far as they
// are still empty (undo for a write that did not publish).
void RemoveCreatedDirectories(FileSystem& fs, ResolvedTarget& target);

}  // namespace durable

#endif  // DURABLED_SERVER_POLICY_PATH_RESOLVER_H_
