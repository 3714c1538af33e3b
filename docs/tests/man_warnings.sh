#!/bin/bash
# Each man page renders without a warning: `man --warnings -l PAGE` prints
# nothing on stderr, both as a user's man runs it and as lintian does
# (LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z).
#
#   man_warnings.sh PAGE.gz...
set -uo pipefail
(($# > 0)) || { echo "usage: $0 PAGE..."; exit 2; }
command -v man >/dev/null || { echo "FAIL: no man (apt install man-db)"; exit 1; }
failures=0
for page in "$@"; do
    if [[ ! -s $page ]]; then
        echo "FAIL: $page is missing or empty"
        failures=$((failures + 1))
        continue
    fi
    for how in "default" "lintian"; do
        if [[ $how == default ]]; then
            errors=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
            status=$?
        else
            errors=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
                man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
            status=$?
        fi
        if ((status != 0)) || [[ -n $errors ]]; then
            echo "FAIL: $page ($how): man exited $status and printed:"
            printf '%s\n' "$errors" | sed 's/^/  /'
            failures=$((failures + 1))
        else
            echo "ok: $page renders without warnings ($how)"
        fi
    done
done
((failures == 0)) || { echo "$failures failures"; exit 1; }
