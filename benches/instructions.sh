#!/usr/bin/env bash
# Counts instructions per call of every entry of `benches/benches/instructions.rs`, in both
# variants (`instructions` and `instructions_noinline`, every body and function
# `#[inline(never)]`), under callgrind, and prints a markdown table. Deterministic: unlike
# timings, the counts do not depend on the machine's load.
#
#   benches/instructions.sh                   # every entry
#   benches/instructions.sh breaker retry     # these entries
#
# Per call = (total at 200 000 calls − total at 100 000 calls) / 100 000, which cancels the
# program's setup. Needs valgrind. With INSTRUCTIONS_TSV=FILE, also writes `entry inline
# noinline` lines to FILE (run.sh's report checks issue 20's ratios on them).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed" >&2; exit 1; }

# The two binaries, as cargo built them (the newest build of each).
binaries="$(cargo bench -p resilience-benches --bench instructions --bench instructions_noinline \
    --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["target"]["name"], m["executable"])
')"
inline="$(awk '$1 == "instructions" { print $2 }' <<<"$binaries")"
noinline="$(awk '$1 == "instructions_noinline" { print $2 }' <<<"$binaries")"

if (($#)); then entries=("$@"); else mapfile -t entries < <("$inline" --list); fi

# Instructions of `calls` calls of `entry` under `binary`, setup included.
total() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" "$2" "$3" 2>&1 |
        grep -o 'refs: *[0-9,]*' | tr -dc 0-9
}
per_call() {
    local a b
    a="$(total "$1" "$2" 100000)"
    b="$(total "$1" "$2" 200000)"
    echo $(((b - a) / 100000))
}

echo "### Instructions per call (callgrind)"
echo
echo "\`benches/instructions.sh\`: $(rustc --version), $(date -u '+%Y-%m-%d %H:%M UTC'); the"
echo "totals at 200 000 and 100 000 calls of one entry, subtracted and divided by 100 000."
echo "\`noinline\`: every body and function \`#[inline(never)]\`."
echo
echo "| entry | inline | over plain | noinline | over plain |"
echo "|---|---:|---:|---:|---:|"
plain_inline="$(per_call "$inline" plain)"
plain_noinline="$(per_call "$noinline" plain)"
tsv="${INSTRUCTIONS_TSV:-/dev/null}"
printf 'plain\t%d\t%d\n' "$plain_inline" "$plain_noinline" >"$tsv"
for entry in "${entries[@]}"; do
    if [[ $entry == plain ]]; then
        echo "| plain | $plain_inline | | $plain_noinline | |"
        continue
    fi
    a="$(per_call "$inline" "$entry")"
    b="$(per_call "$noinline" "$entry")"
    printf '| %s | %d | %+d | %d | %+d |\n' "$entry" "$a" $((a - plain_inline)) "$b" $((b - plain_noinline))
    printf '%s\t%d\t%d\n' "$entry" "$a" "$b" >>"$tsv"
done
