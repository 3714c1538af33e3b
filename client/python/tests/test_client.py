"""The Python client against a real durabled over its real socket."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import pickle
import re
import stat
import sysconfig
import threading
import time
from pathlib import Path
from typing import Iterator, List

import grpc
import pytest

import durable
from durable.v1 import durable_pb2

ETAG = re.compile(r"^[0-9a-f]{16}$")


def chunks_of(data: bytes, size: int) -> Iterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset:offset + size]


# -- the installed package ----------------------------------------------------


def test_package_is_the_installed_wheel() -> None:
    """ctest runs these tests against the wheel installed in a venv."""
    if not os.environ.get("DURABLE_EXPECT_INSTALLED"):
        pytest.skip("run outside ctest's venv")
    purelib = os.path.realpath(sysconfig.get_paths()["purelib"])
    location = os.path.realpath(durable.__file__)
    assert location.startswith(purelib + os.sep), location
    assert os.path.exists(os.path.join(os.path.dirname(location), "py.typed"))
    assert durable.__version__ != "0+unknown"


# -- write --------------------------------------------------------------------


def test_write_creates_file(client: durable.Client, scratch) -> None:
    target = scratch.data / "a.txt"
    result = client.write(str(target), b"hello")
    assert result == durable.WriteResult(
        size=5, sha256=hashlib.sha256(b"hello").digest(), etag=result.etag,
        created=True, superseded=False)
    assert result.sha256_hex == hashlib.sha256(b"hello").hexdigest()
    assert ETAG.match(result.etag)
    assert target.read_bytes() == b"hello"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # create_mode default
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.size = 6  # type: ignore[misc]


def test_write_replaces_and_keeps_mode(client: durable.Client, scratch) -> None:
    target = scratch.data / "a.txt"
    target.write_bytes(b"old")
    target.chmod(0o600)
    before = client.stat(target)
    result = client.write(target, b"new")  # a pathlib.Path works too
    assert not result.created
    assert result.etag != before.etag
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_write_accepts_str_and_buffers(client: durable.Client, scratch) -> None:
    target = scratch.data / "a.txt"
    assert client.write(str(target), "grüße").size == len("grüße".encode())
    assert target.read_text(encoding="utf-8") == "grüße"
    client.write(str(target), bytearray(b"bytearray"))
    assert target.read_bytes() == b"bytearray"
    client.write(str(target), memoryview(b"xxmemoryview")[2:])
    assert target.read_bytes() == b"memoryview"
    client.write(str(target), b"")
    assert target.read_bytes() == b""


def test_write_by_root_name(client: durable.Client, scratch) -> None:
    result = client.write(scratch.named("data", "n.txt"), b"named")
    assert result.created
    assert (scratch.data / "n.txt").read_bytes() == b"named"
    assert client.stat(scratch.named("data", "n.txt")).etag == result.etag


def test_write_mode(client: durable.Client, scratch) -> None:
    target = scratch.data / "x.sh"
    client.write(str(target), b"#!/bin/sh\n", mode=0o750)
    assert stat.S_IMODE(target.stat().st_mode) == 0o750
    client.write(str(target), b"#!/bin/sh\n", mode=0o777)  # capped at 0755
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    with pytest.raises(durable.InvalidArgument):
        client.write(str(target), b"x", mode=0o10000)


def test_if_absent(client: durable.Client, scratch) -> None:
    target = scratch.data / "once.txt"
    assert client.write(str(target), b"first", if_absent=True).created
    with pytest.raises(durable.AlreadyExists) as raised:
        client.write(str(target), b"second", if_absent=True)
    assert raised.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert raised.value.path == str(target)
    assert target.read_bytes() == b"first"


def test_if_match(client: durable.Client, scratch) -> None:
    target = str(scratch.data / "v.txt")
    v1 = client.write(target, b"v1")
    v2 = client.write(target, b"v2", if_match=v1.etag)
    assert v2.etag != v1.etag
    with pytest.raises(durable.Aborted) as raised:
        client.write(target, b"v3", if_match=v1.etag)
    assert isinstance(raised.value, durable.DurableError)
    assert Path(target).read_bytes() == b"v2"
    with pytest.raises(durable.Aborted):  # if_match on a missing file
        client.write(str(scratch.data / "missing"), b"x", if_match=v1.etag)
    with pytest.raises(durable.InvalidArgument):  # both preconditions
        client.write(target, b"x", if_match=v2.etag, if_absent=True)


def test_expected_sha256(client: durable.Client, scratch) -> None:
    target = scratch.data / "d.txt"
    digest = hashlib.sha256(b"content").digest()
    assert client.write(str(target), b"content", expected_sha256=digest).created
    client.write(str(target), b"content", expected_sha256=digest.hex())
    with pytest.raises(durable.DataLoss):
        client.write(str(target), b"other", expected_sha256=digest)
    assert target.read_bytes() == b"content"
    with pytest.raises(durable.InvalidArgument):
        client.write(str(target), b"content", expected_sha256=digest[:31])
    with pytest.raises(ValueError):
        client.write(str(target), b"content", expected_sha256="not hex")


def test_create_parents(client: durable.Client, scratch) -> None:
    target = scratch.data / "a" / "b" / "c.txt"
    with pytest.raises(durable.NotFound) as raised:
        client.write(str(target), b"x")
    assert str(target) in raised.value.message
    client.write(str(target), b"x", create_parents=True)
    assert target.read_bytes() == b"x"
    with pytest.raises(durable.PermissionDenied):  # the rule forbids it
        client.write(str(scratch.createonly / "p" / "c.txt"), b"x",
                     create_parents=True)


# -- error mapping ------------------------------------------------------------


def test_permission_denied(client: durable.Client, scratch) -> None:
    outside = str(scratch.outside / "a.txt")
    with pytest.raises(durable.PermissionDenied) as raised:
        client.write(outside, b"x")
    assert raised.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert outside in str(raised.value)
    assert raised.value.path == outside
    with pytest.raises(durable.PermissionDenied):  # another uid's root
        client.write(str(scratch.other / "a.txt"), b"x")
    with pytest.raises(durable.PermissionDenied):  # a name not open to us
        client.write("other:x.txt", b"x")
    with pytest.raises(durable.PermissionDenied):  # create-only
        (scratch.createonly / "a.txt").write_bytes(b"old")
        client.write(str(scratch.createonly / "a.txt"), b"new")
    assert not (scratch.outside / "a.txt").exists()


def test_symlink_on_the_way_denied(client: durable.Client, scratch) -> None:
    (scratch.data / "link").symlink_to(scratch.outside)
    with pytest.raises(durable.PermissionDenied):
        client.write(str(scratch.data / "link" / "a.txt"), b"x")
    assert not (scratch.outside / "a.txt").exists()


def test_invalid_argument(client: durable.Client, scratch) -> None:
    for bad in ["relative/path", "", str(scratch.data) + "/../x",
                str(scratch.data) + "/.durabled-tmp.x", "BadName:x"]:
        with pytest.raises(durable.InvalidArgument) as raised:
            client.write(bad, b"x")
        assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_failed_precondition(client: durable.Client, scratch) -> None:
    (scratch.data / "dir").mkdir()
    os.mkfifo(scratch.data / "fifo")
    for target in ("dir", "fifo"):
        with pytest.raises(durable.FailedPrecondition):
            client.write(str(scratch.data / target), b"x")
        with pytest.raises(durable.FailedPrecondition):
            client.stat(str(scratch.data / target))
        with pytest.raises(durable.FailedPrecondition):
            client.remove(str(scratch.data / target))
    assert stat.S_ISFIFO(os.lstat(scratch.data / "fifo").st_mode)


def test_resource_exhausted(client: durable.Client, scratch) -> None:
    target = str(scratch.small / "big")
    with pytest.raises(durable.ResourceExhausted):
        client.write(target, b"x" * 1025)
    with pytest.raises(durable.ResourceExhausted):  # streamed, size announced
        client.write(target, io.BytesIO(b"x" * 4000))
    with pytest.raises(durable.ResourceExhausted):  # streamed, no size
        client.write(target, chunks_of(b"x" * 4000, 100))
    assert not os.path.exists(target)
    client.write(target, b"x" * 1024)


def test_quota(client: durable.Client, scratch) -> None:
    first = scratch.named("quota", "a")
    client.write(first, b"x" * 3000)
    with pytest.raises(durable.ResourceExhausted):
        client.write(scratch.named("quota", "b"), b"y" * 2000)
    with pytest.raises(durable.ResourceExhausted):
        client.write(scratch.named("quota", "b"), iter([b"y" * 2000]))
    assert not (scratch.quota / "b").exists()
    client.remove(first)  # the daemon's count stays exact


def test_unavailable(tmp_path: Path) -> None:
    missing = str(tmp_path / "no.sock")
    with durable.Client(missing, timeout=10) as client:
        with pytest.raises(durable.Unavailable) as raised:
            client.stat("/x")
        assert raised.value.code == grpc.StatusCode.UNAVAILABLE
        assert missing in raised.value.message
        with pytest.raises(durable.Unavailable):
            client.write("/x", io.BytesIO(b"streamed"))
        with pytest.raises(durable.Unavailable):
            client.whoami()


def test_error_classes() -> None:
    for code in grpc.StatusCode:
        if code == grpc.StatusCode.OK:
            continue
        cls = durable.error_class(code)
        assert cls is not durable.DurableError
        assert cls.status_code == code
        error = durable.DurableError.from_code(code, "why", "/p")
        assert type(error) is cls and error.code == code
        assert (error.message, error.path, str(error)) == ("why", "/p", "why")
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is cls and (copy.code, copy.path) == (code, "/p")
    made = durable.NotFound("no such file", path="/x")
    assert made.code == grpc.StatusCode.NOT_FOUND and made.path == "/x"
    assert issubclass(durable.Aborted, durable.DurableError)


# -- streaming ----------------------------------------------------------------


def test_large_bytes_are_streamed(daemon, scratch) -> None:
    data = os.urandom(300_000)
    target = scratch.data / "big.bin"
    progress: List[tuple] = []
    with durable.Client(daemon.socket, stream_threshold=100_000,
                        chunk_size=64 * 1024) as client:
        result = client.write(str(target), data,
                              on_progress=lambda s, t: progress.append((s, t)))
    assert result.size == len(data) and result.created
    assert result.sha256 == hashlib.sha256(data).digest()
    assert target.read_bytes() == data
    # Streamed: five chunks, total known.
    assert progress[-1] == (len(data), len(data)) and len(progress) == 5


def test_stream_from_file_object(client: durable.Client, scratch,
                                 tmp_path: Path) -> None:
    data = os.urandom(5 * 1024 * 1024 + 17)  # over the 4 MiB threshold
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    target = scratch.data / "copy.bin"
    with open(source, "rb") as file:
        result = client.write(str(target), file)
    assert result.size == len(data) and result.created
    assert target.read_bytes() == data
    # From the current position to the end; a raw (unbuffered) file too.
    with open(source, "rb", buffering=0) as file:
        file.seek(1000)
        assert client.write(str(target), file).size == len(data) - 1000
    assert target.read_bytes() == data[1000:]
    # io.BytesIO: no descriptor, its size found by seeking.
    buffer = io.BytesIO(b"0123456789")
    buffer.seek(4)
    assert client.write(str(target), buffer).size == 6
    assert target.read_bytes() == b"456789"


def test_file_object_size_is_announced(client: durable.Client, scratch,
                                       tmp_path: Path) -> None:
    """The size comes from os.fstat, and the daemon holds the stream to it."""
    source = tmp_path / "five"
    source.write_bytes(b"12345")

    class Growing(io.RawIOBase):
        """fstat says 5 bytes, read yields 10."""

        def __init__(self) -> None:
            self.file = open(source, "rb")
            self.content = io.BytesIO(b"0123456789")

        def fileno(self) -> int:
            return self.file.fileno()

        def tell(self) -> int:
            return 0

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            return self.content.read(n)

        def close(self) -> None:
            self.file.close()
            super().close()

    target = scratch.data / "grown"
    with Growing() as growing:
        with pytest.raises(durable.InvalidArgument) as raised:
            client.write(str(target), growing)
    assert "announced" in raised.value.message
    assert not target.exists()
    # An explicit size for an iterator is announced the same way.
    with pytest.raises(durable.InvalidArgument):
        client.write(str(target), iter([b"abc"]), size=4)
    assert not target.exists()
    assert client.write(str(target), iter([b"ab", b"cd"]), size=4).size == 4


def test_stream_from_iterator(client: durable.Client, scratch) -> None:
    data = os.urandom(700_000)
    target = scratch.data / "it.bin"
    result = client.write(str(target), chunks_of(data, 50_000))
    assert result.size == len(data) and result.created
    assert target.read_bytes() == data
    # A list, chunks of mixed types and sizes (one larger than chunk_size),
    # empty chunks.
    parts = [b"a", bytearray(b"bc"), b"", memoryview(b"d" * (3 << 20))]
    expected = b"abc" + b"d" * (3 << 20)
    result = client.write(str(target), parts, if_match=result.etag)
    assert target.read_bytes() == expected and not result.created
    # Nothing at all: an empty file.
    assert client.write(str(target), iter([])).size == 0
    assert target.read_bytes() == b""


def test_stream_with_preconditions(client: durable.Client, scratch) -> None:
    target = str(scratch.data / "p.txt")
    v1 = client.write(target, iter([b"v1"]), if_absent=True, mode=0o600)
    assert v1.created and stat.S_IMODE(os.stat(target).st_mode) == 0o600
    with pytest.raises(durable.AlreadyExists):
        client.write(target, iter([b"x"]), if_absent=True)
    v2 = client.write(target, iter([b"v2"]), if_match=v1.etag,
                      expected_sha256=hashlib.sha256(b"v2").digest())
    with pytest.raises(durable.Aborted):
        client.write(target, io.BytesIO(b"v3"), if_match=v1.etag)
    with pytest.raises(durable.DataLoss):
        client.write(target, iter([b"v3"]), expected_sha256=b"\0" * 32)
    assert client.stat(target).etag == v2.etag
    assert Path(target).read_bytes() == b"v2"
    nested = scratch.data / "n" / "m.txt"
    client.write(str(nested), iter([b"x"]), create_parents=True)
    assert nested.read_bytes() == b"x"


def test_failing_iterator_publishes_nothing(client: durable.Client, daemon,
                                            scratch) -> None:
    target = scratch.data / "keep.txt"
    target.write_bytes(b"old")
    before = client.stats()

    class SourceBroke(Exception):
        pass

    def failing() -> Iterator[bytes]:
        yield b"x" * 100_000
        yield b"y" * 100_000
        raise SourceBroke("the producer failed")

    with pytest.raises(SourceBroke):  # the source's own exception, unchanged
        client.write(str(target), failing())
    assert target.read_bytes() == b"old"
    new = scratch.data / "new.txt"
    with pytest.raises(SourceBroke):
        client.write(str(new), failing(), size=300_000)
    assert not new.exists()
    settle(client, daemon, before, 2)
    # The client still works afterwards.
    client.write(str(target), b"fine")


def test_failing_file_publishes_nothing(client: durable.Client, daemon,
                                        scratch) -> None:
    target = scratch.data / "keep.txt"
    target.write_bytes(b"old")
    before = client.stats()

    class BrokenFile(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 3:
                raise OSError(5, "Input/output error")
            return b"z" * n

    with pytest.raises(OSError, match="Input/output error"):
        client.write(str(target), BrokenFile())
    assert target.read_bytes() == b"old"
    settle(client, daemon, before, 1)


def test_wrong_content_types(client: durable.Client, scratch,
                             tmp_path: Path) -> None:
    target = str(scratch.data / "t")
    (tmp_path / "text").write_text("text")
    with open(tmp_path / "text", encoding="utf-8") as text_file:
        with pytest.raises(TypeError, match="binary"):
            client.write(target, text_file)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        client.write(target, 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        client.write(target, iter(["str chunk"]))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        client.write(target, b"abc", size=4)
    assert not os.path.exists(target)


def test_stream_timeout_publishes_nothing(client: durable.Client, daemon,
                                          scratch) -> None:
    target = scratch.data / "slow.txt"
    before = client.stats()

    def slow() -> Iterator[bytes]:
        yield b"a"
        time.sleep(0.5)
        yield b"b"
        time.sleep(0.5)
        yield b"c"

    with durable.Client(daemon.socket, timeout=0.3) as impatient:
        with pytest.raises(durable.DeadlineExceeded) as raised:
            impatient.write(str(target), slow())
    assert str(target) in raised.value.message
    assert not target.exists()
    settle(client, daemon, before, 1)


def test_silent_stream_is_ended_by_the_daemon(client: durable.Client, daemon,
                                              scratch) -> None:
    """The daemon ends a stream silent for stream_idle_timeout_ms (1 s)."""
    target = scratch.data / "idle.txt"
    before = client.stats()

    def silent() -> Iterator[bytes]:
        yield b"a"
        time.sleep(2.5)
        yield b"b"

    started = time.monotonic()
    with pytest.raises(durable.DeadlineExceeded):
        client.write(str(target), silent())
    assert time.monotonic() - started < 10
    assert not target.exists()
    settle(client, daemon, before, 1)


def settle(client: durable.Client, daemon, before: durable.DaemonStats,
           failures: int) -> None:
    """Waits until the daemon has ended `failures` more writes (a stream the
    client cancelled may still be staging when the client's call returns)
    and checks that they left no temp file."""
    deadline = time.monotonic() + 10
    while True:
        now = client.stats()
        if (now.writes_failed >= before.writes_failed + failures
                and now.writes_in_progress == 0 and not daemon.temp_files()):
            return
        assert time.monotonic() < deadline, (now, daemon.temp_files())
        time.sleep(0.02)


# -- stat, remove -------------------------------------------------------------


def test_stat(client: durable.Client, scratch) -> None:
    target = scratch.data / "s.txt"
    before = time.time_ns()
    written = client.write(str(target), b"12345", mode=0o640)
    status = client.stat(str(target))
    assert isinstance(status, durable.FileStatus)
    assert (status.size, status.mode, status.etag) == (5, 0o640, written.etag)
    info = os.stat(target)
    assert (status.uid, status.gid) == (info.st_uid, info.st_gid)
    assert status.mtime_ns == info.st_mtime_ns
    assert status.mtime_ns >= before - 10**9
    assert abs(status.mtime.timestamp() - info.st_mtime) < 1
    with pytest.raises(durable.NotFound):
        client.stat(str(scratch.data / "missing"))
    with pytest.raises(durable.NotFound):
        client.stat(str(scratch.data / "no" / "parent"))
    with pytest.raises(durable.PermissionDenied):
        client.stat(str(scratch.outside / "x"))


def test_remove(client: durable.Client, scratch) -> None:
    target = str(scratch.data / "r.txt")
    v1 = client.write(target, b"1")
    v2 = client.write(target, b"2")
    with pytest.raises(durable.Aborted):
        client.remove(target, if_match=v1.etag)
    assert os.path.exists(target)
    assert client.remove(target, if_match=v2.etag) == v2.etag
    assert not os.path.exists(target)
    with pytest.raises(durable.NotFound):
        client.remove(target)
    v3 = client.write(target, b"3")
    assert client.remove(Path(target)) == v3.etag
    kept = scratch.createonly / "kept"
    kept.write_bytes(b"k")
    with pytest.raises(durable.PermissionDenied):
        client.remove(str(kept))
    assert kept.exists()


# -- whoami, stats ------------------------------------------------------------


def test_whoami(client: durable.Client, daemon) -> None:
    me = client.whoami()
    assert isinstance(me, durable.CallerInfo)
    assert (me.uid, me.gid) == (os.getuid(), os.getgid())
    assert me.pid == os.getpid()
    assert set(me.names) == {"data", "createonly", "small", "quota"}
    assert isinstance(me.groups, tuple) and isinstance(me.grants, tuple)
    data = next(g for g in me.grants if g.name == "data")
    assert data.root == str(daemon.root("data"))
    assert data.allow_create_parents and data.allow_overwrite
    assert data.versioned_layout is False
    assert (data.create_mode, data.max_mode) == (0o644, 0o755)
    assert data.max_file_size == 16 << 20
    createonly = next(g for g in me.grants if g.name == "createonly")
    assert not createonly.allow_overwrite
    quota = next(g for g in me.grants if g.name == "quota")
    assert (quota.max_bytes, quota.max_files) == (4096, 4)


def test_stats(client: durable.Client, scratch) -> None:
    before = client.stats()
    client.write(str(scratch.data / "c.txt"), b"count me")
    with pytest.raises(durable.PermissionDenied):
        client.write(str(scratch.outside / "c.txt"), b"x")
    after = client.stats()
    assert isinstance(after, durable.DaemonStats)
    assert after.writes_ok >= before.writes_ok + 1
    assert after.writes_failed >= before.writes_failed + 1
    assert after.bytes_written >= before.bytes_written + 8
    assert after.errors_by_code.get("PERMISSION_DENIED", 0) >= 1
    assert after.uptime_seconds >= 0 and after.connections_accepted >= 1
    assert after.latency and all(
        isinstance(b, durable.LatencyBucket) for b in after.latency)
    assert after.latency[-1].upper_bound_us == durable.UNBOUNDED_LATENCY_US
    counted = sum(b.count for b in after.latency)
    assert counted >= after.writes_ok + after.removes_ok
    assert after.latency_sum_us >= counted  # each at least 1 us
    with pytest.raises(TypeError):
        after.errors_by_code["X"] = 1  # type: ignore[index]


# -- the Client object --------------------------------------------------------


def test_default_socket(daemon, scratch, monkeypatch) -> None:
    monkeypatch.setenv("DURABLED_SOCKET", daemon.socket)
    assert durable.default_socket_path() == daemon.socket
    with durable.Client() as client:
        assert client.socket == daemon.socket
        client.write(str(scratch.data / "e.txt"), b"env")
    monkeypatch.delenv("DURABLED_SOCKET")
    assert durable.default_socket_path() == "/run/durabled/durabled.sock"
    assert durable.Client().socket == durable.DEFAULT_SOCKET_PATH


def test_close(daemon) -> None:
    with durable.Client(daemon.socket) as client:
        client.whoami()
    with pytest.raises(ValueError, match="closed"):
        client.whoami()
    client.close()  # again: nothing
    assert "closed" in repr(client)
    with pytest.raises(ValueError):
        durable.Client(daemon.socket, timeout=0)


def test_concurrent_writes_one_client(client: durable.Client, scratch) -> None:
    errors: List[BaseException] = []

    def writer(index: int) -> None:
        try:
            for round_ in range(20):
                client.write(str(scratch.data / f"t{index}"),
                             f"{index}:{round_}".encode())
        except BaseException as error:  # pragma: no cover: reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for index in range(8):
        assert (scratch.data / f"t{index}").read_bytes() == f"{index}:19".encode()


def test_generated_stubs_are_packaged() -> None:
    header = durable_pb2.WriteHeader(path="/x", size=0)
    assert header.HasField("size")
    assert durable_pb2.DESCRIPTOR.package == "durable.v1"


def test_write_set_all_or_none(client: durable.Client, scratch) -> None:
    old = scratch.data / "set-old"
    gone = scratch.data / "set-gone"
    new = scratch.data / "set-new"
    old.write_bytes(b"old")
    gone.write_bytes(b"gone")
    results = client.write_set([
        durable.SetWrite(str(new), b"fresh" * 1000),
        durable.SetWrite(str(old), "replaced"),
        durable.SetRemove(str(gone)),
    ])
    assert [r.path for r in results] == [str(new), str(old), str(gone)]
    assert results[0].created and results[0].size == 5000
    assert results[1].etag == client.stat(str(old)).etag
    assert results[2].removed
    assert new.read_bytes() == b"fresh" * 1000
    assert old.read_bytes() == b"replaced"
    assert not gone.exists()
    # One failing precondition: nothing changes.
    with pytest.raises(durable.Aborted) as raised:
        client.write_set([
            durable.SetWrite(str(new), b"again"),
            durable.SetWrite(str(old), b"x", if_match=results[0].etag),
        ])
    assert str(old) in str(raised.value)
    assert new.read_bytes() == b"fresh" * 1000
    assert old.read_bytes() == b"replaced"
    with pytest.raises(durable.InvalidArgument):
        client.write_set([])
    with pytest.raises(TypeError):
        client.write_set([str(new)])  # type: ignore[list-item]
    assert not [p for p in os.listdir(scratch.data)
                if p.startswith(".durabled-")]
