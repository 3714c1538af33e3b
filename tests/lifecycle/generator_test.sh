#!/bin/bash
# deploy/systemd-generator/durabled-generator: the drop-in it writes for a
# config (every root and the socket's directory as ReadWritePaths=, quoted
# and %-escaped, never globbed; PrivateTmp=no for a root under /tmp,
# ProtectHome=read-only for one under /home), that systemd parses it without
# a complaint, and that a bad or missing config writes nothing and still
# exits 0 (a generator must never fail the boot).
#
#   generator_test.sh DURABLED_BINARY SOURCE_DIR
set -uo pipefail
durabled=$(realpath "$1")
source_dir=$2
generator=$source_dir/deploy/systemd-generator/durabled-generator
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

run_generator() {  # CONFIG OUT_DIR
    mkdir -p "$2"
    DURABLED_CONFIG=$1 DURABLED_BIN=$durabled sh "$generator" "$2" "$2" "$2" \
        2>"$scratch/stderr"
}

cat >"$scratch/durabled.conf" <<'CONF'
socket { path: "/srv/sockets/durabled.sock" }
rule { root: "/var/lib/agents" allow_uid: 1000 }
rule { root: "/var/lib/agents/nested" allow_uid: 1001 }
rule { root: "/tmp/scratch" allow_uid: 1000 }
rule { root: "/home/${uid}/state" allow_uid: 1000 }
rule { root: "/srv/with space/and\"quote%1" allow_uid: 1000 }
CONF
run_generator "$scratch/durabled.conf" "$scratch/out" || fail "the generator exited $?"
dropin=$scratch/out/durabled.service.d/50-writable-paths.conf
expected='[Service]
ReadWritePaths="-/home"
ReadWritePaths="-/srv/sockets"
ReadWritePaths="-/srv/with space/and\"quote%%1"
ReadWritePaths="-/tmp/scratch"
ReadWritePaths="-/var/lib/agents"
PrivateTmp=no
ProtectHome=read-only'
got=$(grep -v '^#' "$dropin" 2>/dev/null)
if [[ $got == "$expected" ]]; then
    echo "ok: the drop-in lists every root once, the socket's directory, PrivateTmp=no, ProtectHome=read-only"
else
    fail "drop-in differs:"$'\n'"--- expected"$'\n'"$expected"$'\n'"--- got"$'\n'"$got"
fi

# systemd reads it as meant: the unit with the drop-in verifies cleanly.
if command -v systemd-analyze >/dev/null; then
    units=$scratch/units
    mkdir -p "$units"
    sed "s|^ExecStart=/usr/sbin/durabled|ExecStart=$durabled|" \
        "$source_dir/deploy/durabled.service" >"$units/durabled.service"
    cp "$source_dir/deploy/durabled.socket" "$units/"
    cp -r "$scratch/out/durabled.service.d" "$units/"
    verify=$(SYSTEMD_UNIT_PATH=$units: systemd-analyze verify "$units/durabled.service" 2>&1 |
        grep -v -e 'Failed to connect to bus' -e 'not been booted with systemd')
    if [[ -n $verify ]]; then
        fail "systemd-analyze verify complains:"$'\n'"$verify"
    else
        echo "ok: systemd-analyze verify accepts the unit with the drop-in"
    fi
else
    echo "skip: systemd-analyze is not installed"
fi

# Without /tmp or /home roots, the unit's own isolation stays.
printf 'rule { root: "/var/lib/only" allow_uid: 0 }\n' >"$scratch/plain.conf"
run_generator "$scratch/plain.conf" "$scratch/plain" || fail "exit $?"
plain=$(cat "$scratch/plain/durabled.service.d/50-writable-paths.conf" 2>/dev/null)
if grep -q 'ReadWritePaths="-/var/lib/only"' <<<"$plain" &&
    ! grep -q -e PrivateTmp -e ProtectHome <<<"$plain"; then
    echo "ok: a plain config relaxes nothing else"
else
    fail "plain config drop-in: $plain"
fi

# A root with a glob character is listed as it is, never expanded to a
# sibling that matches it.
mkdir -p "$scratch/globX"
printf 'rule { root: "%s/glob*" allow_uid: 0 }\n' "$scratch" >"$scratch/glob.conf"
run_generator "$scratch/glob.conf" "$scratch/glob" || fail "exit $?"
glob=$(cat "$scratch/glob/durabled.service.d/50-writable-paths.conf" 2>/dev/null)
if grep -qxF "ReadWritePaths=\"-$scratch/glob*\"" <<<"$glob" &&
    ! grep -q globX <<<"$glob"; then
    echo "ok: a root with '*' is not globbed"
else
    fail "glob root drop-in: $glob"
fi

# A bad config: nothing written, a message, exit 0.
printf 'rule { bogus: 1 }\n' >"$scratch/bad.conf"
run_generator "$scratch/bad.conf" "$scratch/bad"
status=$?
if ((status == 0)) && [[ ! -e $scratch/bad/durabled.service.d/50-writable-paths.conf ]] &&
    grep -q "bad.conf" "$scratch/stderr"; then
    echo "ok: a bad config writes nothing, says why, exits 0"
else
    fail "bad config: exit $status, stderr: $(cat "$scratch/stderr")"
fi
run_generator "$scratch/missing.conf" "$scratch/missing"
status=$?
if ((status == 0)) && [[ ! -e $scratch/missing/durabled.service.d ]]; then
    echo "ok: a missing config writes nothing, exits 0"
else
    fail "missing config: exit $status"
fi

if ((failures > 0)); then
    echo "$failures failures"
    exit 1
fi
echo "all generator checks passed"
