#ifndef DURABLED_CLIENT_WRITE_OPTION_FLAGS_H_
#define DURABLED_CLIENT_WRITE_OPTION_FLAGS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "durable/client.h"

namespace durable::cli {

// Applies one write option written as NAME or NAME=VALUE, the same for
// `durablectl write --NAME[=VALUE]` and a write-set manifest's fields:
//   mode=OCTAL  if-absent  if-match=ETAG  sha256=HEX  parents
// False if NAME is none of these or has (or lacks) a value it must not
// (or must); INVALID_ARGUMENT "NAME=VALUE is not ..." for a bad value.
absl::StatusOr<bool> ApplyWriteOption(const std::string& name,
                                      const std::optional<std::string>& value,
                                      WriteOptions* options);

}  // namespace durable::cli

#endif  // DURABLED_CLIENT_WRITE_OPTION_FLAGS_H_
