#ifndef DURABLED_SERVER_SERVICE_REMOVE_OPERATION_H_
#define DURABLED_SERVER_SERVICE_REMOVE_OPERATION_H_

#include <string>

#include "absl/status/statusor.h"
#include "server/base/peer_credentials.h"
#include "server/service/write_operation.h"

namespace durable {

// One durable remove, from request to unlinked file, with the same
// admission, policy, resolution and per-target serialisation as a write:
// admitted as a write of the caller, refused where the rule forbids
// overwriting (a create-only root never loses a file), then the engine's
// Remove in the target's turn of the commit queue (the calling thread waits
// for it). Returns the removed file's etag.
absl::StatusOr<std::string> RunRemoveOperation(const WriteDependencies& deps,
                                               const PeerCredentials& caller,
                                               const std::string& path,
                                               const std::string& if_match);

}  // namespace durable

#endif  // DURABLED_SERVER_SERVICE_REMOVE_OPERATION_H_
