"""The durabled client: :class:`Client`."""

from __future__ import annotations

import io
import os
import queue
import stat as stat_module
from types import MappingProxyType
from typing import (Any, BinaryIO, Callable, Iterable, Iterator, List,
                    Optional, Sequence, Union)

import grpc

from .errors import DurableError, Internal
from .results import (CallerInfo, DaemonStats, FileStatus, Grant,
                      LatencyBucket, SetMemberResult, SetRemove, SetWrite,
                      WriteResult)

try:
    from .v1 import durable_pb2 as _pb
    from .v1 import durable_pb2_grpc as _pb_grpc
except ImportError as _error:  # pragma: no cover: a broken installation
    raise ImportError(
        "durable.v1 (the gRPC stubs generated from durable.proto when the "
        "wheel is built) is missing: install the durabled-client wheel "
        "instead of importing the source tree (client/python/README.md)"
    ) from _error

__all__ = [
    "Client",
    "DEFAULT_SOCKET_PATH",
    "SOCKET_ENVIRONMENT_VARIABLE",
    "default_socket_path",
    "BytesLike",
    "Content",
    "PathLike",
    "ProgressCallback",
]

#: The daemon's socket unless $DURABLED_SOCKET names another.
DEFAULT_SOCKET_PATH: str = "/run/durabled/durabled.sock"
#: Environment variable that overrides DEFAULT_SOCKET_PATH.
SOCKET_ENVIRONMENT_VARIABLE: str = "DURABLED_SOCKET"

BytesLike = Union[bytes, bytearray, memoryview]
#: What ``Client.write`` accepts as content: bytes-like or str (sent in one
#: message, or streamed when large), a binary file object or an iterable of
#: bytes-like chunks (streamed).
Content = Union[BytesLike, str, BinaryIO, Iterable[BytesLike]]
#: A path: absolute host path, or "name:relative/path" under a named root.
PathLike = Union[str, "os.PathLike[str]"]
#: Called during streamed writes with the bytes sent so far and the total
#: size (None if unknown).
ProgressCallback = Callable[[int, Optional[int]], None]

# Markers in a stream's queue of outgoing chunks.
_FINISH = object()
_ABANDON = object()
# How many chunks may wait for gRPC to send them.
_QUEUED_CHUNKS = 4


def default_socket_path() -> str:
    """$DURABLED_SOCKET if set and non-empty, else DEFAULT_SOCKET_PATH."""
    return os.environ.get(SOCKET_ENVIRONMENT_VARIABLE) or DEFAULT_SOCKET_PATH


class Client:
    """A connection to durabled over its Unix socket.

    ::

        with durable.Client() as client:
            result = client.write("/var/lib/agent/state.json", b"{}")
            client.write("state:agent/x.json", text, if_match=result.etag)

    Every method raises a :class:`durable.DurableError` subclass for the
    daemon's status code (see ``durable.errors``); an unreachable daemon is
    :class:`durable.Unavailable`. The daemon identifies the caller from the
    socket's peer credentials, nothing else.

    A Client is thread-safe: one Client may serve many threads. It holds
    its own connection (clients do not share one), opened at the first
    call; :meth:`close` (or leaving a ``with`` block) closes it.

    Args:
        socket: path of the daemon's socket; default
            :func:`default_socket_path` ($DURABLED_SOCKET, else
            /run/durabled/durabled.sock).
        timeout: deadline of each call in seconds (None: none). Past it the
            call raises DeadlineExceeded and, unless the daemon was already
            publishing, nothing is published.
        stream_threshold: ``write`` sends bytes content larger than this as a
            stream (WriteStream) instead of one message.
        chunk_size: size of the chunks of a streamed write (file objects and
            large bytes; iterators' chunks larger than this are split).
    """

    def __init__(self, socket: Optional[PathLike] = None, *,
                 timeout: Optional[float] = 600.0,
                 stream_threshold: int = 4 << 20,
                 chunk_size: int = 1 << 20) -> None:
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive or None, not {timeout}")
        if stream_threshold < 0:
            raise ValueError("stream_threshold must not be negative")
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        self._socket: str = (os.fspath(socket) if socket is not None
                             else default_socket_path())
        self._timeout = timeout
        self._stream_threshold = stream_threshold
        self._chunk_size = chunk_size
        self._channel: grpc.Channel = grpc.insecure_channel(
            "unix:" + self._socket,
            options=[
                ("grpc.max_send_message_length", -1),
                ("grpc.max_receive_message_length", -1),
                # Each Client its own connection, so that two Clients are
                # two independent callers to the daemon.
                ("grpc.use_local_subchannel_pool", 1),
            ])
        self._stub: Any = _pb_grpc.DurableWriterStub(  # type: ignore[no-untyped-call]
            self._channel)
        self._closed = False

    # -- lifetime -----------------------------------------------------------

    @property
    def socket(self) -> str:
        """The socket path this client talks to."""
        return self._socket

    @property
    def timeout(self) -> Optional[float]:
        """The deadline of each call, in seconds (None: none)."""
        return self._timeout

    def close(self) -> None:
        """Closes the connection. Calls after it raise ValueError; closing
        again does nothing."""
        if not self._closed:
            self._closed = True
            self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = ", closed" if self._closed else ""
        return f"Client(socket={self._socket!r}{state})"

    # -- calls --------------------------------------------------------------

    def write(self, path: PathLike, data: Content, *, mode: int = 0,
              if_match: Optional[str] = None, if_absent: bool = False,
              expected_sha256: Optional[Union[bytes, str]] = None,
              create_parents: bool = False, size: Optional[int] = None,
              on_progress: Optional[ProgressCallback] = None) -> WriteResult:
        """Makes `path` hold exactly `data`, durably and atomically.

        When it returns, the new content is durable under `path` (fsynced,
        renamed over the target, directory fsynced): after a crash the file
        holds its old or its new content, never a mix.

        Args:
            path: an absolute host path, or ``"name:relative/path"`` under a
                named root (``whoami().names`` lists them).
            data: the content:

                - ``bytes``, ``bytearray``, ``memoryview`` (any buffer):
                  sent in one message, or streamed if larger than
                  ``stream_threshold``.
                - ``str``: encoded as UTF-8, then as bytes.
                - a binary file object (``open(p, "rb")``, ``io.BytesIO``):
                  streamed from its current position to its end in
                  ``chunk_size`` chunks. Its size is announced when known
                  (``os.fstat`` of a regular file, or seeking), so the daemon
                  refuses content over a limit before anything is staged and
                  fails the write (InvalidArgument) if the file then yields
                  another number of bytes (e.g. it grew meanwhile).
                - an iterable of bytes-like chunks (a generator, a list):
                  streamed chunk by chunk (chunks over ``chunk_size`` are
                  split). Each chunk is sent as it comes, so a slow source
                  keeps the stream alive as long as it yields within the
                  daemon's stream idle timeout.

                File objects and iterators are read in the calling thread.
                If reading fails (the iterator raises, ``read`` raises), the
                stream is cancelled, nothing is published, and that
                exception propagates unchanged.
            mode: permission bits (at most 0o7777), masked with the rule's
                max_mode. 0: a created file gets the rule's create_mode, a
                replaced file keeps its mode and owner.
            if_match: replace only the version with this etag (from an
                earlier write or stat): Aborted if the file changed or is
                gone, so no concurrent update is lost.
            if_absent: create only: AlreadyExists if the file exists.
            expected_sha256: SHA-256 the content must have, 32 raw bytes or
                64 hex digits; verified by the daemon before publishing
                (DataLoss on mismatch, nothing published).
            create_parents: create missing parent directories, if the rule
                allows it (PermissionDenied otherwise).
            size: for a file object or iterator, the content's size to
                announce (default: detected for files, none for
                iterators); for bytes and str it must equal their length.
            on_progress: called during a streamed write, in the calling
                thread, with the bytes handed to gRPC so far and the total
                (None if unknown).

        Returns:
            the new version's :class:`WriteResult` (size, sha256, etag,
            created, superseded).

        Raises:
            DurableError: a subclass per status code (InvalidArgument,
                PermissionDenied, NotFound, AlreadyExists, Aborted,
                FailedPrecondition, DataLoss, ResourceExhausted,
                Unavailable, DeadlineExceeded, ...).
            TypeError: `data` is none of the above, or a text file object.
            ValueError: the client is closed; `size` contradicts bytes
                content; `expected_sha256` is a str that is not hex.
        """
        self._check_open()
        target = os.fspath(path)
        options = _pb.WriteOptions(
            mode=mode, if_absent=if_absent, if_match=if_match or "",
            expected_sha256=_digest_bytes(expected_sha256),
            create_parents=create_parents)

        buffer: Optional[memoryview] = None
        if isinstance(data, str):
            data = data.encode("utf-8")
            buffer = memoryview(data)
        elif isinstance(data, (bytes, bytearray, memoryview)):
            buffer = _byte_view(data)
        elif isinstance(data, io.TextIOBase):
            raise TypeError(
                f"{target}: write() takes a binary file object, not a text "
                "one; open the file with 'rb'")
        elif hasattr(data, "read"):
            file: Any = data
            announced = size if size is not None else _remaining_size(file)
            return self._stream(target, _file_chunks(file, self._chunk_size),
                                announced, options, on_progress)
        else:
            try:
                buffer = _byte_view(data)
            except TypeError:
                if not hasattr(data, "__iter__"):
                    raise TypeError(
                        f"{target}: cannot write a {type(data).__name__}: "
                        "pass bytes, str, a binary file object or an "
                        "iterable of bytes chunks") from None
                chunks = _split_chunks(data, self._chunk_size, target)
                return self._stream(target, chunks, size, options,
                                    on_progress)

        if size is not None and size != buffer.nbytes:
            raise ValueError(f"{target}: size={size} but the content has "
                             f"{buffer.nbytes} bytes")
        if buffer.nbytes > self._stream_threshold:
            return self._stream(
                target, _buffer_chunks(buffer, self._chunk_size),
                buffer.nbytes, options, on_progress)
        content = data if isinstance(data, bytes) else buffer.tobytes()
        request = _pb.WriteRequest(path=target, data=content, options=options)
        response = self._unary(self._stub.Write, request, target)
        return _write_result(response)

    def write_set(self, members: Sequence[Union[SetWrite, SetRemove]]
                  ) -> List[SetMemberResult]:
        """Changes several files together: every member is published
        durably, or none is and each keeps its old content, also across a
        crash of the daemon or a power cut (see WriteSet in the proto).

        All members must lie under one root; the content is streamed in
        ``chunk_size`` chunks after the header.

        Args:
            members: :class:`SetWrite` and :class:`SetRemove` members, in
                the order the answer lists them.

        Returns:
            one :class:`SetMemberResult` per member, in order.

        Raises:
            DurableError: the subclass of the set's status; the message
                names the member it concerns. Unknown means the daemon
                committed the set but could not finish publishing it now
                (its next start does).
            TypeError: a member is neither SetWrite nor SetRemove.
        """
        self._check_open()
        header = _pb.WriteSetHeader()
        contents: List[bytes] = []
        for member in members:
            if not isinstance(member, (SetWrite, SetRemove)):
                raise TypeError(
                    f"a set member is a SetWrite or a SetRemove, not a "
                    f"{type(member).__name__}")
            proto = header.members.add()
            proto.path = os.fspath(member.path)
            if isinstance(member, SetWrite):
                data = (member.data.encode("utf-8")
                        if isinstance(member.data, str) else bytes(member.data))
                proto.write.options.CopyFrom(_pb.WriteOptions(
                    mode=member.mode, if_absent=member.if_absent,
                    if_match=member.if_match or "",
                    expected_sha256=_digest_bytes(member.expected_sha256),
                    create_parents=member.create_parents))
                proto.write.size = len(data)
                contents.append(data)
            else:
                proto.remove.if_match = member.if_match or ""
        chunk_size = self._chunk_size

        def requests() -> Iterator[Any]:
            message = _pb.WriteSetChunk(header=header)
            for data in contents:
                view = memoryview(data)
                for offset in range(0, len(view), chunk_size):
                    message.data = view[offset:offset + chunk_size].tobytes()
                    yield message
                    message = _pb.WriteSetChunk()
            message.finish = True
            yield message

        try:
            response = self._stub.WriteSet(requests(), timeout=self._timeout)
        except grpc.RpcError as error:
            raise self._error(error, None) from error
        return [SetMemberResult(path=m.path, etag=m.etag, size=m.size,
                                sha256=bytes(m.sha256), created=m.created,
                                removed=m.removed)
                for m in response.members]

    def stat(self, path: PathLike) -> FileStatus:
        """Describes the regular file at `path` (size, mode, owner, mtime,
        etag). The caller needs the same permission as for writing it.

        Raises:
            NotFound: no file at `path` (or its parent is missing).
            FailedPrecondition: the entry is not a regular file.
            PermissionDenied, InvalidArgument, ...: as for :meth:`write`.
        """
        self._check_open()
        target = os.fspath(path)
        response = self._unary(self._stub.Stat,
                               _pb.StatRequest(path=target), target)
        return FileStatus(size=response.size, mode=response.mode,
                          uid=response.uid, gid=response.gid,
                          mtime_ns=response.mtime_ns, etag=response.etag)

    def remove(self, path: PathLike, *, if_match: Optional[str] = None) -> str:
        """Removes the file at `path` durably (the directory is fsynced
        before it returns); with `if_match`, only that version.

        Returns:
            the etag of the file that was removed.

        Raises:
            NotFound: no file at `path`.
            Aborted: `if_match` was given and the file's etag differs.
            PermissionDenied: also for a create-only root.
            FailedPrecondition: the entry is not a regular file.
        """
        self._check_open()
        target = os.fspath(path)
        request = _pb.RemoveRequest(path=target, if_match=if_match or "")
        etag: str = self._unary(self._stub.Remove, request, target).etag
        return etag

    def whoami(self) -> CallerInfo:
        """Who the daemon thinks the caller is, and where it may write
        (for debugging a PermissionDenied)."""
        self._check_open()
        response = self._unary(self._stub.WhoAmI, _pb.WhoAmIRequest(), None)
        grants = tuple(
            Grant(root=g.root, name=g.name, max_bytes=g.max_bytes,
                  max_files=g.max_files, max_file_size=g.max_file_size,
                  create_mode=g.create_mode, max_mode=g.max_mode,
                  allow_overwrite=g.allow_overwrite,
                  allow_create_parents=g.allow_create_parents,
                  directory_mode=g.directory_mode,
                  versioned_layout=g.versioned_layout)
            for g in response.grants)
        return CallerInfo(uid=response.uid, gid=response.gid,
                          groups=tuple(response.groups), pid=response.pid,
                          cgroup=response.cgroup, unit=response.unit,
                          grants=grants,
                          denied_roots=tuple(response.denied_roots))

    def stats(self) -> DaemonStats:
        """The daemon's counters since it started.

        Raises:
            PermissionDenied: the caller is neither root nor the daemon's
                uid.
        """
        self._check_open()
        r = self._unary(self._stub.GetStats, _pb.GetStatsRequest(), None)
        if len(r.latency_bucket_upper_us) != len(r.latency_bucket_count):
            raise Internal(
                f"durabled sent {len(r.latency_bucket_upper_us)} latency "
                f"bucket bounds but {len(r.latency_bucket_count)} counts")
        return DaemonStats(
            uptime_seconds=r.uptime_seconds, writes_ok=r.writes_ok,
            writes_failed=r.writes_failed, bytes_written=r.bytes_written,
            removes_ok=r.removes_ok, removes_failed=r.removes_failed,
            errors_by_code=MappingProxyType(dict(r.errors_by_code)),
            file_syncs=r.file_syncs, directory_syncs=r.directory_syncs,
            filesystem_syncs=r.filesystem_syncs, sync_errors=r.sync_errors,
            commits=r.commits, batched_writes=r.batched_writes,
            coalesced_writes=r.coalesced_writes,
            latency=tuple(
                LatencyBucket(upper_bound_us=bound, count=count)
                for bound, count in zip(r.latency_bucket_upper_us,
                                        r.latency_bucket_count)),
            latency_sum_us=r.latency_sum_us,
            connections_accepted=r.connections_accepted,
            connections_refused=r.connections_refused,
            writes_in_progress=r.writes_in_progress)

    # -- internals ----------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"this durable.Client ({self._socket}) is closed")

    def _unary(self, method: Any, request: Any, path: Optional[str]) -> Any:
        try:
            return method(request, timeout=self._timeout)
        except grpc.RpcError as error:
            raise self._error(error, path) from error

    def _error(self, error: grpc.RpcError, path: Optional[str]) -> DurableError:
        code = getattr(error, "code", lambda: None)() or grpc.StatusCode.UNKNOWN
        details = getattr(error, "details", lambda: None)() or code.name
        if code == grpc.StatusCode.UNAVAILABLE:
            details = (
                f"cannot reach durabled at {self._socket} ({details}); is "
                "the daemon running, may you open its socket, and does a "
                "rule allow your uid or one of your groups?")
        if path is not None and path not in details:
            details = f"{path}: {details}"
        return DurableError.from_code(code, details, path)

    def _stream(self, path: str, chunks: Iterator[bytes],
                size: Optional[int], options: Any,
                on_progress: Optional[ProgressCallback]) -> WriteResult:
        """One WriteStream: header (with size, if known), chunks, finish.

        gRPC consumes the request iterator in a thread of its own. The
        content is read here, in the caller's thread, and handed over
        through a small queue, so a file or iterator is never read after
        this returns, and a failing source raises here.
        """
        header = _pb.WriteHeader(path=path, options=options)
        if size is not None:
            header.size = size
        outbox: "queue.Queue[object]" = queue.Queue(maxsize=_QUEUED_CHUNKS)

        def requests() -> Iterator[Any]:
            first = True
            while True:
                item = outbox.get()
                if item is _ABANDON:
                    return  # gRPC half-closes; without finish nothing is published
                message = _pb.WriteChunk()
                if first:
                    message.header.CopyFrom(header)
                    first = False
                if item is _FINISH:
                    message.finish = True
                    yield message
                    return
                message.data = item  # type: ignore[assignment]
                yield message

        call = self._stub.WriteStream.future(requests(), timeout=self._timeout)

        def hand_over(item: object) -> bool:
            # False if the call ended first (the daemon refused the stream).
            while not call.done():
                try:
                    outbox.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    pass
            return False

        def abandon() -> None:
            # Frees gRPC's thread, which may be waiting for the next chunk.
            while True:
                try:
                    outbox.get_nowait()
                except queue.Empty:
                    break
            outbox.put_nowait(_ABANDON)

        finished = False
        try:
            sent = 0
            for chunk in chunks:
                if not hand_over(chunk):
                    break
                sent += len(chunk)
                if on_progress is not None:
                    on_progress(sent, size)
            else:
                finished = hand_over(_FINISH)
        except BaseException:
            # The source failed (or the caller was interrupted): cancel, so
            # that nothing is published, and let its exception through.
            call.cancel()
            abandon()
            raise
        if not finished:
            abandon()
        try:
            response = call.result()
        except grpc.RpcError as error:
            raise self._error(error, path) from error
        return _write_result(response)


def _write_result(response: Any) -> WriteResult:
    return WriteResult(size=response.size, sha256=bytes(response.sha256),
                       etag=response.etag, created=response.created,
                       superseded=response.superseded)


def _digest_bytes(digest: Optional[Union[bytes, str]]) -> bytes:
    if digest is None:
        return b""
    if isinstance(digest, str):
        try:
            return bytes.fromhex(digest)
        except ValueError:
            raise ValueError(
                f"expected_sha256 {digest!r} is not hex digits") from None
    return bytes(digest)


def _byte_view(data: Any) -> memoryview:
    view = memoryview(data)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def _buffer_chunks(buffer: memoryview, chunk_size: int) -> Iterator[bytes]:
    for offset in range(0, buffer.nbytes, chunk_size):
        yield buffer[offset:offset + chunk_size].tobytes()


def _split_chunks(chunks: Iterable[Any], chunk_size: int,
                  path: str) -> Iterator[bytes]:
    for chunk in chunks:
        if isinstance(chunk, bytes) and len(chunk) <= chunk_size:
            yield chunk
            continue
        if isinstance(chunk, str):
            raise TypeError(f"{path}: the iterable yielded a str; yield "
                            "bytes (e.g. text.encode())")
        try:
            view = _byte_view(chunk)
        except TypeError:
            raise TypeError(f"{path}: the iterable yielded a "
                            f"{type(chunk).__name__}, not bytes") from None
        if view.nbytes == 0:
            yield b""  # an empty chunk keeps the stream alive
        else:
            yield from _buffer_chunks(view, chunk_size)


def _file_chunks(file: Any, chunk_size: int) -> Iterator[bytes]:
    while True:
        data = file.read(chunk_size)
        if data is None:
            raise BlockingIOError(
                "the file object is non-blocking and had no data ready")
        if isinstance(data, str):
            raise TypeError("the file object returned str: open it in "
                            "binary mode ('rb')")
        if not data:
            return
        yield bytes(data)


def _remaining_size(file: Any) -> Optional[int]:
    """Bytes from the file's position to its end, if that can be known
    without reading: os.fstat of a regular file, or seeking."""
    try:
        info = os.fstat(file.fileno())
        if stat_module.S_ISREG(info.st_mode):
            position: int = file.tell()
            return max(info.st_size - position, 0)
        return None  # a pipe, socket or device: unknown
    except (AttributeError, OSError, ValueError):
        pass  # no descriptor (io.BytesIO raises io.UnsupportedOperation)
    try:
        if not file.seekable():
            return None
        start: int = file.tell()
        end: int = file.seek(0, io.SEEK_END)
        file.seek(start)
        return max(end - start, 0)
    except (AttributeError, OSError, ValueError):
        return None
