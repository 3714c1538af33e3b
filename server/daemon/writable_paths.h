#ifndef DURABLED_SERVER_DAEMON_WRITABLE_PATHS_H_
#define DURABLED_SERVER_DAEMON_WRITABLE_PATHS_H_

#include <string>
#include <vector>

#include "durable/v1/config.pb.h"

namespace durable {

// The paths durabled must be able to write in its own mount namespace for
// `config`: each rule's root (for a per-caller root, its fixed prefix) and
// the directory of the socket it binds itself. Sorted, each once, a path
// inside another listed one left out. Only the config is read, nothing is
// opened: the systemd generator calls this at boot, before most
// filesystems are mounted, to write the unit's ReadWritePaths=.
std::vector<std::string> WritablePaths(const durable::v1::DaemonConfig& config);

}  // namespace durable

#endif  // DURABLED_SERVER_DAEMON_WRITABLE_PATHS_H_
