#include "server/service/set_operation.h"

#include <sys/stat.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "server/base/errno_status.h"
#include "server/base/logging.h"
#include "server/engine/versioned_layout.h"
#include "server/policy/path_resolver.h"

namespace durable {

using durable::v1::SetMember;
using durable::v1::SetMemberResult;
using durable::v1::WriteSetHeader;

struct SetOperation::Member {
  std::string path;  // as the caller sent it
  bool remove = false;
  std::string if_match;   // a remove's
  uint64_t size = 0;      // a write's announced size
  bool create = false;    // a write may create its root and parents
  ResolvedTarget target;  // with the caller root kept
  std::unique_ptr<StagedFile> staged;
  CommitOptions options;
  UsageLedger::Reservation quota;
};

namespace {

// `status` with the member it concerns in front, as ToGrpcStatus words a
// path.
absl::Status ForMember(absl::string_view path, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("member ", DisplayPath(path),
                                                  ": ", status.message()));
}

// The checks that need nothing but the header.
absl::Status CheckHeader(const WriteSetHeader& header, const SetLimits& limits,
                         uint64_t* content_bytes) {
  if (header.members().empty()) {
    return absl::InvalidArgumentError(
        "a WriteSet header must list at least one member");
  }
  if (static_cast<uint64_t>(header.members_size()) > limits.max_members) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the set has ", header.members_size(), " members, more than the ",
        limits.max_members,
        " the daemon allows (limits.max_set_members); nothing was staged"));
  }
  absl::flat_hash_set<absl::string_view> paths;
  uint64_t total = 0;
  for (const SetMember& member : header.members()) {
    if (!paths.insert(member.path()).second) {
      return ForMember(
          member.path(),
          absl::InvalidArgumentError("the path is named twice in the set"));
    }
    switch (member.action_case()) {
      case SetMember::kWrite: {
        absl::Status valid = ValidateWriteOptions(member.write().options());
        if (!valid.ok()) return ForMember(member.path(), valid);
        const uint64_t size = member.write().size();
        if (size > limits.max_bytes - total) {
          return absl::ResourceExhaustedError(absl::StrCat(
              "the set's content exceeds ", limits.max_bytes,
              " bytes, the daemon's limit (limits.max_set_bytes), at member ",
              DisplayPath(member.path()), "; nothing was staged"));
        }
        total += size;
        break;
      }
      case SetMember::kRemove:
        break;
      case SetMember::ACTION_NOT_SET:
        return ForMember(member.path(),
                         absl::InvalidArgumentError(
                             "the member has neither a write nor a remove"));
    }
  }
  *content_bytes = total;
  return absl::OkStatus();
}

// A member of a set under a versioned_layout rule: in the directory of
// the set's first member.
absl::Status FitsVersionedLayout(const ResolvedTarget& member,
                                 const ResolvedTarget& first,
                                 absl::string_view first_path) {
  if (member.key.device != first.key.device ||
      member.key.inode != first.key.inode) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the rule for root ", member.root_label,
        " keeps sets in the versioned layout, so all members must lie in one "
        "directory, and this one is not in the directory of ",
        DisplayPath(first_path)));
  }
  // (Names beginning with "..", the layout's own, are refused by
  // ResolveTarget under such a rule.)
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SetOperation>> SetOperation::Begin(
    const WriteDependencies& deps, const SetLimits& limits,
    const PeerCredentials& caller, const WriteSetHeader& header,
    const std::function<bool()>& abandon) {
  uint64_t content_bytes = 0;
  absl::Status valid = CheckHeader(header, limits, &content_bytes);
  if (!valid.ok()) return valid;
  absl::StatusOr<WriteAdmission::Ticket> ticket =
      deps.admission->Admit(caller.uid);
  if (!ticket.ok()) return ticket.status();
  std::unique_ptr<SetOperation> set(
      new SetOperation(deps, caller.uid, *std::move(ticket)));
  set->expected_bytes_ = content_bytes;

  // One policy for every member, even across a reload. A first pass
  // changes nothing on disk, so that a member the caller may not write
  // refuses the set before any directory is made; only members whose root
  // or parent is missing and may be created wait for the second.
  const std::shared_ptr<const ActivePolicy> policy = deps.policies->Current();
  ResolveOptions look;
  look.keep_root = true;
  for (const SetMember& in : header.members()) {
    auto member = std::make_unique<Member>();
    member->path = in.path();
    member->remove = in.has_remove();
    if (member->remove) {
      member->if_match = in.remove().if_match();
    } else {
      member->size = in.write().size();
      member->create = true;
    }
    absl::StatusOr<ResolvedTarget> target =
        ResolveTarget(policy, *deps.fs, caller, member->path, look);
    if (target.ok()) {
      member->target = *std::move(target);
      member->create = false;
    } else if (!member->create || !absl::IsNotFound(target.status())) {
      return ForMember(member->path, target.status());
    }
    set->members_.push_back(std::move(member));
  }
  for (size_t i = 0; i < set->members_.size(); ++i) {
    Member* member = set->members_[i].get();
    if (!member->create) continue;
    ResolveOptions make = look;
    make.create_root = true;
    make.create_parents = header.members(i).write().options().create_parents();
    make.pending_directories = deps.pending_directories;
    absl::StatusOr<ResolvedTarget> target =
        ResolveTarget(policy, *deps.fs, caller, member->path, make);
    if (!target.ok()) return ForMember(member->path, target.status());
    member->target = *std::move(target);
  }

  // One root (so one filesystem, and one place for the commit record),
  // and each file once.
  std::optional<std::pair<uint64_t, uint64_t>> root_id;
  absl::flat_hash_set<TargetKey> targets;
  for (const std::unique_ptr<Member>& member : set->members_) {
    absl::StatusOr<FileInfo> root = deps.fs->Stat(member->target.root.get());
    if (!root.ok()) {
      return ForMember(member->path,
                       Annotate(root.status(), "cannot stat its root"));
    }
    if (!root_id.has_value()) {
      root_id.emplace(root->device, root->inode);
      set->root_ = std::move(member->target.root);
      set->root_label_ = member->target.root_label;
    } else if (*root_id != std::make_pair(root->device, root->inode)) {
      return ForMember(
          member->path,
          absl::InvalidArgumentError(absl::StrCat(
              "it lies under root ", member->target.root_label,
              ", the set's first member under root ", set->root_label_,
              "; all members of a set must lie under one root")));
    }
    if (!targets.insert(member->target.key).second) {
      return ForMember(member->path,
                       absl::InvalidArgumentError(
                           "it names the same file as another member"));
    }
    const RulePolicy& rule = *member->target.rule;
    if (rule.versioned_layout) {
      absl::Status fits = FitsVersionedLayout(
          member->target, set->members_[0]->target, set->members_[0]->path);
      if (!fits.ok()) return ForMember(member->path, fits);
      set->versioned_ = true;
      set->version_mode_ = rule.directory_mode;
    }
    if (member->remove && !rule.allow_overwrite) {
      return ForMember(
          member->path,
          absl::PermissionDeniedError(absl::StrCat(
              "the rule for root ", member->target.root_label,
              " does not allow overwriting, so it does not allow removing "
              "either; nothing was staged")));
    }
  }
  // A versioned layout's files lie in its current version; the quota
  // counts what a member replaces there (re-checked under the locks).
  std::optional<LayoutVersion> current;
  if (set->versioned_) {
    absl::StatusOr<std::optional<LayoutVersion>> opened =
        OpenCurrentVersion(*deps.fs, set->members_[0]->target.dir.get());
    if (!opened.ok()) {
      return ForMember(set->members_[0]->path,
                       Annotate(opened.status(), "the versioned layout"));
    }
    current = *std::move(opened);
  }
  for (size_t i = 0; i < set->members_.size(); ++i) {
    Member& member = *set->members_[i];
    if (member.remove) continue;
    absl::Status room =
        CheckRoom(deps, member.target, member.size, &member.quota,
                  current.has_value() ? current->dir.get() : -1);
    if (!room.ok()) return ForMember(member.path, room);
    member.options = CommitOptionsFor(*member.target.rule, caller,
                                      header.members(i).write().options());
  }
  if (abandon && abandon()) {
    return absl::CancelledError(
        "the call was cancelled or its deadline passed before the set was "
        "staged; nothing was published");
  }
  for (const std::unique_ptr<Member>& member : set->members_) {
    if (member->remove) continue;
    absl::StatusOr<std::unique_ptr<StagedFile>> staged =
        deps.replacer->Stage(member->target.dir.get(), member->target.key.leaf);
    if (!staged.ok()) return ForMember(member->path, staged.status());
    member->staged = *std::move(staged);
  }
  return set;
}

SetOperation::SetOperation(const WriteDependencies& deps, uid_t caller,
                           WriteAdmission::Ticket ticket)
    : deps_(deps), caller_(caller), ticket_(std::move(ticket)) {}

SetOperation::~SetOperation() { Close(); }

void SetOperation::Close() {
  // Innermost first: a later member may have made its directory inside
  // one an earlier member made.
  for (auto it = members_.rbegin(); it != members_.rend(); ++it) {
    Member& member = **it;
    member.staged.reset();  // removes the temp file unless published
    if (!published_ && member.target.dir.valid()) {
      RemoveCreatedDirectories(*deps_.fs, member.target);
    }
    member.target.created_directories.clear();
  }
}

absl::Status SetOperation::Append(absl::string_view data) {
  while (!data.empty()) {
    while (filling_ < members_.size() &&
           (members_[filling_]->remove ||
            members_[filling_]->staged->size() == members_[filling_]->size)) {
      ++filling_;
    }
    if (filling_ == members_.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the set's content is longer than the ", expected_bytes_,
          " bytes its write members' sizes add up to; nothing was published"));
    }
    Member& member = *members_[filling_];
    const uint64_t take =
        std::min<uint64_t>(data.size(), member.size - member.staged->size());
    absl::Status appended = member.staged->Append(data.substr(0, take));
    if (!appended.ok()) {
      return ForMember(member.path,
                       Annotate(appended, "cannot write the new content"));
    }
    data.remove_prefix(take);
    received_ += take;
  }
  return absl::OkStatus();
}

void SetOperation::Commit(std::function<bool()> abandon, Done done) {
  if (received_ != expected_bytes_) {
    done(absl::InvalidArgumentError(absl::StrCat(
        "the set's content is ", received_, " bytes, not the ", expected_bytes_,
        " its write members' sizes add up to; nothing was published")));
    return;
  }
  std::vector<TargetKey> targets;
  if (versioned_) {
    // Every set of the directory swaps its ..data: one at a time.
    const TargetKey& first = members_[0]->target.key;
    targets.push_back(
        TargetKey{first.device, first.inode, std::string(kDataLinkName)});
  }
  for (const std::unique_ptr<Member>& member : members_) {
    targets.push_back(member->target.key);
    if (member->remove) continue;
    // The digest is checked (and a large file's data written back) here,
    // before the set holds its targets.
    absl::Status sealed = member->staged->Seal(member->options.expected_sha256);
    if (!sealed.ok()) {
      done(ForMember(member->path, sealed));
      return;
    }
  }
  if (deps_.pending_directories != nullptr) {
    // A member's directory may be one another write is still creating:
    // it must be durable before the commit record is.
    absl::Status durable = deps_.pending_directories->SyncAll(*deps_.fs);
    if (!durable.ok()) {
      done(Annotate(durable, "nothing was published, because"));
      return;
    }
  }
  deps_.commits->SubmitExclusiveGroup(
      std::move(targets), caller_,
      [this, abandon = std::move(abandon), done = std::move(done)] {
        done(CommitHoldingAll(abandon));
      });
}

absl::StatusOr<std::vector<SetMemberResult>> SetOperation::CommitHoldingAll(
    const std::function<bool()>& abandon) {
  if (abandon && abandon()) {
    return absl::CancelledError(
        "the call was cancelled or its deadline passed while the set waited "
        "for its targets; nothing was published");
  }
  std::vector<SetEntry> entries(members_.size());
  for (size_t i = 0; i < members_.size(); ++i) {
    Member& member = *members_[i];
    SetEntry& entry = entries[i];
    entry.staged = member.staged.get();
    entry.options = &member.options;
    entry.dir_fd = member.target.dir.get();
    entry.leaf = member.target.key.leaf;
    entry.if_match = member.if_match;
    entry.record_path = member.target.relative_parent;
    entry.directory_device = member.target.key.device;
    entry.directory_inode = member.target.key.inode;
    if (member.remove && member.target.quota_root.valid() &&
        deps_.usage != nullptr) {
      // Counted before the remove (on a root's first use), so the removal
      // is not subtracted from a count that already lacks it.
      (void)deps_.usage->UsageOf(member.target.quota_root.get());
    }
  }
  absl::Status committed =
      versioned_ ? deps_.versioned_sets->Commit(absl::MakeSpan(entries),
                                                members_[0]->target.dir.get(),
                                                version_mode_)
                 : deps_.sets->Commit(absl::MakeSpan(entries), root_.get());
  if (!committed.ok()) {
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!entries[i].status.ok()) {
        return ForMember(members_[i]->path, committed);
      }
    }
    return committed;
  }
  published_ = true;
  std::vector<SetMemberResult> results(members_.size());
  for (size_t i = 0; i < members_.size(); ++i) {
    Member& member = *members_[i];
    const CommitResult& result = entries[i].result;
    SetMemberResult& out = results[i];
    out.set_path(member.path);
    out.set_etag(result.etag);
    if (member.remove) {
      out.set_removed(true);
      if (member.target.quota_root.valid() && deps_.usage != nullptr) {
        deps_.usage->RecordRemoval(member.target.quota_root.get(),
                                   result.replaced_size);
      }
      continue;
    }
    out.set_size(result.size);
    out.set_sha256(result.sha256);
    out.set_created(result.created);
    member.quota.SettlePublished(result.size, result.created,
                                 result.replaced_size);
  }
  return results;
}

}  // namespace durable
