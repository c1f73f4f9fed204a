#!/usr/bin/env bash
# Runs the timed benches several rounds and prints a markdown report: per entry the median over
# rounds of criterion's mean time per call with its min–max range, the overhead over the
# group's plain call, the ratio to every floor and peer of the group (computed per round, then
# median and range), which of issue 20's targets held in every round, instructions per call
# (callgrind, both variants) and the sizes table; with the machine, toolchain, date, command
# and load averages.
#
#   benches/run.sh                         # 5 rounds of the default benches, then report
#   benches/run.sh --rounds 3              # 3 rounds
#   benches/run.sh --benches 'overhead overhead_noinline' -- 'breaker'
#                                          # some benches; after `--`, criterion's filter/flags
#   benches/run.sh --no-instructions       # skip the callgrind counts (a few minutes)
#   benches/run.sh --no-run                # report the last run's rounds again, run nothing
#   benches/run.sh --readme                # also put the report in README.md's "Performance"
#
# Default benches: overhead, overhead_noinline, contended, contended_noinline (the `noinline`
# ones are the same groups with every body and function `#[inline(never)]`), keyed and
# keyed_noinline. Each
# round runs criterion with CRITERION_FLAGS (default below: short, so 5 rounds take about 25
# min on 2 cores). Rounds are kept in <target>/bench-rounds/<round>/entries.json beside
# meta.json, instructions.md and sizes.md: `--no-run` regenerates the report from them. The
# report goes to stdout, progress to stderr, so `benches/run.sh > perf.md` keeps only the
# markdown.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/.."

rounds=5
run=1
instructions=1
benches="overhead overhead_noinline contended contended_noinline keyed keyed_noinline"
readme=()
criterion_flags="${CRITERION_FLAGS:---warm-up-time 0.5 --measurement-time 1.5 --nresamples 20000}"
bench_args=()
while (($#)); do
    case "$1" in
    --rounds) rounds="$2"; shift ;;
    --benches) benches="$2"; shift ;;
    --no-run) run=0 ;;
    --no-instructions) instructions=0 ;;
    --readme) readme=(README.md) ;;
    --) shift; bench_args=("$@"); break ;;
    -h | --help) sed -n '2,23p' "$self" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')}"
criterion_dir="${CRITERION_HOME:-$target_dir/criterion}"
out="$target_dir/bench-rounds"

if ((run)); then
    bench_flags=()
    for b in $benches; do bench_flags+=(--bench "$b"); done
    # shellcheck disable=SC2206 # the flags are words
    criterion=($criterion_flags)
    command="cargo bench -p resilience-benches ${bench_flags[*]} -- ${criterion[*]}"
    if ((${#bench_args[@]})); then
        command+="$(printf ' %q' "${bench_args[@]}")"
    fi
    echo "==> building" >&2
    cargo bench -p resilience-benches "${bench_flags[@]}" --no-run 1>&2
    rm -rf "$out"
    mkdir -p "$out"
    started="$(date -u '+%Y-%m-%d %H:%M UTC')"
    load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
    since_all=$(date +%s)
    python3 - "$out/meta.json" <<PY
import json, os, platform, subprocess, sys
cpu = "unknown CPU"
try:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    cpu = next(l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name"))
except Exception:
    pass
json.dump({
    "command": f"benches/run.sh --rounds $rounds (each round: $command)",
    "criterion": "$criterion_flags",
    "cpu": cpu,
    "cores": os.cpu_count(),
    "kernel": f"{platform.system()} {platform.release()}",
    "rustc": subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip(),
    "started": "$started",
    "load_start": "$load_start",
}, open(sys.argv[1], "w"), indent=1)
PY
    for ((round = 1; round <= rounds; round++)); do
        echo "==> round $round of $rounds: $command" >&2
        since="$(date +%s)"
        cargo bench -q -p resilience-benches "${bench_flags[@]}" -- \
            "${criterion[@]}" "${bench_args[@]}" 1>&2
        mkdir -p "$out/$round"
        python3 benches/report.py collect "$criterion_dir" "$since" "$out/$round/entries.json"
    done
    elapsed=$(($(date +%s) - since_all))
    python3 - "$out/meta.json" <<PY
import json, sys
meta = json.load(open(sys.argv[1]))
meta.update(finished="$(date -u '+%Y-%m-%d %H:%M UTC')",
            load_end="$(cut -d' ' -f1-3 /proc/loadavg)", elapsed_s=$elapsed)
json.dump(meta, open(sys.argv[1], "w"), indent=1)
PY
    if ((instructions)); then
        echo "==> instructions per call (callgrind)" >&2
        INSTRUCTIONS_TSV="$out/instructions.tsv" benches/instructions.sh >"$out/instructions.md"
    fi
    echo "==> sizes" >&2
    {
        echo "### Sizes"
        echo
        echo "\`cargo bench -p resilience-benches --bench sizes\`"
        echo
        cargo bench -q -p resilience-benches --bench sizes 2>/dev/null
    } >"$out/sizes.md"
fi

[[ -f $out/meta.json ]] || { echo "run.sh: no rounds in $out: run without --no-run" >&2; exit 1; }
python3 benches/report.py report "$out" "${readme[@]}"
