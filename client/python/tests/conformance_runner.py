#!/usr/bin/python3
"""Conformance runner of the Python client (tests/conformance/README.md).

Runs every case of $DURABLE_CONFORMANCE_CASES against the daemon at
$DURABLED_SOCKET, whose roots are $DURABLE_CONFORMANCE_BASE/roots/NAME:

    bash tests/conformance/with-daemon.sh build/server/durabled -- \\
        /usr/bin/python3 client/python/tests/conformance_runner.py \\
        [--cases FILE] [CASE...]

write, write_stream, stat, remove, whoami and stats go through the public
API of the ``durable`` package; raw_stream sends its messages through the
generated stub (durable.v1), exactly as listed. A field the README does not
define fails the case (so that a case is never passed by ignoring what it
expects); keys starting with "$" or "_", "description" and "comment" are
notes and ignored. Prints one line per case ("ok NAME" or "FAIL NAME:
reasons") and a summary; exits 1 if any case failed, 2 on a bad file.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import stat
import sys
import time
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import grpc

import durable
from durable.v1 import durable_pb2, durable_pb2_grpc

ETAG = re.compile(r"^[0-9a-f]{16}$")
CASE_NAME = re.compile(r"^[a-z0-9_]+$")
PLACEHOLDER = re.compile(r"\{(root:[^{}]+|case|etag:[^{}]+|uid)\}")
CONTENT_KEYS = ("content", "content_base64", "content_repeat")
WRITE_FIELDS = {"mode", "if_absent", "if_match", "expected_sha256",
                "create_parents", *CONTENT_KEYS}
STEP_FIELDS: Dict[str, Set[str]] = {
    "write": WRITE_FIELDS,
    "write_stream": WRITE_FIELDS | {"chunk_size", "announce_size"},
    "raw_stream": {"messages", "pause_ms_before_close"},
    "stat": set(),
    "remove": {"if_match"},
    "whoami": set(),
    "stats": set(),
}
COMMON_FIELDS = {"call", "path", "expect", "save_etag", "socket"}
WRITES = {"write", "write_stream", "raw_stream"}
# Which calls' answers each `expect` field describes.
EXPECT_FIELDS: Dict[str, Set[str]] = {
    "created": WRITES,
    "superseded": WRITES,
    "sha256": WRITES,
    "size": WRITES | {"stat"},
    "mode": {"stat"},
    "etag_equals": WRITES | {"stat", "remove"},
    "etag_differs": WRITES | {"stat", "remove"},
    "uid_is_self": {"whoami"},
    "grant_names": {"whoami"},
    "denied_roots_count": {"whoami"},
    "writes_ok_at_least": {"stats"},
}
HEADER_FIELDS = {"path", "size", "mode", "if_absent", "if_match",
                 "expected_sha256", "create_parents"}


class BadCase(Exception):
    """The case does not follow the format (a failure of the case file)."""


class Mismatch(Exception):
    """The client's behaviour differs from what the case expects."""


def is_note(key: str) -> bool:
    return key.startswith(("$", "_")) or key in ("description", "comment")


def check_fields(what: str, entry: Dict[str, Any], allowed: Set[str]) -> None:
    unknown = sorted(k for k in entry if k not in allowed and not is_note(k))
    if unknown:
        raise BadCase(f"{what}: unknown field(s) {', '.join(unknown)}")


def content_of(entry: Dict[str, Any], what: str) -> bytes:
    """The content an entry gives (content / content_base64 /
    content_repeat), empty if none."""
    given = [key for key in CONTENT_KEYS if key in entry]
    if len(given) > 1:
        raise BadCase(f"{what}: more than one of {', '.join(given)}")
    if not given:
        return b""
    value = entry[given[0]]
    if given[0] == "content":
        if not isinstance(value, str):
            raise BadCase(f"{what}: content must be a string")
        return value.encode("utf-8")
    if given[0] == "content_base64":
        return base64.b64decode(value, validate=True)
    check_fields(f"{what}: content_repeat", value, {"text", "count"})
    return str(value["text"]).encode("utf-8") * int(value["count"])


def digest_of(value: str) -> bytes:
    """expected_sha256: hex, or "bad31" for 31 zero bytes."""
    if value == "bad31":
        return b"\0" * 31
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise BadCase(f"expected_sha256 {value!r} is not hex") from None


class Runner:
    def __init__(self, base: str, socket: str, cases_path: str) -> None:
        self.base = base
        self.socket = socket
        with open(cases_path, encoding="utf-8") as file:
            self.document = json.load(file)
        self.client = durable.Client(socket, timeout=60)
        self.channel = grpc.insecure_channel("unix:" + socket)
        self.stub = durable_pb2_grpc.DurableWriterStub(self.channel)

    # -- placeholders and paths -------------------------------------------

    def expand(self, value: Any) -> Any:
        if isinstance(value, str):
            return PLACEHOLDER.sub(self._placeholder, value)
        if isinstance(value, list):
            return [self.expand(item) for item in value]
        if isinstance(value, dict):
            return {key: self.expand(item) for key, item in value.items()}
        return value

    def _placeholder(self, match: "re.Match[str]") -> str:
        token = match.group(1)
        if token == "case":
            return self.case_name
        if token == "uid":
            return str(os.getuid())
        kind, _, name = token.partition(":")
        if kind == "root":
            return self.case_dir(name)
        if name not in self.etags:
            raise BadCase(f"{{etag:{name}}} used before a step saved it")
        return self.etags[name]

    def case_dir(self, root: str) -> str:
        return os.path.join(self.base, "roots", root, self.case_name)

    def host_path(self, relative: str) -> str:
        """A case-relative path "ROOT/REL" on the host."""
        root, _, rest = relative.partition("/")
        if not root:
            raise BadCase(f"case-relative path {relative!r} names no root")
        return os.path.join(self.case_dir(root), rest) if rest else self.case_dir(root)

    # -- one case -----------------------------------------------------------

    def run_case(self, case: Dict[str, Any], roots: List[str]) -> List[str]:
        """Runs one case; returns what went wrong (empty: passed)."""
        self.case_name = case["name"]
        self.etags: Dict[str, str] = {}
        check_fields(f"case {self.case_name}", case,
                     {"name", "setup", "steps", "files"})
        problems: List[str] = []
        for root in roots:
            path = self.case_dir(root)
            if os.path.lexists(path):
                shutil.rmtree(path)
            os.mkdir(path)
            os.chmod(path, 0o755)
        try:
            try:
                for index, entry in enumerate(case.get("setup", []), 1):
                    self.setup(entry, f"setup {index}")
                for index, step in enumerate(case.get("steps", []), 1):
                    self.step(step, index)
            except Mismatch as mismatch:
                problems.append(str(mismatch))
            if not problems:
                # Files are compared only when every step behaved: after a
                # failed step they could only repeat the failure.
                for relative, state in case.get("files", {}).items():
                    problems += self.check_file(self.expand(relative), state)
            leftovers = temp_files(self.base)
            if leftovers:
                problems.append("temp files left behind: " + ", ".join(leftovers))
        finally:
            for root in roots:
                shutil.rmtree(self.case_dir(root), ignore_errors=True)
        return problems

    def setup(self, raw: Dict[str, Any], what: str) -> None:
        entry = self.expand(raw)
        kinds = [kind for kind in ("file", "dir", "symlink", "fifo") if kind in entry]
        if len(kinds) != 1:
            raise BadCase(f"{what}: needs exactly one of file, dir, symlink, fifo")
        kind = kinds[0]
        allowed = {"file": {"file", "mode", *CONTENT_KEYS}, "dir": {"dir"},
                   "symlink": {"symlink", "target"}, "fifo": {"fifo"}}[kind]
        check_fields(what, entry, allowed)
        path = self.host_path(entry[kind])
        if kind == "dir":
            os.makedirs(path, mode=0o755, exist_ok=True)
            os.chmod(path, 0o755)
            return
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        if kind == "file":
            with open(path, "wb") as file:
                file.write(content_of(entry, what))
            os.chmod(path, int(entry.get("mode", 0o644)))
        elif kind == "symlink":
            if "target" not in entry:
                raise BadCase(f"{what}: a symlink needs a target")
            os.symlink(entry["target"], path)
        else:
            os.mkfifo(path, 0o644)

    def step(self, raw: Dict[str, Any], index: int) -> None:
        call = raw.get("call")
        if call not in STEP_FIELDS:
            raise BadCase(f"step {index}: unknown call {call!r}")
        check_fields(f"step {index} ({call})", raw,
                     COMMON_FIELDS | STEP_FIELDS[call])
        step = self.expand(raw)
        label = f"step {index} ({call} {raw.get('path', '')})".replace(" )", ")")
        expect = step.get("expect")
        if not isinstance(expect, dict) or "code" not in expect:
            raise BadCase(f"{label}: expect.code is required")
        check_fields(f"{label}: expect", expect,
                     {"code", "message_contains", *EXPECT_FIELDS})
        for field in EXPECT_FIELDS:
            if field in expect and call not in EXPECT_FIELDS[field]:
                raise BadCase(f"{label}: expect.{field} does not apply to {call}")
        if call not in ("whoami", "stats") and "path" not in step:
            raise BadCase(f"{label}: path is required")
        socket = step.get("socket")
        if socket not in (None, "missing"):
            raise BadCase(f"{label}: unknown socket {socket!r}")

        code, message, answer = self.perform(call, step, socket == "missing")
        problems = self.compare(call, expect, code, message, answer)
        if problems:
            raise Mismatch(f"{label}: " + "; ".join(problems))
        if "save_etag" in step and code == "OK":
            self.etags[step["save_etag"]] = answer.etag

    def perform(self, call: str, step: Dict[str, Any],
                missing_socket: bool) -> Tuple[str, str, Any]:
        """Runs the call; (code name, error message, answer or None)."""
        client = self.client
        if missing_socket:
            client = durable.Client(
                os.path.join(self.base, f"missing-{self.case_name}.sock"),
                timeout=60)
        try:
            if call == "raw_stream":
                return self.raw_stream(step, missing_socket)
            return "OK", "", self.call_client(client, call, step)
        except durable.DurableError as error:
            return error.code.name, error.message, None
        finally:
            if missing_socket:
                client.close()

    def call_client(self, client: durable.Client, call: str,
                    step: Dict[str, Any]) -> Any:
        path = step.get("path", "")
        if call in ("write", "write_stream"):
            data = content_of(step, call)
            options: Dict[str, Any] = {
                "mode": int(step.get("mode", 0)),
                "if_absent": bool(step.get("if_absent", False)),
                "if_match": step.get("if_match") or None,
                "create_parents": bool(step.get("create_parents", False)),
            }
            if "expected_sha256" in step:
                options["expected_sha256"] = digest_of(step["expected_sha256"])
            if call == "write":
                return client.write(path, data, **options)
            chunk_size = int(step.get("chunk_size", 65536))
            if chunk_size <= 0:
                raise BadCase("chunk_size must be positive")
            chunks = (data[i:i + chunk_size]
                      for i in range(0, len(data), chunk_size))
            size = len(data) if step.get("announce_size", True) else None
            return client.write(path, chunks, size=size, **options)
        if call == "stat":
            return client.stat(path)
        if call == "remove":
            return Removed(client.remove(path, if_match=step.get("if_match") or None))
        if call == "whoami":
            return client.whoami()
        return client.stats()

    def raw_stream(self, step: Dict[str, Any],
                   missing_socket: bool) -> Tuple[str, str, Any]:
        messages = []
        for index, raw in enumerate(step.get("messages", []), 1):
            what = f"messages[{index}]"
            check_fields(what, raw, {"header", "data", "finish", *CONTENT_KEYS})
            message = durable_pb2.WriteChunk()
            if "header" in raw:
                header = raw["header"]
                check_fields(f"{what}.header", header, HEADER_FIELDS)
                message.header.SetInParent()
                message.header.path = header.get("path", "")
                if "size" in header:
                    message.header.size = int(header["size"])
                options = message.header.options
                options.mode = int(header.get("mode", 0))
                options.if_absent = bool(header.get("if_absent", False))
                options.if_match = header.get("if_match", "")
                options.create_parents = bool(header.get("create_parents", False))
                if "expected_sha256" in header:
                    options.expected_sha256 = digest_of(header["expected_sha256"])
            data = raw.get("data")
            if isinstance(data, str):
                message.data = data.encode("utf-8")
            elif isinstance(data, dict):
                message.data = content_of(data, f"{what}.data")
            elif data is not None:
                raise BadCase(f"{what}.data must be a string or a content object")
            elif any(key in raw for key in CONTENT_KEYS):
                message.data = content_of(raw, what)
            message.finish = bool(raw.get("finish", False))
            messages.append(message)
        pause = float(step.get("pause_ms_before_close", 0)) / 1000

        def requests() -> Iterator[durable_pb2.WriteChunk]:
            yield from messages
            if pause:
                time.sleep(pause)

        stub = self.stub
        channel = None
        if missing_socket:
            channel = grpc.insecure_channel(
                "unix:" + os.path.join(self.base, f"missing-{self.case_name}.sock"))
            stub = durable_pb2_grpc.DurableWriterStub(channel)
        try:
            response = stub.WriteStream(requests(), timeout=60)
        except grpc.RpcError as error:
            return error.code().name, error.details() or "", None
        finally:
            if channel is not None:
                channel.close()
        return "OK", "", durable.WriteResult(
            size=response.size, sha256=bytes(response.sha256),
            etag=response.etag, created=response.created,
            superseded=response.superseded)

    def compare(self, call: str, expect: Dict[str, Any], code: str,
                message: str, answer: Any) -> List[str]:
        if code != expect["code"]:
            got = f"{code} ({message})" if message else code
            return [f"expected {expect['code']}, got {got}"]
        problems = []
        wanted = expect.get("message_contains", [])
        if isinstance(wanted, str):
            wanted = [wanted]
        for part in wanted:
            if part not in message:
                problems.append(f"message {message!r} lacks {part!r}")
        if code != "OK":
            answer_fields = sorted(f for f in EXPECT_FIELDS if f in expect)
            if answer_fields:
                raise BadCase(f"expect.{answer_fields[0]} given for a failing call")
            return problems
        etag = getattr(answer, "etag", None)
        if etag is not None and not ETAG.match(etag):
            problems.append(f"etag {etag!r} is not 16 lowercase hex digits")

        def same(field: str, actual: Any) -> None:
            if field in expect and expect[field] != actual:
                problems.append(f"{field}: expected {expect[field]!r}, got {actual!r}")

        if call in WRITES:
            same("created", answer.created)
            same("superseded", answer.superseded)
            same("size", answer.size)
            same("sha256", answer.sha256.hex())
        if call == "stat":
            same("size", answer.size)
            same("mode", answer.mode)
        if "etag_equals" in expect:
            same("etag_equals", etag)
        if "etag_differs" in expect and etag == expect["etag_differs"]:
            problems.append(f"etag {etag} did not change")
        if call == "whoami":
            if "uid_is_self" in expect and (answer.uid == os.getuid()) != expect["uid_is_self"]:
                problems.append(f"uid_is_self: expected {expect['uid_is_self']}, "
                                f"uid {answer.uid}, the runner's {os.getuid()}")
            if "grant_names" in expect and set(answer.names) != set(expect["grant_names"]):
                problems.append(f"grant names {sorted(answer.names)}, expected "
                                f"{sorted(expect['grant_names'])}")
            same("denied_roots_count", len(answer.denied_roots))
        if call == "stats" and "writes_ok_at_least" in expect:
            if answer.writes_ok < expect["writes_ok_at_least"]:
                problems.append(f"writes_ok {answer.writes_ok} < "
                                f"{expect['writes_ok_at_least']}")
        return problems

    def check_file(self, relative: str, state: Dict[str, Any]) -> List[str]:
        check_fields(f"files[{relative}]", state,
                     {"absent", "type", "mode", *CONTENT_KEYS})
        path = self.host_path(relative)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            info = None
        if state.get("absent"):
            if len(state) > 1:
                raise BadCase(f"files[{relative}]: absent with other fields")
            return [] if info is None else [f"{relative} exists, expected absent"]
        if info is None:
            return [f"{relative} does not exist"]
        problems = []
        kind = state.get("type")
        if kind is None and any(key in state for key in CONTENT_KEYS):
            kind = "file"
        checks = {"file": stat.S_ISREG, "dir": stat.S_ISDIR,
                  "symlink": stat.S_ISLNK, "fifo": stat.S_ISFIFO}
        if kind is not None:
            if kind not in checks:
                raise BadCase(f"files[{relative}]: unknown type {kind!r}")
            if not checks[kind](info.st_mode):
                return [f"{relative} is not a {kind} (mode {info.st_mode:o})"]
        if any(key in state for key in CONTENT_KEYS):
            expected = content_of(state, f"files[{relative}]")
            with open(path, "rb") as file:
                actual = file.read()
            if actual != expected:
                problems.append(f"{relative} holds {len(actual)} bytes "
                                f"{actual[:40]!r}, expected {len(expected)} "
                                f"bytes {expected[:40]!r}")
        if "mode" in state and stat.S_IMODE(info.st_mode) != int(state["mode"]):
            problems.append(f"{relative} has mode {stat.S_IMODE(info.st_mode):o}, "
                            f"expected {int(state['mode']):o}")
        return problems

    # -- all cases ----------------------------------------------------------

    def run(self, selected: List[str]) -> int:
        check_fields("cases file", self.document, {"roots", "cases"})
        roots = list(self.document.get("roots", []))
        cases = self.document.get("cases", [])
        names: Set[str] = set()
        for case in cases:
            name = case.get("name", "")
            if not CASE_NAME.match(name) or name in names:
                raise BadCase(f"case name {name!r} is not [a-z0-9_]+ or not unique")
            names.add(name)
        unknown = [name for name in selected if name not in names]
        if unknown:
            raise BadCase("no such case: " + ", ".join(unknown))
        failed: List[str] = []
        bad: List[str] = []
        ran = 0
        started = time.monotonic()
        for case in cases:
            if selected and case["name"] not in selected:
                continue
            ran += 1
            try:
                problems = self.run_case(case, roots)
            except BadCase as error:
                bad.append(case["name"])
                print(f"BAD  {case['name']}: case format: {error}", flush=True)
                continue
            except Exception as error:  # the client misbehaved
                problems = [f"{type(error).__name__}: {error}"]
            if problems:
                failed.append(case["name"])
                print(f"FAIL {case['name']}: " + " | ".join(problems), flush=True)
            else:
                print(f"ok   {case['name']}", flush=True)
        print(f"python conformance: {ran - len(failed) - len(bad)} of {ran} "
              f"cases passed, {len(failed)} failed, {len(bad)} malformed "
              f"({time.monotonic() - started:.1f} s)")
        for name in failed + bad:
            print(f"  not passed: {name}")
        return 1 if failed or bad else 0


class Removed:
    """remove's answer: the removed file's etag."""

    def __init__(self, etag: str) -> None:
        self.etag = etag


def temp_files(base: str) -> List[str]:
    found = []
    for directory, dirs, files in os.walk(base):
        found += [os.path.join(directory, name) for name in dirs + files
                  if name.startswith(".durabled-tmp.")]
    return found


def main(argv: List[str]) -> int:
    override = None
    if argv[:1] == ["--cases"] and len(argv) >= 2:
        override, argv = argv[1], argv[2:]
    try:
        base = os.environ["DURABLE_CONFORMANCE_BASE"]
        socket = os.environ["DURABLED_SOCKET"]
        cases = override or os.environ["DURABLE_CONFORMANCE_CASES"]
    except KeyError as missing:
        print(f"{missing} is not set: run under tests/conformance/with-daemon.sh",
              file=sys.stderr)
        return 2
    print(f"durable {durable.__version__} from {os.path.dirname(durable.__file__)}")
    runner = Runner(base, socket, cases)
    try:
        return runner.run(argv)
    except BadCase as error:
        print(f"bad cases file {cases}: {error}", file=sys.stderr)
        return 2
    finally:
        runner.client.close()
        runner.channel.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
