#!/usr/bin/env bash
# Builds the durabled-client wheel from a staged copy of this directory, so
# that nothing (setuptools' build/, *.egg-info, the generated stubs) is
# written into the source tree.
#
#   build-wheel.sh STAGE_DIR DIST_DIR
#
# STAGE_DIR is emptied and receives pyproject.toml, setup.py, README.md,
# the checkout's LICENSE, src/ and proto/durable/v1/durable.proto; the wheel
# (durabled_client-VERSION-py3-none-any.whl) goes to DIST_DIR, which holds
# nothing else afterwards. Environment: PYTHON (default /usr/bin/python3:
# Debian's, with python3-build, python3-wheel and setuptools), PROTOC and
# GRPC_PYTHON_PLUGIN (see setup.py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
proto_dir=$(cd "$here/../../proto" && pwd)
stage=$1 dist=$2
python=${PYTHON:-/usr/bin/python3}

rm -rf "$stage"
mkdir -p "$stage/proto/durable/v1" "$dist"
cp "$here/pyproject.toml" "$here/setup.py" "$here/README.md" "$here/../../LICENSE" "$stage/"
cp -R "$here/src" "$stage/src"
find "$stage/src" \( -name __pycache__ -o -name '*.egg-info' -o -name '*_pb2*.py*' \) \
  -prune -exec rm -rf {} +
cp "$proto_dir/durable/v1/durable.proto" "$stage/proto/durable/v1/"

rm -f "$dist"/durabled_client-*.whl
cd "$stage"
PYTHONDONTWRITEBYTECODE=1 DURABLE_PROTO_DIR="$stage/proto" \
  "$python" -m build --wheel --no-isolation --outdir "$dist" . >"$stage/build.log" 2>&1 ||
  { cat "$stage/build.log" >&2; echo "building the wheel failed" >&2; exit 1; }
ls "$dist"/durabled_client-*.whl
