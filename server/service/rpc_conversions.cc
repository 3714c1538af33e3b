#include "server/service/rpc_conversions.h"

#include "absl/strings/str_cat.h"
#include "server/base/logging.h"
#include "server/engine/etag.h"

namespace durable {

grpc::Status ToGrpcStatus(const absl::Status& status, absl::string_view path) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  if (path.empty()) return grpc::Status(code, std::string(status.message()));
  return grpc::Status(code,
                      absl::StrCat(DisplayPath(path), ": ", status.message()));
}

bool CallIsGone(grpc::ServerContextBase& context) {
  return context.IsCancelled() ||
         context.deadline() <= std::chrono::system_clock::now();
}

void FillWriteResponse(const CommitResult& result,
                       durable::v1::WriteResponse* response) {
  response->set_size(result.size);
  response->set_sha256(result.sha256);
  response->set_etag(result.etag);
  response->set_created(result.created);
  response->set_superseded(result.superseded);
}

void FillStatResponse(const FileInfo& info,
                      durable::v1::StatResponse* response) {
  response->set_size(info.size);
  response->set_mode(info.mode & 07777);
  response->set_uid(info.uid);
  response->set_gid(info.gid);
  response->set_mtime_ns(info.mtime_ns);
  response->set_etag(EtagOf(info));
}

void FillWhoAmIResponse(const PeerCredentials& caller,
                        const CallerGrants& grants,
                        durable::v1::WhoAmIResponse* response) {
  response->set_uid(caller.uid);
  response->set_gid(caller.gid);
  for (gid_t group : caller.groups) response->add_groups(group);
  response->set_pid(caller.pid);
  if (caller.cgroup_known) {
    response->set_cgroup(caller.cgroup);
    response->set_unit(caller.unit);
  }
  for (const CallerGrants::Allowed& allowed : grants.allowed) {
    const RulePolicy* rule = allowed.rule;
    durable::v1::WhoAmIResponse::Grant* grant = response->add_grants();
    grant->set_root(allowed.root);
    grant->set_name(rule->name);
    grant->set_max_bytes(rule->max_bytes);
    grant->set_max_files(rule->max_files);
    grant->set_max_file_size(rule->max_file_size);
    grant->set_create_mode(rule->create_mode);
    grant->set_max_mode(rule->max_mode);
    grant->set_allow_overwrite(rule->allow_overwrite);
    grant->set_allow_create_parents(rule->allow_create_parents);
    grant->set_directory_mode(rule->directory_mode);
    grant->set_versioned_layout(rule->versioned_layout);
  }
  for (const std::string& root : grants.denied_roots) {
    response->add_denied_roots(root);
  }
}

}  // namespace durable
