#!/usr/bin/env bash
# Builds, installs and tests the Node client from its packed artefact:
#
#   run-tests.sh WORK_DIR DURABLED_BINARY [all|prepare|unit|conformance]
#
# prepare: stages the package (this directory's files, the LICENSE and a copy
#   of proto/durable/v1/durable.proto) in WORK_DIR/stage, packs it with
#   `npm pack` into WORK_DIR/dist, `npm ci`s the dev dependencies
#   (typescript, @types/node) from package-lock.json into WORK_DIR/dev and
#   installs the tarball into a scratch project WORK_DIR/consumer, then
#   checks that require('@durabled/client') resolves into
#   WORK_DIR/consumer/node_modules. Nothing is written to the source tree.
# unit: the types test (tsc --noEmit --strict against the installed
#   index.d.ts) and the node --test tests against a real daemon.
# conformance: tests/conformance/with-daemon.sh with conformance-runner.js.
#
# Exits 77 (skipped) if node or npm is missing.
set -euo pipefail
work=$(mkdir -p "$1" && cd "$1" && pwd)
daemon=$2
case $daemon in /*) ;; *) daemon=$PWD/$daemon ;; esac
mode=${3:-all}
here=$(cd "$(dirname "$0")/.." && pwd)    # client/node
top=$(cd "$here/../.." && pwd)             # the checkout

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "skipped: $tool is missing (apt-get install nodejs npm)"; exit 77
  fi
done
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
  echo "skipped: node $(node --version) is older than 18"; exit 77
fi
npm_flags=(--no-audit --no-fund --prefer-offline --loglevel=error)
export npm_config_update_notifier=false

prepare() {
  local version tarball
  version=$(node -p "require('$here/package.json').version")
  tarball=$work/dist/durabled-client-$version.tgz

  rm -rf "$work/stage" && mkdir -p "$work/stage/proto/durable/v1" "$work/dist"
  cp "$here/package.json" "$here/index.js" "$here/index.d.ts" "$here/README.md" \
     "$top/LICENSE" "$work/stage/"
  cp "$top/proto/durable/v1/durable.proto" "$work/stage/proto/durable/v1/"
  rm -f "$tarball"
  (cd "$work/stage" && npm pack --pack-destination "$work/dist" "${npm_flags[@]}" >/dev/null)
  [ -f "$tarball" ] || { echo "npm pack made no $tarball" >&2; exit 1; }
  echo "packed $tarball:"; tar -tzf "$tarball" | sed 's/^/  /'

  # Dev dependencies at the versions package-lock.json pins (only when it changed).
  if ! cmp -s "$here/package-lock.json" "$work/dev/package-lock.json" ||
     [ ! -x "$work/dev/node_modules/.bin/tsc" ]; then
    rm -rf "$work/dev" && mkdir -p "$work/dev"
    cp "$here/package.json" "$here/package-lock.json" "$work/dev/"
    (cd "$work/dev" && npm ci --ignore-scripts "${npm_flags[@]}")
    cp "$here/package-lock.json" "$work/dev/package-lock.json"
  fi

  # A scratch project that installs the tarball like any consumer would
  # (again only when the tarball changed: npm pack's output is reproducible).
  local digest
  digest=$(sha256sum "$tarball" | cut -d' ' -f1)
  if [ "$(cat "$work/consumer.sha256" 2>/dev/null)" != "$digest" ] ||
     [ ! -d "$work/consumer/node_modules/@durabled/client" ]; then
    rm -rf "$work/consumer" "$work/consumer.sha256" && mkdir -p "$work/consumer"
    printf '{"name": "durabled-node-consumer", "private": true}\n' > "$work/consumer/package.json"
    (cd "$work/consumer" && npm install --ignore-scripts "${npm_flags[@]}" "$tarball")
    echo "$digest" > "$work/consumer.sha256"
  else
    echo "the installed $tarball is up to date"
  fi
  check_resolution
}

check_resolution() {
  (cd "$work" && NODE_PATH="$work/consumer/node_modules" node -e '
    const path = require("path"), fs = require("fs");
    const where = require.resolve("@durabled/client");
    const expected = path.join(process.argv[1], "node_modules", "@durabled", "client") + path.sep;
    if (!where.startsWith(expected)) {
      console.error(`@durabled/client resolves to ${where}, not into ${expected}`); process.exit(1);
    }
    const client = require("@durabled/client");
    if (!fs.existsSync(client.PROTO_PATH) || !client.PROTO_PATH.startsWith(expected)) {
      console.error(`the package has no proto at ${client.PROTO_PATH}`); process.exit(1);
    }
    const version = require("@durabled/client/package.json").version;
    console.log(`@durabled/client ${version} installed at ${path.dirname(where)}`);
  ' "$work/consumer")
}

unit() {
  check_resolution
  cp "$here/test/types-test.ts" "$work/consumer/types-test.ts"
  (cd "$work/consumer" && "$work/dev/node_modules/.bin/tsc" --noEmit --strict \
     --target es2020 --module commonjs --moduleResolution node \
     --types node --typeRoots "$work/dev/node_modules/@types" types-test.ts)
  echo "types test: tsc --noEmit --strict passed"
  (cd "$work" && NODE_PATH="$work/consumer/node_modules" DURABLED_BINARY="$daemon" \
     DURABLE_NODE_CONSUMER="$work/consumer" node --test "$here/test/client.test.js")
}

conformance() {
  check_resolution
  (cd "$work" && bash "$top/tests/conformance/with-daemon.sh" "$daemon" -- \
     env NODE_PATH="$work/consumer/node_modules" node "$here/test/conformance-runner.js")
}

case $mode in
  prepare) prepare ;;
  unit) unit ;;
  conformance) conformance ;;
  all) prepare; unit; conformance ;;
  *) echo "usage: run-tests.sh WORK_DIR DURABLED_BINARY [all|prepare|unit|conformance]" >&2; exit 2 ;;
esac
