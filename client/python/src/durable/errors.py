"""Exceptions of the durabled client: one class per gRPC status code.

Every failure the daemon reports, and every transport failure, is raised as a
:class:`DurableError` subclass that carries the status code, the daemon's
message (which names the path and the reason) and the path of the call.
``proto/durable/v1/durable.proto`` documents which code each RPC returns
when; the most common ones:

=========================  ==================================================
:class:`InvalidArgument`   bad path, mode, ``expected_sha256`` or size
:class:`PermissionDenied`  no rule allows the caller; symlink or mount on the
                           way; a create-only root
:class:`NotFound`          missing file or parent directory
:class:`AlreadyExists`     ``if_absent`` and the file exists
:class:`Aborted`           ``if_match`` and the file changed (or is gone); a
                           stream that ended without finishing
:class:`FailedPrecondition` the target is not a regular file
:class:`DataLoss`          the content does not match ``expected_sha256``
:class:`ResourceExhausted` over the rule's size limit or quota, too many
                           writes at once, the disk is full
:class:`Unavailable`       the daemon is unreachable or shutting down
:class:`DeadlineExceeded`  the call's timeout passed, or a stream fell silent
:class:`Unknown`           the outcome is unknown (see the message; check
                           with ``stat``)
=========================  ==================================================
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Type

import grpc

__all__ = [
    "DurableError",
    "Cancelled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
    "error_class",
]


class DurableError(Exception):
    """A call to durabled failed.

    Attributes:
        code: the gRPC status code (``grpc.StatusCode.NOT_FOUND``, ...).
        message: the daemon's message, naming the path and the reason (for
            UNAVAILABLE, the client's explanation of what to check).
        path: the path the call was about, as the caller gave it; ``None``
            for calls without a path (``whoami``, ``stats``).

    Catch a subclass for one code (``except durable.NotFound``), or this
    class and look at :attr:`code`. ``DurableError.from_code`` builds the
    subclass that belongs to a code.
    """

    #: The status code of the subclass (``None`` for the base class).
    status_code: Optional[grpc.StatusCode] = None

    def __init__(self, code: grpc.StatusCode, message: str,
                 path: Optional[str] = None) -> None:
        super().__init__(message)
        self.code: grpc.StatusCode = code
        self.message: str = message
        self.path: Optional[str] = path

    @staticmethod
    def from_code(code: grpc.StatusCode, message: str,
                  path: Optional[str] = None) -> "DurableError":
        """The exception for `code`: an instance of its subclass."""
        cls = error_class(code)
        error = cls.__new__(cls)
        DurableError.__init__(error, code, message, path)
        return error

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(code={self.code.name}, "
                f"message={self.message!r}, path={self.path!r})")

    def __reduce__(self) -> Tuple[Any, ...]:
        return (DurableError.from_code, (self.code, self.message, self.path))


class _CodeError(DurableError):
    """Base of the per-code classes: the code is implied by the class."""

    def __init__(self, message: str, path: Optional[str] = None) -> None:
        assert self.status_code is not None
        super().__init__(self.status_code, message, path)


class Cancelled(_CodeError):
    """CANCELLED: the call was cancelled before it finished."""
    status_code = grpc.StatusCode.CANCELLED


class Unknown(_CodeError):
    """UNKNOWN: the outcome is unknown (the daemon could neither complete
    nor roll back the change durably; the message says what may be on
    disk). Check with ``stat``."""
    status_code = grpc.StatusCode.UNKNOWN


class InvalidArgument(_CodeError):
    """INVALID_ARGUMENT: a bad path, mode or expected_sha256, both if_absent
    and if_match, or streamed content of another size than announced."""
    status_code = grpc.StatusCode.INVALID_ARGUMENT


class DeadlineExceeded(_CodeError):
    """DEADLINE_EXCEEDED: the client's timeout passed, or a stream was silent
    for longer than the daemon's stream idle timeout. Nothing was published
    unless the daemon had begun the final rename; ``stat`` tells."""
    status_code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFound(_CodeError):
    """NOT_FOUND: no file at the path, or its parent directory (or the
    caller's per-caller root) does not exist."""
    status_code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(_CodeError):
    """ALREADY_EXISTS: ``if_absent`` was set and the file exists."""
    status_code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(_CodeError):
    """PERMISSION_DENIED: no rule allows the caller this path (or root name),
    a symlink or mount point is on the way, the rule forbids overwriting,
    removing or creating parents; ``stats`` by a caller that is not root."""
    status_code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(_CodeError):
    """RESOURCE_EXHAUSTED: the content exceeds the rule's max_file_size, the
    message limit or the root's quota, too many writes run at once, or the
    filesystem is full."""
    status_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(_CodeError):
    """FAILED_PRECONDITION: the entry at the path is not a regular file."""
    status_code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(_CodeError):
    """ABORTED: ``if_match`` was set and the file's etag differs (or the file
    does not exist): a concurrent change was not overwritten. Also a stream
    that ended without finishing, or a temp file or directory another
    process replaced; nothing was published."""
    status_code = grpc.StatusCode.ABORTED


class OutOfRange(_CodeError):
    """OUT_OF_RANGE (not used by durabled)."""
    status_code = grpc.StatusCode.OUT_OF_RANGE


class Unimplemented(_CodeError):
    """UNIMPLEMENTED: the daemon does not know the method (too old)."""
    status_code = grpc.StatusCode.UNIMPLEMENTED


class Internal(_CodeError):
    """INTERNAL: an I/O error in the daemon; the old content is in place."""
    status_code = grpc.StatusCode.INTERNAL


class Unavailable(_CodeError):
    """UNAVAILABLE: the daemon is not running, its socket cannot be opened,
    no rule allows the caller's uid or groups (such connections are closed
    at accept), or the daemon is shutting down."""
    status_code = grpc.StatusCode.UNAVAILABLE


class DataLoss(_CodeError):
    """DATA_LOSS: the content does not match ``expected_sha256``; nothing was
    published."""
    status_code = grpc.StatusCode.DATA_LOSS


class Unauthenticated(_CodeError):
    """UNAUTHENTICATED: the call did not arrive over a connection the daemon
    accepted itself (e.g. through a proxy)."""
    status_code = grpc.StatusCode.UNAUTHENTICATED


_BY_CODE: Dict[grpc.StatusCode, Type[DurableError]] = {
    cls.status_code: cls
    for cls in (Cancelled, Unknown, InvalidArgument, DeadlineExceeded,
                NotFound, AlreadyExists, PermissionDenied, ResourceExhausted,
                FailedPrecondition, Aborted, OutOfRange, Unimplemented,
                Internal, Unavailable, DataLoss, Unauthenticated)
    if cls.status_code is not None
}


def error_class(code: grpc.StatusCode) -> Type[DurableError]:
    """The exception class raised for `code` (DurableError if none)."""
    return _BY_CODE.get(code, DurableError)
