#!/bin/bash
# Tests deploy/completion/durablectl for real: sources bash-completion and
# the script in a clean `bash --norc`, sets COMP_WORDS, COMP_CWORD,
# COMP_LINE and COMP_POINT as readline would for a command line, calls
# _durablectl and compares COMPREPLY with what is expected.
#
#   completion_test.sh COMPLETION_SCRIPT [DURABLECTL]
#
# With DURABLECTL, also checks that every option `durablectl --help` lists
# for a command (and every global option) is offered for it.
set -euo pipefail

script=$1
durablectl=${2-}
bash_completion=/usr/share/bash-completion/bash_completion
[[ -r $bash_completion ]] || { echo "FAIL: no $bash_completion (apt install bash-completion)"; exit 1; }
[[ -r $script ]] || { echo "FAIL: no $script"; exit 1; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
touch "$dir/file1" "$dir/file2" "$dir/other.txt"
mkdir "$dir/fig"

# The harness, run by `bash --norc`. complete LINE prints COMPREPLY sorted,
# one per line, then "nospace" if the function asked for it.
cat >"$dir/harness.bash" <<'EOF'
set -u
shopt -s extglob progcomp
. "$BASH_COMPLETION"
. "$COMPLETION_SCRIPT"
set +u
# compopt only works while readline runs a completion function: record it.
compopt() {
    local arg
    for arg in "$@"; do [[ $arg == nospace ]] && NOSPACE=1; done
    return 0
}
# Splits LINE (cursor at its end) into COMP_WORDS the way readline does:
# blanks separate words, and each run of COMP_WORDBREAKS characters other
# than blanks (= and : among them) is a word of its own.
complete_line() {
    local line=$1 i c word="" breaks=${COMP_WORDBREAKS//[[:space:]]/}
    local -a parts=()
    local in_break=false
    for ((i = 0; i < ${#line}; i++)); do
        c=${line:i:1}
        if [[ $c == [[:space:]] ]]; then
            [[ -n $word ]] && parts+=("$word")
            word="" in_break=false
        elif [[ $breaks == *"$c"* ]]; then
            if ! $in_break; then
                [[ -n $word ]] && parts+=("$word")
                word=""
            fi
            word+=$c in_break=true
        else
            if $in_break; then
                parts+=("$word")
                word=""
            fi
            word+=$c in_break=false
        fi
    done
    parts+=("$word") # the word being completed, maybe empty
    COMP_WORDS=("${parts[@]}")
    COMP_CWORD=$((${#parts[@]} - 1))
    COMP_LINE=$line
    COMP_POINT=${#line}
    COMPREPLY=()
    NOSPACE=0
    _durablectl durablectl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf '%s\n' "${COMPREPLY[@]}" | sort | sed '/^$/d'
    ((NOSPACE)) && echo nospace
    return 0
}
complete_line "$LINE"
EOF

complete_line() {
    env -i PATH="$PATH" HOME="$dir" BASH_COMPLETION="$bash_completion" \
        COMPLETION_SCRIPT="$script" LINE="$1" \
        bash --norc --noprofile "$dir/harness.bash"
}

failures=0
# expect LINE EXPECTED...: COMPREPLY (and "nospace") must be exactly these.
expect() {
    local line=$1
    shift
    local got want
    if ! got=$(complete_line "$line" 2>"$dir/stderr"); then
        echo "FAIL: '$line': the completion failed: $(cat "$dir/stderr")"
        failures=$((failures + 1))
        return
    fi
    if [[ -s $dir/stderr ]]; then
        echo "FAIL: '$line': printed on stderr: $(cat "$dir/stderr")"
        failures=$((failures + 1))
    fi
    want=$(printf '%s\n' "$@" | sort | sed '/^$/d')
    # "nospace" comes last in the output, after the sorted replies.
    if [[ $want == *nospace* ]]; then
        want=$(printf '%s\n' "$@" | grep -vx nospace | sort | sed '/^$/d'; echo nospace)
        want=$(sed '/^$/d' <<<"$want")
    fi
    if [[ $got == "$want" ]]; then
        echo "ok: '$line' -> $(tr "\n" " " <<<"$got")"
    else
        echo "FAIL: '$line'"
        echo "  expected: $(tr "\n" " " <<<"$want")"
        echo "  got:      $(tr "\n" " " <<<"$got")"
        failures=$((failures + 1))
    fi
}

# What the brief asks for.
expect "durablectl " help rm stat stats whoami write write-set
expect "durablectl wr" write write-set
expect "durablectl write-set --from-dir=$dir/fi" "$dir/fig" "$dir/file1" "$dir/file2"
expect "durablectl write --if" --if-absent --if-match=
expect "durablectl --so" --socket= nospace
expect "durablectl stat $dir/fi" "$dir/fig" "$dir/file1" "$dir/file2"
expect "durablectl whoami --" --json
# Commands after global options, and every command's options.
expect "durablectl --timeout=5 st" stat stats
expect "durablectl --socket=/run/durabled/durabled.sock w" whoami write write-set
expect "durablectl --" --help --socket= --timeout= --version
expect "durablectl write --" --from= --if-absent --if-match= --mode= \
    --no-progress --parents --sha256=
expect "durablectl stat --" --json
expect "durablectl rm --" --if-match= nospace
expect "durablectl rm --if" --if-match= nospace
expect "durablectl stats --" --openmetrics
expect "durablectl help " # nothing
# Paths: for write, stat, rm; --from= and --socket= take files too.
expect "durablectl write $dir/fi" "$dir/fig" "$dir/file1" "$dir/file2"
expect "durablectl rm $dir/oth" "$dir/other.txt"
expect "durablectl write --from=$dir/fi" "$dir/fig" "$dir/file1" "$dir/file2"
expect "durablectl write --parents $dir/file1 --from=$dir/oth" "$dir/other.txt"
expect "durablectl --socket=$dir/oth" "$dir/other.txt"
# Once the PATH is there, only options; values without a completion.
expect "durablectl stat $dir/file1 " --json
expect "durablectl write $dir/file1 --no" --no-progress
expect "durablectl write --if-match=" # nothing
expect "durablectl --timeout=" # nothing
expect "durablectl whoami " --json
# A root name is one word and completes to nothing (no such local file).
expect "durablectl stat state:ag" # nothing

# Every option durablectl --help lists is offered where it belongs.
if [[ -n $durablectl ]]; then
    help=$("$durablectl" --help)
    section=""
    declare -A listed=()
    while IFS= read -r line; do
        if [[ $line =~ ^([a-z][a-z-]*):$ ]]; then
            section=${BASH_REMATCH[1]}
        elif [[ $line == "Options:" ]]; then
            section=global
        elif [[ $line =~ ^[A-Z] ]]; then
            section=""
        elif [[ -n $section && $line =~ ^\ +(--[a-z0-9-]+)(=?) ]]; then
            listed[$section]+=" ${BASH_REMATCH[1]}${BASH_REMATCH[2]}"
        fi
    done <<<"$help"
    if ((${#listed[@]} < 2)); then
        echo "FAIL: found no per-command option lists in durablectl --help"
        failures=$((failures + 1))
    fi
    for section in "${!listed[@]}"; do
        if [[ $section == global ]]; then
            line="durablectl --"
        else
            line="durablectl $section --"
        fi
        offered=$(complete_line "$line")
        for option in ${listed[$section]}; do
            if grep -qxF -- "$option" <<<"$offered"; then
                echo "ok: '$line' offers $option (durablectl --help)"
            else
                echo "FAIL: durablectl --help lists $option for $section," \
                    "the completion does not offer it for '$line'"
                failures=$((failures + 1))
            fi
        done
    done
fi

if ((failures > 0)); then
    echo "$failures failures"
    exit 1
fi
echo "all completion checks passed"
