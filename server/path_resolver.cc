#include "server/path_resolver.h"

#include <errno.h>

#include "absl/strings/str_cat.h"
#include "server/errno_status.h"
#include "server/path_validation.h"

namespace durable {
namespace {

absl::Status ExplainOpenFailure(const absl::Status& status,
                                const std::string& root) {
  switch (ErrnoOf(status)) {
    case ENOENT:
      return absl::NotFoundError("the parent directory does not exist");
    case ENOTDIR:
      return absl::NotFoundError(
          "a component of the parent path is not a directory");
    case ELOOP:
      return absl::PermissionDeniedError(
          "a component of the parent path is a symbolic link; durabled "
          "never follows symlinks");
    case EXDEV:
      return absl::PermissionDeniedError(absl::StrCat(
          "the parent path leaves the root ", root,
          " or crosses a mount point beneath it"));
    case EACCES:
      return absl::PermissionDeniedError(
          "the daemon may not search the parent directory");
    default:
      return absl::Status(status.code(),
                          absl::StrCat("cannot open the parent directory: ",
                                       status.message()));
  }
}

}  // namespace

absl::StatusOr<ResolvedTarget> ResolveTarget(
    std::shared_ptr<const ActivePolicy> policy, FileSystem& fs,
    const PeerCredentials& caller, absl::string_view path) {
  absl::Status valid = ValidateClientPath(path);
  if (!valid.ok()) return valid;
  absl::StatusOr<Grant> grant = policy->policy.Authorize(caller, path);
  if (!grant.ok()) return grant.status();

  absl::StatusOr<UniqueFd> dir = fs.OpenDirectoryBeneath(
      policy->roots.fd(grant->rule_index), grant->relative_parent);
  if (!dir.ok()) return ExplainOpenFailure(dir.status(), grant->rule->root);
  absl::StatusOr<FileInfo> dir_info = fs.Stat(dir->get());
  if (!dir_info.ok()) return dir_info.status();

  ResolvedTarget target;
  target.rule = grant->rule;
  target.policy = std::move(policy);
  target.dir = std::move(*dir);
  target.key = TargetKey{dir_info->device, dir_info->inode,
                         std::move(grant->leaf)};
  return target;
}

}  // namespace durable
