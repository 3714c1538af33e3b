#!/usr/bin/env bash
# Runs a command against the installed durabled-client wheel:
#
#   run-installed.sh VENV -- COMMAND [ARGS...]
#
# First checks that VENV's python imports `durable` from VENV's own
# site-packages (the installed wheel), not from a source tree; then runs
# COMMAND with PYTHONDONTWRITEBYTECODE=1, so that no __pycache__ lands in
# the source tree.
set -euo pipefail
venv=$1; shift
[ "${1:-}" = "--" ] && shift
if [ ! -x "$venv/bin/python" ]; then
  echo "no venv at $venv: build it with cmake --build BUILD --target python_client_venv" >&2
  exit 1
fi
export PYTHONDONTWRITEBYTECODE=1
"$venv/bin/python" -I - <<'PY'
import os, sys, sysconfig
import durable
from durable.v1 import durable_pb2_grpc  # the stubs generated at build time
purelib = os.path.realpath(sysconfig.get_paths()["purelib"])
where = os.path.realpath(durable.__file__)
if not where.startswith(purelib + os.sep):
    sys.exit(f"durable is imported from {where}, not from the venv's {purelib}")
print(f"durable {durable.__version__} installed at {os.path.dirname(where)}")
PY
exec "$@"
