#ifndef DURABLED_SERVER_ETAG_H_
#define DURABLED_SERVER_ETAG_H_

#include <string>

#include "server/file_system.h"

namespace durable {

// The version tag of a file: 16 lowercase hex digits derived from its
// device, inode number, inode generation, modification time and size.
// Every durable write publishes a new inode, so the etag changes with every
// replacement; the generation keeps it changing even when a filesystem
// reuses an inode number within one timestamp tick.
std::string EtagOf(const FileInfo& info);

}  // namespace durable

#endif  // DURABLED_SERVER_ETAG_H_
