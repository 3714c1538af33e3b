"""Results of durabled calls: frozen dataclasses, no generated types."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Mapping, Optional, Tuple

__all__ = [
    "WriteResult",
    "FileStatus",
    "Grant",
    "CallerInfo",
    "LatencyBucket",
    "DaemonStats",
    "SetWrite",
    "SetRemove",
    "SetMemberResult",
    "UNBOUNDED_LATENCY_US",
]

#: Upper bound of the last latency bucket: everything longer.
UNBOUNDED_LATENCY_US: int = 2**63 - 1


@dataclass(frozen=True)
class WriteResult:
    """The answer to a write: the new content is durable under the path.

    Attributes:
        size: bytes now in the file.
        sha256: SHA-256 of the content written (32 raw bytes).
        etag: version tag of the new file (16 lowercase hex digits); pass it
            as ``if_match`` to replace exactly this version later.
        created: the path did not exist before this write.
        superseded: a newer write of the same path, queued behind this one,
            was published in its place (and is durable); ``etag`` is that
            newer version's, ``size`` and ``sha256`` describe this write's
            content.
    """

    size: int
    sha256: bytes
    etag: str
    created: bool
    superseded: bool = False

    @property
    def sha256_hex(self) -> str:
        """``sha256`` as 64 lowercase hex digits."""
        return self.sha256.hex()


@dataclass(frozen=True)
class FileStatus:
    """A regular file as ``stat`` describes it.

    Attributes:
        size: bytes in the file.
        mode: permission bits (``st_mode & 0o7777``).
        uid, gid: owner and group.
        mtime_ns: modification time, nanoseconds since the Unix epoch.
        etag: the etag a write of this version returned.
    """

    size: int
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    etag: str

    @property
    def mtime(self) -> datetime.datetime:
        """The modification time as an aware UTC datetime (microseconds)."""
        return datetime.datetime.fromtimestamp(self.mtime_ns / 1e9,
                                               tz=datetime.timezone.utc)


@dataclass(frozen=True)
class Grant:
    """What one rule of the daemon's policy lets the caller do.

    Attributes:
        root: directory under which the caller may write, expanded for the
            caller; empty if the rule hides its host path.
        name: the root's name for ``"name:relative/path"``; empty if none.
        max_bytes, max_files: the root's quota (0: none).
        max_file_size: largest file the rule accepts.
        create_mode: permission bits of created files.
        max_mode: cap on a requested mode.
        allow_overwrite: existing files may be replaced and removed.
        allow_create_parents: writes may create missing directories.
        directory_mode: permission bits of directories it creates.
        versioned_layout: sets under the root use the versioned ``..data``
            layout, so a reader of ``DIR/..data`` sees each set whole.
    """

    root: str
    name: str
    max_bytes: int
    max_files: int
    max_file_size: int
    create_mode: int
    max_mode: int
    allow_overwrite: bool
    allow_create_parents: bool
    directory_mode: int
    versioned_layout: bool


@dataclass(frozen=True)
class CallerInfo:
    """Who the daemon thinks the caller is (``whoami``).

    Attributes:
        uid, gid, groups, pid: as the kernel reported them when the
            connection was accepted (``groups``: supplementary groups).
        cgroup, unit: the caller's cgroup (v2 path) and systemd unit as read
            at accept; empty if the cgroup could not be read.
        grants: one per rule that allows the caller.
        denied_roots: roots nested under a grant whose rules do not allow
            the caller ("name:" for a hidden one).
    """

    uid: int
    gid: int
    groups: Tuple[int, ...]
    pid: int
    cgroup: str
    unit: str
    grants: Tuple[Grant, ...]
    denied_roots: Tuple[str, ...]

    @property
    def names(self) -> Tuple[str, ...]:
        """The root names the caller may use (``"name:relative/path"``)."""
        return tuple(grant.name for grant in self.grants if grant.name)


@dataclass(frozen=True)
class LatencyBucket:
    """``count`` writes and removes took less than ``upper_bound_us``
    microseconds (and at least the previous bucket's bound)."""

    upper_bound_us: int
    count: int


@dataclass(frozen=True)
class DaemonStats:
    """The daemon's counters since it started (``stats``; root only).

    Attributes:
        uptime_seconds: whole seconds since the daemon started.
        writes_ok, writes_failed: completed Write and WriteStream calls.
        bytes_written: bytes published by successful writes.
        removes_ok, removes_failed: completed Remove calls.
        errors_by_code: failed writes and removes by status code name
            (``"PERMISSION_DENIED"``, ...); read-only.
        file_syncs, directory_syncs, filesystem_syncs: fsync calls on files
            and directories, syncfs calls that flushed a batch's data.
        sync_errors: how many of those failed.
        commits, batched_writes: batches the commit queue committed and the
            writes in them; coalesced_writes: writes answered as superseded.
        latency: histogram of completed writes and removes, by ascending
            bound (the last bound is :data:`UNBOUNDED_LATENCY_US`).
        latency_sum_us: the sum of their latencies, in microseconds (with
            the buckets' total count, the mean).
        connections_accepted, connections_refused: at accept.
        writes_in_progress: when the daemon answered.
    """

    uptime_seconds: int
    writes_ok: int
    writes_failed: int
    bytes_written: int
    removes_ok: int
    removes_failed: int
    errors_by_code: Mapping[str, int] = field(hash=False)
    file_syncs: int
    directory_syncs: int
    filesystem_syncs: int
    sync_errors: int
    commits: int
    batched_writes: int
    coalesced_writes: int
    latency: Tuple[LatencyBucket, ...]
    latency_sum_us: int
    connections_accepted: int
    connections_refused: int
    writes_in_progress: int


@dataclass(frozen=True)
class SetWrite:
    """A member of :meth:`Client.write_set` that makes `path` hold `data`.

    The options are those of :meth:`Client.write`.
    """

    path: str
    data: bytes
    mode: int = 0
    if_match: Optional[str] = None
    if_absent: bool = False
    expected_sha256: Optional[bytes] = None
    create_parents: bool = False


@dataclass(frozen=True)
class SetRemove:
    """A member of :meth:`Client.write_set` that removes `path` (which must
    exist); with `if_match`, only that version."""

    path: str
    if_match: Optional[str] = None


@dataclass(frozen=True)
class SetMemberResult:
    """What became of one member of a set, in the order given.

    Attributes:
        path: the member's path as sent.
        etag: a write's new version; a remove's removed version.
        size: a write's size (0 for a remove).
        sha256: a write's SHA-256 (32 raw bytes; empty for a remove).
        created: a write that created the file.
        removed: a remove member.
    """

    path: str
    etag: str
    size: int = 0
    sha256: bytes = b""
    created: bool = False
    removed: bool = False
