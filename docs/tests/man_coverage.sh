#!/bin/bash
# The man pages document everything the binaries and the schema have:
#  - every option `durablectl --help` prints is an entry of durablectl(1);
#  - every flag `durabled --help` prints, and every ABSL_FLAG of
#    server/daemon/main.cc, is an entry of durabled(8);
#  - every exit code `durablectl --help` lists is in durablectl(1)'s EXIT
#    STATUS, and every exit status main.cc returns in durabled(8)'s;
#  - every field (and enum value) of config.proto's messages is an entry of
#    durabled.conf(5)'s FIELDS.
# The help texts are parsed from the built binaries; the schema with a
# parser of its own (not the generator's), so a bug there is not hidden.
#
#   man_coverage.sh --durablectl BIN --durabled BIN --main-cc FILE
#                   --proto FILE --pages DIR
set -uo pipefail

while (($# > 0)); do
    case $1 in
        --durablectl) durablectl=$2 ;;
        --durabled) durabled=$2 ;;
        --main-cc) main_cc=$2 ;;
        --proto) proto=$2 ;;
        --pages) pages=$2 ;;
        *) echo "usage: $0 --durablectl BIN --durabled BIN --main-cc FILE --proto FILE --pages DIR"; exit 2 ;;
    esac
    shift 2
done

failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# A page as text: no hyphenation or justification, wide, no overstrikes.
render() {
    LC_ALL=C MANWIDTH=200 man --nh --nj -l "$1" 2>/dev/null | col -bx
}
# The lines of section $2 (an unindented heading) of rendered text $1.
section() {
    awk -v want="$2" '/^[^ ]/ { inside = ($0 == want); next } inside' <<<"$1"
}
# The --options in text on stdin, one per line, without "--" or "=VALUE".
options_in() {
    grep -oE '(^|[^A-Za-z0-9_-])--[a-z][a-z0-9_-]*' | sed -E 's/^[^-]*--//' | sort -u
}
# Whether rendered text $1 has an entry (a line that starts with it, maybe
# after other options of the same entry) for option --$2.
has_option_entry() {
    grep -qE -- "^ +(--[^ ]+, )*--$2([=, []|$)" <<<"$1"
}

for page in durablectl.1.gz durabled.8.gz durabled.conf.5.gz; do
    [[ -s $pages/$page ]] || fail "$pages/$page is missing"
done
((failures == 0)) || exit 1
durablectl_page=$(render "$pages/durablectl.1.gz")
durabled_page=$(render "$pages/durabled.8.gz")
conf_page=$(render "$pages/durabled.conf.5.gz")

# --- durablectl(1) ---------------------------------------------------------
help=$("$durablectl" --help) || fail "durablectl --help exited $?"
options=$(options_in <<<"$help")
[[ -n $options ]] || fail "found no options in durablectl --help"
for option in $options; do
    if has_option_entry "$durablectl_page" "$option"; then
        echo "ok: durablectl(1) documents --$option"
    else
        fail "durablectl --help prints --$option; durablectl(1) has no entry for it"
    fi
done
exit_help=$(awk '/^Exit codes:/ { inside = 1; next } inside && /^[^ ]/ { inside = 0 } inside' <<<"$help")
codes=$(grep -oE '(^|[[:space:]])[0-9]+[[:space:]]+[a-z]' <<<"$exit_help" | grep -oE '[0-9]+' | sort -nu)
(($(wc -w <<<"$codes") >= 2)) || fail "found no exit codes in durablectl --help"
exit_status=$(section "$durablectl_page" "EXIT STATUS")
for code in $codes; do
    if grep -qE "^ +$code( |$)" <<<"$exit_status"; then
        echo "ok: durablectl(1) documents exit code $code"
    else
        fail "durablectl --help lists exit code $code; durablectl(1)'s EXIT STATUS does not"
    fi
done

# --- durabled(8) -----------------------------------------------------------
# Abseil's --help exits 1; what counts is what it prints.
daemon_help=$("$durabled" --help 2>&1)
help_flags=$(options_in <<<"$daemon_help")
main_flags=$(tr '\n' ' ' <"$main_cc" | grep -oE 'ABSL_FLAG\( *[^,]+, *[a-z_][a-z0-9_]* *,' |
    sed -E 's/^ABSL_FLAG\( *[^,]+, *([a-z0-9_]+) *,$/\1/' | sort -u)
[[ -n $main_flags ]] || fail "found no ABSL_FLAG in $main_cc"
missing_from_help=""
for flag in $main_flags; do
    grep -qx -- "$flag" <<<"$help_flags" || missing_from_help+=" --$flag"
done
[[ -z $missing_from_help ]] ||
    echo "note: durabled --help does not list$missing_from_help (checked from $main_cc)"
# shellcheck disable=SC2086 # one flag per word
for flag in $(printf '%s\n' $help_flags $main_flags | sort -u); do
    if has_option_entry "$durabled_page" "$flag"; then
        echo "ok: durabled(8) documents --$flag"
    else
        fail "durabled has flag --$flag (--help or main.cc); durabled(8) has no entry for it"
    fi
done
daemon_codes=$(grep -oE '\b(return|exit|_exit|_Exit) *\(? *(EXIT_SUCCESS|EXIT_FAILURE|[0-9]+) *\)? *;' "$main_cc" |
    grep -oE 'EXIT_SUCCESS|EXIT_FAILURE|[0-9]+ *\)? *;$' | sed -E 's/EXIT_SUCCESS/0/; s/EXIT_FAILURE/1/; s/[^0-9]//g' | sort -nu)
# Abseil's flag parsing exits 1 on a bad flag.
# shellcheck disable=SC2086 # one code per word
daemon_codes=$(printf '%s\n' $daemon_codes 1 | sort -nu)
daemon_exit_status=$(section "$durabled_page" "EXIT STATUS")
for code in $daemon_codes; do
    if grep -qE "^ +$code( |$)" <<<"$daemon_exit_status"; then
        echo "ok: durabled(8) documents exit status $code"
    else
        fail "durabled exits $code (main.cc); durabled(8)'s EXIT STATUS does not say so"
    fi
done

# --- durabled.conf(5) ------------------------------------------------------
# Fields: "[optional|repeated] TYPE name = N;" inside a message; enum values
# "NAME = N;" inside an enum. Comments are dropped first.
schema=$(sed -E 's://.*$::' "$proto" | awk '
    /^[ \t]*(message|enum)[ \t]+[A-Za-z_][A-Za-z0-9_]*[ \t]*\{/ {
        depth++; kind[depth] = $1; next }
    /\}/ { depth--; next }
    depth > 0 && kind[depth] == "message" &&
        match($0, /^[ \t]*((optional|repeated)[ \t]+)?[A-Za-z_.][A-Za-z0-9_.]*[ \t]+[a-z_][a-z0-9_]*[ \t]*=/) {
        line = substr($0, RSTART, RLENGTH); sub(/[ \t]*=$/, "", line)
        n = split(line, words, /[ \t]+/); print "field " words[n]; next }
    depth > 0 && kind[depth] == "enum" &&
        match($0, /^[ \t]*[A-Z][A-Z0-9_]*[ \t]*=/) {
        line = substr($0, RSTART, RLENGTH); gsub(/[ \t=]/, "", line)
        print "value " line }')
(($(grep -c '^field ' <<<"$schema") >= 10)) || fail "found too few fields in $proto"
fields=$(section "$conf_page" "FIELDS")
while read -r kind name; do
    if [[ $kind == field ]]; then
        pattern="(^ +|, )$name: "
    else
        pattern="^ +$name( \(the default\))?$"
    fi
    if grep -qE -- "$pattern" <<<"$fields"; then
        echo "ok: durabled.conf(5) documents $kind $name"
    else
        fail "config.proto has $kind $name; durabled.conf(5)'s FIELDS has no entry for it"
    fi
done <<<"$schema"
# The generator marks a field whose comment is missing: every field must
# say what it does.
if grep -q "Not documented in config.proto" <<<"$fields"; then
    fail "durabled.conf(5) has fields without a comment in $proto:" \
        "$(grep -B1 "Not documented in config.proto" <<<"$fields" | grep -v Not | tr -s ' ')"
fi

((failures == 0)) || { echo "$failures failures"; exit 1; }
echo "all man page coverage checks passed"
