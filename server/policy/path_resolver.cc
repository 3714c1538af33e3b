#include "server/policy/path_resolver.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "server/base/errno_status.h"
#include "server/base/logging.h"
#include "server/engine/file_replacer.h"
#include "server/policy/client_address.h"
#include "server/policy/path_validation.h"

namespace durable {
namespace {

absl::Status ExplainOpenFailure(const absl::Status& status,
                                const std::string& root_label) {
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
      return absl::PermissionDeniedError(
          absl::StrCat("the parent path leaves the root ", root_label,
                       " or crosses a mount point beneath it"));
    case EACCES:
      return absl::PermissionDeniedError(
          "the daemon may not search the parent directory");
    default:
      return Annotate(status, "cannot open the parent directory");
  }
}

// Creates directory `name` in `parent` and returns it opened, after
// checking that the entry is the directory just made. In a parent others may
// write (group-writable, not sticky) another process can replace the new
// directory by one of its own, or by a victim's, between mkdir and open;
// chowning that to the caller would hand it over. So before the caller may
// chown or chmod it, the opened directory must be owned by the daemon's euid,
// have mode 0700 as mkdir left it, be empty (but for what concurrent writes
// of the daemon put there), and be the inode `name` names in
// `parent`. ABORTED if not; nothing is changed then, and the entry is not ours
// to remove.
absl::StatusOr<UniqueFd> MakeVerifiedDirectory(FileSystem& fs, int parent,
                                               const std::string& name) {
  absl::Status made = fs.MakeDirectory(parent, name);
  if (!made.ok()) return made;
  const auto replaced = [&](absl::string_view how) {
    return absl::AbortedError(absl::StrCat(
        "the new parent directory ", name,
        " was replaced by another process while being created (", how,
        "); nothing was written and its owner and mode were left alone"));
  };
  absl::StatusOr<UniqueFd> created = fs.OpenDirectoryBeneath(parent, name);
  if (!created.ok()) {
    if (ErrnoOf(created.status()) == ENOENT ||
        ErrnoOf(created.status()) == ENOTDIR ||
        ErrnoOf(created.status()) == ELOOP) {
      return replaced("it is no longer a directory there");
    }
    return created.status();
  }
  absl::StatusOr<FileInfo> opened = fs.Stat(created->get());
  if (!opened.ok()) return opened.status();
  if (opened->uid != geteuid()) {
    return replaced(absl::StrCat("it is owned by uid ", opened->uid));
  }
  if ((opened->mode & 07777) != 0700) {
    return replaced(absl::StrFormat("its mode is 0%o", opened->mode & 07777));
  }
  absl::StatusOr<FileInfo> named = fs.LookUp(parent, name);
  if (!named.ok()) return named.status();
  if (named->device != opened->device || named->inode != opened->inode) {
    return replaced("the name now refers to another directory");
  }
  absl::StatusOr<std::vector<DirectoryEntry>> entries =
      fs.ListDirectory(created->get());
  if (!entries.ok()) return entries.status();
  // Concurrent writes of the daemon may already use the new directory
  // (temp files, files and directories it made); anything owned by someone
  // else is foreign. (A concurrent write that already gave its file to its
  // caller makes this write fail with ABORTED: safe, and retryable.)
  for (const DirectoryEntry& entry : *entries) {
    if (IsTempFileName(entry.name)) continue;
    absl::StatusOr<FileInfo> inside = fs.LookUp(created->get(), entry.name);
    if (!inside.ok() || inside->uid != geteuid()) {
      return replaced("it is not empty");
    }
  }
  return created;
}

// Opens `relative_parent` beneath `root_fd`, creating each missing
// component durably and recording it in `created`.
absl::StatusOr<UniqueFd> OpenCreatingParents(
    FileSystem& fs, int root_fd, const std::string& relative_parent,
    mode_t permissions, const std::optional<Owner>& owner,
    PendingDirectories* pending, std::vector<CreatedDirectory>* created) {
  absl::StatusOr<UniqueFd> current = fs.OpenDirectoryBeneath(root_fd, ".");
  if (!current.ok()) return current.status();
  for (absl::string_view piece : absl::StrSplit(relative_parent, '/')) {
    const std::string name(piece);
    absl::StatusOr<UniqueFd> next =
        fs.OpenDirectoryBeneath(current->get(), name);
    if (!next.ok() && ErrnoOf(next.status()) == ENOENT) {
      std::optional<PendingDirectories::Id> pending_id;
      if (pending != nullptr) {
        absl::StatusOr<PendingDirectories::Id> id =
            pending->Add(fs, current->get());
        if (!id.ok()) return id.status();
        pending_id = *id;
      }
      struct Unregister {
        PendingDirectories* pending;
        std::optional<PendingDirectories::Id> id;
        ~Unregister() {
          if (id.has_value()) pending->Remove(*id);
        }
      } unregister{pending, pending_id};
      next = MakeVerifiedDirectory(fs, current->get(), name);
      if (next.ok()) {
        // Owner first: a chown may clear mode bits that the chmod then sets.
        absl::Status durable = absl::OkStatus();
        if (owner.has_value()) {
          durable = fs.SetOwner(next->get(), owner->uid, owner->gid);
        }
        if (durable.ok()) durable = fs.SetPermissions(next->get(), permissions);
        if (durable.ok()) durable = fs.SyncDirectory(next->get());
        if (durable.ok() || absl::IsUnimplemented(durable)) {
          durable = fs.SyncDirectory(current->get());
        }
        // Recorded before checking, so a failure still removes it.
        UniqueFd parent(dup(current->get()));
        created->push_back(CreatedDirectory{std::move(parent), name});
        if (!durable.ok() && !absl::IsUnimplemented(durable)) {
          return Annotate(durable,
                          absl::StrCat("cannot create parent directory ",
                                       EscapeName(name)));
        }
      } else if (absl::IsAlreadyExists(next.status())) {
        next = fs.OpenDirectoryBeneath(current->get(), name);  // lost a race
      }
    }
    if (!next.ok()) return next.status();
    current = std::move(next);
  }
  return current;
}

// Under a versioned_layout rule, names beginning with ".." belong to the
// layout (..data, version directories): no call may name one, so none can
// plant a file or directory where the layout needs its own.
absl::Status RefuseLayoutNames(const Grant& grant) {
  std::vector<absl::string_view> pieces =
      absl::StrSplit(grant.relative_parent, '/', absl::SkipEmpty());
  pieces.push_back(grant.leaf);
  for (absl::string_view piece : pieces) {
    if (absl::StartsWith(piece, "..")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "names beginning with \"..\" are reserved for the versioned "
          "layout the rule for root ",
          grant.root_label, " keeps sets in"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

void RemoveCreatedDirectories(FileSystem& fs, ResolvedTarget& target) {
  for (auto it = target.created_directories.rbegin();
       it != target.created_directories.rend(); ++it) {
    if (!fs.RemoveDirectory(it->parent.get(), it->name).ok()) break;
  }
  target.created_directories.clear();
}

absl::StatusOr<ResolvedTarget> ResolveTarget(
    std::shared_ptr<const ActivePolicy> policy, FileSystem& fs,
    const PeerCredentials& caller, absl::string_view path,
    const ResolveOptions& options) {
  absl::StatusOr<ClientAddress> address = ParseClientAddress(path);
  if (!address.ok()) return address.status();
  absl::StatusOr<Grant> grant = policy->policy.Authorize(caller, *address);
  if (!grant.ok()) return grant.status();

  const RulePolicy& rule = *grant->rule;
  if (rule.versioned_layout) {
    absl::Status reserved = RefuseLayoutNames(*grant);
    if (!reserved.ok()) return reserved;
  }
  const std::string& label = grant->root_label;
  const bool root_shown = label == grant->root;
  absl::Status in_place = policy->roots.VerifyInPlace(
      grant->rule_index, rule.root_template.base(), root_shown ? "" : label);
  if (!in_place.ok()) return in_place;
  ResolvedTarget target;
  target.root_label = label;
  const int base_fd = policy->roots.fd(grant->rule_index);
  UniqueFd caller_root;  // the per-caller root, when there is one
  if (!grant->root_below_base.empty()) {
    absl::StatusOr<UniqueFd> opened =
        fs.OpenDirectoryBeneath(base_fd, grant->root_below_base);
    if (!opened.ok() && ErrnoOf(opened.status()) == ENOENT) {
      if (!rule.create_root || !options.create_root) {
        return absl::NotFoundError(absl::StrCat(
            "the caller's root ", label, " does not exist yet",
            rule.create_root ? " (its first write creates it)"
                             : ", and the rule does not create it"));
      }
      opened = OpenCreatingParents(fs, base_fd, grant->root_below_base,
                                   rule.directory_mode, rule.OwnerFor(caller),
                                   options.pending_directories,
                                   &target.created_directories);
      if (!opened.ok()) RemoveCreatedDirectories(fs, target);
    }
    if (!opened.ok()) {
      absl::Status explained = ExplainOpenFailure(opened.status(), label);
      return Annotate(explained,
                      absl::StrCat("cannot open the caller's root ", label));
    }
    caller_root = *std::move(opened);
  }
  const int root_fd = caller_root.valid() ? caller_root.get() : base_fd;
  absl::StatusOr<UniqueFd> dir =
      fs.OpenDirectoryBeneath(root_fd, grant->relative_parent);
  if (!dir.ok() && ErrnoOf(dir.status()) == ENOENT && options.create_parents) {
    if (!rule.allow_create_parents) {
      RemoveCreatedDirectories(fs, target);
      return absl::PermissionDeniedError(absl::StrCat(
          "the parent directory does not exist and the rule for root ", label,
          " does not allow creating parent directories"));
    }
    dir = OpenCreatingParents(fs, root_fd, grant->relative_parent,
                              rule.directory_mode, rule.OwnerFor(caller),
                              options.pending_directories,
                              &target.created_directories);
  }
  if (!dir.ok()) {
    RemoveCreatedDirectories(fs, target);
    return ExplainOpenFailure(dir.status(), label);
  }
  absl::StatusOr<FileInfo> dir_info = fs.Stat(dir->get());
  if (!dir_info.ok()) {
    RemoveCreatedDirectories(fs, target);
    return dir_info.status();
  }
  if (options.keep_root) {
    // Opened afresh, not duplicated: the root handles are O_PATH, and the
    // set's commit record is written and fsynced through this one.
    absl::StatusOr<UniqueFd> root = fs.OpenDirectoryBeneath(root_fd, "");
    if (!root.ok()) {
      RemoveCreatedDirectories(fs, target);
      return ExplainOpenFailure(root.status(), label);
    }
    target.root = *std::move(root);
    target.relative_parent =
        grant->relative_parent.empty() ? "." : grant->relative_parent;
  }
  if (rule.has_quota()) {
    if (caller_root.valid()) {
      target.quota_root = std::move(caller_root);
    } else {
      target.quota_root = UniqueFd(fcntl(base_fd, F_DUPFD_CLOEXEC, 0));
      if (!target.quota_root.valid()) {
        RemoveCreatedDirectories(fs, target);
        return SyscallError(errno, "fcntl(F_DUPFD_CLOEXEC) of the root");
      }
    }
  }

  target.rule = grant->rule;
  target.policy = std::move(policy);
  target.dir = std::move(*dir);
  target.key =
      TargetKey{dir_info->device, dir_info->inode, std::move(grant->leaf)};
  return target;
}

}  // namespace durable
