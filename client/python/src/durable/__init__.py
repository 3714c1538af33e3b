"""Client of durabled: durable, atomic file replacement over a Unix socket.

::

    import durable

    with durable.Client() as client:          # $DURABLED_SOCKET or the default
        result = client.write("/var/lib/agent/state.json", b'{"step": 1}')
        try:
            client.write("/var/lib/agent/state.json", b'{"step": 2}',
                         if_match=result.etag)
        except durable.Aborted:
            ...                               # someone else changed it

The API, with every status code, is proto/durable/v1/durable.proto; the
gRPC stubs generated from it when the wheel is built are ``durable.v1``.
"""

from .client import (DEFAULT_SOCKET_PATH, SOCKET_ENVIRONMENT_VARIABLE,
                     BytesLike, Client, Content, PathLike, ProgressCallback,
                     default_socket_path)
from .errors import (Aborted, AlreadyExists, Cancelled, DataLoss,
                     DeadlineExceeded, DurableError, FailedPrecondition,
                     Internal, InvalidArgument, NotFound, OutOfRange,
                     PermissionDenied, ResourceExhausted, Unauthenticated,
                     Unavailable, Unimplemented, Unknown, error_class)
from .results import (UNBOUNDED_LATENCY_US, CallerInfo, DaemonStats,
                      FileStatus, Grant, LatencyBucket, SetMemberResult,
                      SetRemove, SetWrite, WriteResult)

try:
    from importlib.metadata import PackageNotFoundError as _NotInstalled
    from importlib.metadata import version as _version
    __version__: str = _version("durabled-client")
except _NotInstalled:  # pragma: no cover: imported without installing
    __version__ = "0+unknown"

__all__ = [
    "Client",
    "DEFAULT_SOCKET_PATH",
    "SOCKET_ENVIRONMENT_VARIABLE",
    "default_socket_path",
    "BytesLike",
    "Content",
    "PathLike",
    "ProgressCallback",
    "WriteResult",
    "SetWrite",
    "SetRemove",
    "SetMemberResult",
    "FileStatus",
    "Grant",
    "CallerInfo",
    "LatencyBucket",
    "DaemonStats",
    "UNBOUNDED_LATENCY_US",
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
