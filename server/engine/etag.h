#ifndef DURABLED_SERVER_ENGINE_ETAG_H_
#define DURABLED_SERVER_ENGINE_ETAG_H_

#include <string>

#include "server/engine/file_system.h"

namespace durable {

// The version tag of a file: 16 lowercase hex digits derived from its
// device, inode number, inode generation, modification time and size.
// Every durable write publishes a new inode whose mtime is later than that
// of the file it replaces (FileReplacer stamps it so), so consecutive
// versions of a target never share an etag, even where a filesystem reuses
// inode numbers and has no generation (tmpfs, overlayfs) and both writes
// fall within one timestamp tick.
std::string EtagOf(const FileInfo& info);

}  // namespace durable

#endif  // DURABLED_SERVER_ENGINE_ETAG_H_
