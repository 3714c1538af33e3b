#ifndef DURABLED_SERVER_BASE_ERRNO_STATUS_H_
#define DURABLED_SERVER_BASE_ERRNO_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace durable {

// Maps an errno value to the canonical status code durabled reports for it,
// with `what` (the failed operation and its operand) and strerror in the
// message, e.g. "fsync(.durabled-tmp.1f2e): Input/output error".
//
//   ENOENT, ENOTDIR          -> NOT_FOUND
//   EACCES, EPERM, EROFS     -> PERMISSION_DENIED
//   ELOOP, EXDEV             -> PERMISSION_DENIED (symlink or mount crossed)
//   EEXIST                   -> ALREADY_EXISTS
//   ENOSPC, EDQUOT, EFBIG    -> RESOURCE_EXHAUSTED
//   EAGAIN                   -> UNAVAILABLE
//   EINVAL, ENAMETOOLONG     -> INVALID_ARGUMENT
//   EISDIR                   -> FAILED_PRECONDITION
//   anything else (EIO, ...) -> INTERNAL
absl::Status SyscallError(int error_number, absl::string_view what);

// As SyscallError, but with `code` in place of the one above, where the
// call gives an errno its own meaning (readlink's EINVAL: not a symlink).
absl::Status SyscallErrorWithCode(absl::StatusCode code, int error_number,
                                  absl::string_view what);

// Returns the errno recorded by SyscallError in `status`, or 0.
int ErrnoOf(const absl::Status& status);

// `status` with "context: " before its message, keeping its code and its
// payloads (so ErrnoOf still answers). OK stays OK.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

}  // namespace durable

#endif  // DURABLED_SERVER_BASE_ERRNO_STATUS_H_
