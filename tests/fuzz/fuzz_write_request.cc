// Fuzzes the write path of a request, from the decoded proto to the disk:
// WriteOperation (validation, policy, resolution, staging, commit) against
// a real scratch tree. Invariant: nothing ever changes outside the root, and
// no temp file is left behind.
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "durable/v1/durable.pb.h"
#include "server/policy/config_loader.h"
#include "server/engine/file_replacer.h"
#include "server/engine/pending_directories.h"
#include "server/policy/policy_store.h"
#include "server/engine/posix_file_system.h"
#include "server/engine/commit_queue.h"
#include "server/service/write_admission.h"
#include "server/service/write_operation.h"

namespace {

struct World {
  std::string base;
  std::unique_ptr<durable::PolicyStore> policies;
  durable::PosixFileSystem fs;
  std::unique_ptr<durable::FileReplacer> writer;
  std::unique_ptr<durable::CommitQueue> commits;
  durable::WriteAdmission admission{8, 8};
  durable::PendingDirectories pending;
  durable::WriteDependencies deps;

  World() {
    char tmpl[] = "/tmp/durabled-fuzz.XXXXXX";
    base = mkdtemp(tmpl);
    mkdir((base + "/root").c_str(), 0755);
    mkdir((base + "/root/sub").c_str(), 0755);
    mkdir((base + "/outside").c_str(), 0755);
    symlink("../outside", (base + "/root/escape").c_str());
    auto config = durable::ParseConfig(
        absl::StrCat("rule { root: \"", base,
                     "/root\" allow_uid: 1000 max_file_size: 4096 "
                     "allow_create_parents: true }"),
        "fuzz.conf");
    if (!config.ok()) std::abort();
    auto active = durable::BuildActivePolicy(*config);
    if (!active.ok()) std::abort();
    policies = std::make_unique<durable::PolicyStore>(*active);
    writer = std::make_unique<durable::FileReplacer>(&fs);
    commits = std::make_unique<durable::CommitQueue>(
        writer.get(), durable::CommitQueueOptions{});
    deps = {policies.get(), &fs, writer.get(), commits.get(), &admission,
            &pending};
  }
};

bool OutsideIsEmpty(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return false;
  int entries = 0;
  while (dirent* e = readdir(d)) {
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") {
      ++entries;
    }
  }
  closedir(d);
  return entries == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();
  durable::v1::WriteRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  // Steer most paths into the scratch tree so the deep code runs.
  std::string path = request.path();
  if (!path.empty() && path[0] != '/') {
    path = absl::StrCat(world->base, "/root/", path);
  }
  durable::PeerCredentials caller;
  caller.uid = 1000;
  caller.gid = 1000;
  auto operation = durable::WriteOperation::Begin(world->deps, caller, path,
                                                  request.options());
  if (operation.ok() && (*operation)->Append(request.data()).ok()) {
    // One thread: the Submit inside Commit commits and answers before it
    // returns.
    (*operation)->Commit({}, [](absl::StatusOr<durable::CommitResult>) {});
  }
  operation = absl::InternalError("done");  // destroys the operation
  if (!OutsideIsEmpty(world->base + "/outside")) std::abort();
  return 0;
}
