"""Fixtures: a real durabled with a scratch config, and clients of it.

The daemon binary comes from $DURABLED_BINARY (ctest passes the build's
durabled). As tests/support/test_daemon.h does for the C++ tests, the daemon
gets a scratch tree under /tmp:

    <base>/durabled.conf, durabled.sock, durabled.log (its stderr)
    <base>/data/        rule "data": everything allowed, parents too
    <base>/createonly/  rule "createonly": no overwrite, no remove
    <base>/small/       rule "small": files up to 1024 bytes
    <base>/quota/       rule "quota": 4096 bytes, 4 files in the root
    <base>/other/       rule "other": another uid only
    <base>/outside/     under no root

One daemon serves the whole session; each test works in directories of its
own (``scratch``), named after the test.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, List

import pytest

import durable

CONFIG = """\
socket {{ path: "{base}/durabled.sock" mode: 0600 }}
limits {{ stream_idle_timeout_ms: 1000 }}
rule {{
  name: "data"
  root: "{base}/data"
  allow_uid: {uid}
  allow_create_parents: true
  max_mode: 0755
  max_file_size: 16777216
}}
rule {{
  name: "createonly"
  root: "{base}/createonly"
  allow_uid: {uid}
  allow_overwrite: false
}}
rule {{
  name: "small"
  root: "{base}/small"
  allow_uid: {uid}
  max_file_size: 1024
}}
rule {{
  name: "quota"
  root: "{base}/quota"
  allow_uid: {uid}
  max_bytes: 4096
  max_files: 4
}}
rule {{
  name: "other"
  root: "{base}/other"
  allow_uid: {other_uid}
}}
"""

ROOTS = ("data", "createonly", "small", "quota", "other", "outside")


class Daemon:
    """A running durabled and its scratch tree."""

    def __init__(self, binary: str) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="durabled-pytest."))
        self.base.chmod(0o755)
        for root in ROOTS:
            (self.base / root).mkdir(mode=0o755)
        uid = os.getuid()
        config = CONFIG.format(base=self.base, uid=uid,
                               other_uid=65533 if uid != 65533 else 65532)
        self.config = self.base / "durabled.conf"
        self.config.write_text(config)
        self.socket = str(self.base / "durabled.sock")
        self.log = self.base / "durabled.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [binary, f"--config={self.config}"], stdin=subprocess.DEVNULL,
                stdout=log, stderr=log)
        self._wait_for_socket()

    def _wait_for_socket(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"durabled exited {self.process.returncode}"
                                   f":\n{self.log.read_text()}")
            if os.path.exists(self.socket):
                probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    probe.connect(self.socket)
                    return
                except OSError:
                    pass
                finally:
                    probe.close()
            time.sleep(0.02)
        self.process.kill()
        raise RuntimeError(f"durabled did not start:\n{self.log.read_text()}")

    def root(self, name: str) -> Path:
        return self.base / name

    def temp_files(self) -> List[str]:
        """Every .durabled-tmp. entry under the scratch tree."""
        found = []
        for directory, dirs, files in os.walk(self.base):
            found += [os.path.join(directory, name) for name in dirs + files
                      if name.startswith(".durabled-tmp.")]
        return found

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture(scope="session")
def daemon() -> Iterator[Daemon]:
    binary = os.environ.get("DURABLED_BINARY")
    if not binary:
        pytest.skip("DURABLED_BINARY is not set (ctest sets it to the "
                    "build's server/durabled)")
    running = Daemon(binary)
    try:
        yield running
    finally:
        status = running.stop()
        log = running.log.read_text(errors="replace")
        shutil.rmtree(running.base, ignore_errors=True)
    assert status == 0, f"durabled exited {status} on SIGTERM:\n{log}"
    assert not re.search(r"AddressSanitizer|UndefinedBehaviorSanitizer|"
                         r"runtime error:", log), log


@pytest.fixture
def client(daemon: Daemon) -> Iterator[durable.Client]:
    with durable.Client(daemon.socket, timeout=60) as opened:
        yield opened


class Scratch:
    """This test's directory in each root: ``scratch.data / "a.txt"``."""

    def __init__(self, daemon: Daemon, name: str) -> None:
        self.name = name
        self.daemon = daemon
        self.dirs = {}
        for root in ROOTS:
            path = daemon.root(root) / name
            if path.exists():
                shutil.rmtree(path)
            path.mkdir(mode=0o755)
            path.chmod(0o755)
            self.dirs[root] = path

    def __getattr__(self, root: str) -> Path:
        try:
            return self.dirs[root]
        except KeyError:
            raise AttributeError(root) from None

    def named(self, root: str, relative: str) -> str:
        """The named form: "root:<test>/relative"."""
        return f"{root}:{self.name}/{relative}"


@pytest.fixture
def scratch(daemon: Daemon, request: pytest.FixtureRequest) -> Iterator[Scratch]:
    name = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:100]
    made = Scratch(daemon, name)
    yield made
    assert daemon.temp_files() == [], "temp files left behind"
    for path in made.dirs.values():
        shutil.rmtree(path, ignore_errors=True)
