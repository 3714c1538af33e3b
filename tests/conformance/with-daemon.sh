#!/usr/bin/env bash
# Runs one conformance runner against a fresh durabled.
#
#   with-daemon.sh DURABLED_BINARY -- RUNNER [ARGS...]
#
# Makes a scratch base directory, writes daemon.conf.in's config there
# ({base}, {uid} expanded), makes roots/{rw,rw/denied,createonly,other,quota} and
# percaller/, starts the daemon, waits for its socket and runs RUNNER with
#
#   DURABLED_SOCKET             the daemon's socket
#   DURABLE_CONFORMANCE_BASE    the base directory (root NAME: $BASE/roots/NAME)
#   DURABLE_CONFORMANCE_CASES   tests/conformance/cases.json
#
# Afterwards it checks that no ".durabled-tmp." file is left anywhere under
# the base, stops the daemon with SIGTERM (it must exit 0) and exits with
# the runner's status (1 if the daemon or the check failed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
daemon=$(realpath "$1"); shift
[ "${1:-}" = "--" ] && shift

base=$(mktemp -d /tmp/durable-conformance.XXXXXX)
chmod 0755 "$base"
cleanup() {
  if [ -n "${daemon_pid:-}" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -KILL "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$base"
}
trap cleanup EXIT

mkdir -p "$base"/roots/{rw,rw/denied,createonly,other,quota} "$base/percaller"
# "${uid}" is the daemon's own placeholder and stays.
sed -e "s|{base}|$base|g" -e "s|\([^\$]\){uid}|\1$(id -u)|g" "$here/daemon.conf.in" \
  > "$base/durabled.conf"
"$daemon" --config="$base/durabled.conf" 2>"$base/durabled.log" &
daemon_pid=$!
for _ in $(seq 300); do
  [ -S "$base/durabled.sock" ] && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$base/durabled.log" >&2; exit 1; }
  sleep 0.05
done
[ -S "$base/durabled.sock" ] || { echo "daemon did not start" >&2; cat "$base/durabled.log" >&2; exit 1; }

status=0
DURABLED_SOCKET="$base/durabled.sock" DURABLE_CONFORMANCE_BASE="$base" \
  DURABLE_CONFORMANCE_CASES="$here/cases.json" "$@" || status=$?

leftovers=$(find "$base/roots" "$base/percaller" -name '.durabled-tmp.*' 2>/dev/null || true)
if [ -n "$leftovers" ]; then
  echo "FAILED: temp files left behind:" >&2; echo "$leftovers" >&2; status=1
fi
kill -TERM "$daemon_pid"
daemon_status=0; wait "$daemon_pid" || daemon_status=$?
daemon_pid=
if [ "$daemon_status" -ne 0 ]; then
  echo "FAILED: durabled exited $daemon_status on SIGTERM; its log:" >&2
  cat "$base/durabled.log" >&2; status=1
fi
if grep -qE "AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:" "$base/durabled.log"; then
  echo "FAILED: sanitizer report in the daemon's log:" >&2; cat "$base/durabled.log" >&2; status=1
fi
exit "$status"
