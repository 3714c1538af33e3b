"""The conformance runner checks what tests/conformance/README.md defines.

runner/passing.json uses every field of the format and must pass;
runner/failing.json holds cases that are each wrong in one way, which the
runner must report (FAIL: the client's behaviour differs; BAD: the case
breaks the format). Both run under tests/conformance/with-daemon.sh, as the
real cases do (ctest conformance_python).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

HERE = Path(__file__).resolve().parent
SOURCE = Path(os.environ.get("DURABLE_SOURCE_DIR", HERE.parents[2]))
WITH_DAEMON = SOURCE / "tests" / "conformance" / "with-daemon.sh"

FAILING: Dict[str, str] = {
    "wrong_code": "FAIL expected OK, got NOT_FOUND",
    "wrong_size": "FAIL size: expected 4, got 3",
    "wrong_created": "FAIL created: expected False, got True",
    "wrong_sha256": "FAIL sha256: expected '00'",
    "wrong_message": "FAIL lacks 'no such words'",
    "wrong_etag": "FAIL etag_equals: expected",
    "same_etag": "FAIL did not change",
    "wrong_stat_mode": "FAIL mode: expected 420, got 384",
    "wrong_names": "FAIL grant names",
    "wrong_denied_count": "FAIL denied_roots_count: expected 5, got 1",
    "wrong_uid": "FAIL uid_is_self: expected False",
    "wrong_writes_ok": "FAIL < 1000000",
    "wrong_content": "FAIL rw/a holds 3 bytes b'abc', expected 3 bytes b'abd'",
    "wrong_file_mode": "FAIL rw/a has mode 644, expected 600",
    "not_absent": "FAIL rw/a exists, expected absent",
    "missing_file": "FAIL rw/a does not exist",
    "wrong_type": "FAIL rw/d is not a fifo",
    "unknown_step_field": "BAD unknown field(s) if_newer",
    "unknown_expect_field": "BAD expect: unknown field(s) owner",
    "unknown_call": "BAD unknown call 'rename'",
    "unsaved_etag": "BAD {etag:nope} used before a step saved it",
    "two_setup_kinds": "BAD needs exactly one of",
    "unknown_files_field": "BAD files[rw/a]: unknown field(s) owner",
}


def run_runner(cases: Path) -> subprocess.CompletedProcess:
    binary = os.environ.get("DURABLED_BINARY")
    if not binary:
        pytest.skip("DURABLED_BINARY is not set")
    if not WITH_DAEMON.exists():
        pytest.skip(f"{WITH_DAEMON} not found (set DURABLE_SOURCE_DIR)")
    return subprocess.run(
        ["bash", str(WITH_DAEMON), binary, "--", sys.executable,
         str(HERE / "conformance_runner.py"), "--cases", str(cases)],
        capture_output=True, text=True, timeout=120)


def verdicts(output: str) -> Dict[str, str]:
    found = {}
    for line in output.splitlines():
        verdict, _, rest = line.partition(" ")
        if verdict in ("ok", "FAIL", "BAD"):
            name, _, reason = rest.strip().partition(":")
            found[name] = f"{verdict} {reason.strip()}"
    return found


def test_every_field_of_the_format_passes() -> None:
    result = run_runner(HERE / "runner" / "passing.json")
    assert result.returncode == 0, result.stdout + result.stderr
    found = verdicts(result.stdout)
    assert len(found) == 6 and all(v == "ok " for v in found.values()), found


def test_every_kind_of_mismatch_is_reported() -> None:
    result = run_runner(HERE / "runner" / "failing.json")
    assert result.returncode == 1, result.stdout + result.stderr
    found = verdicts(result.stdout)
    assert set(found) == set(FAILING)
    for name, expected in FAILING.items():
        verdict, _, words = expected.partition(" ")
        assert found[name].startswith(verdict + " "), (name, found[name])
        assert words in found[name], (name, found[name])
