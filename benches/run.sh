#!/usr/bin/env bash
# Runs the benchmark suite and prints its results as markdown: the machine, the command, one
# table of per-call times (mean ns per call, overhead over the plain call, ratio against the
# best peer), one of contended throughput, and the sizes report.
#
#   benches/run.sh                      # run everything, then report
#   benches/run.sh -- breaker           # arguments after `--` go to the bench binaries
#   benches/run.sh --no-run             # report the last results without running anything
#
# The report goes to stdout, cargo's and criterion's progress to stderr, so
# `benches/run.sh > perf.md` keeps only the markdown. Results are read from criterion's JSON
# (`<target>/criterion/**/new/{benchmark,estimates}.json`); after a run, only the entries that
# run wrote are reported.
set -euo pipefail
cd "$(dirname "$0")/.."

run=1
bench_args=()
while (($#)); do
    case "$1" in
    --no-run) run=0 ;;
    --) shift; bench_args=("$@"); break ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')}"
criterion_dir="${CRITERION_HOME:-$target_dir/criterion}"

command="cargo bench -p resilience-benches"
if ((${#bench_args[@]})); then
    command+=" -- ${bench_args[*]}"
fi

since=0
elapsed=""
if ((run)); then
    since=$(date +%s)
    echo "==> $command" >&2
    # Progress to stderr; stdout is the report.
    cargo bench -p resilience-benches -- "${bench_args[@]}" 1>&2
    elapsed="$(($(date +%s) - since))"
fi

cpu="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)"
echo "## Benchmarks"
echo
echo "- command: \`$command\`${elapsed:+ (took ${elapsed} s, build included)}"
echo "- machine: ${cpu:-unknown CPU}, $(nproc) cores, $(uname -sr)"
echo "- toolchain: $(rustc --version)"
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo

python3 - "$criterion_dir" "$since" <<'PY'
import json
import os
import sys

criterion_dir, since = sys.argv[1], float(sys.argv[2])
GROUP_ORDER = ["breaker", "retry", "bulkhead", "rate_limit", "stacked", "timeout", "contended"]

entries = []
for root, _dirs, files in os.walk(criterion_dir):
    if os.path.basename(root) != "new" or "estimates.json" not in files:
        continue
    estimates_path = os.path.join(root, "estimates.json")
    written = os.path.getmtime(estimates_path)
    if written < since:
        continue  # from an earlier run
    with open(os.path.join(root, "benchmark.json")) as f:
        bench = json.load(f)
    with open(estimates_path) as f:
        mean = json.load(f)["mean"]
    elements = (bench.get("throughput") or {}).get("Elements") or 1
    entries.append({
        "group": bench["group_id"],
        "function": bench["function_id"] or "",
        "value": bench["value_str"] or "",
        "elements": elements,
        # Criterion's unit is one iteration; an iteration is `elements` calls.
        "ns": mean["point_estimate"] / elements,
        "low": mean["confidence_interval"]["lower_bound"] / elements,
        "high": mean["confidence_interval"]["upper_bound"] / elements,
        "written": written,
    })

if not entries:
    sys.exit(f"run.sh: no criterion results under {criterion_dir}")


def kind(entry):
    if entry["function"] == "plain":
        return "plain"
    if entry["function"].startswith("floor"):
        return "floor"  # a reference row: neither ours nor a peer
    return "ours" if entry["function"].startswith("ours") else "peer"


def group_key(group):
    return (GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER), group)


def label(entry):
    name = entry["function"]
    if entry["value"]:
        name += f" ({entry['value']})"
    return f"**{name}**" if kind(entry) == "ours" else name


def baseline(entry):
    plains = [e for e in entries if e["group"] == entry["group"] and kind(e) == "plain"]
    same = [e for e in plains if e["value"] == entry["value"]]
    chosen = same or plains
    return chosen[0]["ns"] if chosen else None


def peers_of(entry):
    return [e for e in entries if e["group"] == entry["group"]
            and e["value"] == entry["value"] and kind(e) == "peer"]


def order(entry):
    rank = {"plain": 0, "floor": 1, "ours": 2, "peer": 3}[kind(entry)]
    return (group_key(entry["group"]), entry["value"] if kind(entry) != "plain" else "",
            rank, entry["written"])


def fmt(x, digits=1):
    return f"{x:,.{digits}f}"


# Below this, a peer's overhead is indistinguishable from the plain call's and a ratio
# against it would be noise.
NOISE_NS = 0.5

per_call = sorted((e for e in entries if e["elements"] == 1), key=order)
contended = sorted((e for e in entries if e["elements"] > 1), key=order)

if per_call:
    print("### One call on a current-thread runtime (lower is better)")
    print()
    print("| group | entry | mean ns/call | 95% CI | overhead over plain, ns "
          "| overhead vs best peer | overhead vs each peer |")
    print("|---|---|---:|---:|---:|---:|---|")
    for e in per_call:
        base = baseline(e)
        overhead = e["ns"] - base if base is not None and kind(e) != "plain" else None
        ratio, each = "", ""
        peers = sorted(peers_of(e), key=lambda p: p["ns"])
        if overhead is not None and peers:

            def versus(peer):
                peer_overhead = peer["ns"] - base
                if peer_overhead <= NOISE_NS:
                    return "n/a (peer within noise of plain)"
                return f"{overhead / peer_overhead:.2f}×"

            ratio = versus(peers[0])
            if kind(e) == "ours":
                ratio += f" {peers[0]['function']}"
                each = ", ".join(f"{versus(p)} {p['function']}" for p in peers)
        print(f"| {e['group']} | {label(e)} | {fmt(e['ns'])} "
              f"| {fmt(e['low'])}–{fmt(e['high'])} "
              f"| {'' if overhead is None else f'{overhead:+.1f}'} | {ratio} | {each} |")
    print()

if contended:
    elements = contended[0]["elements"]
    print(f"### Contended: one shared instance, 2 workers, {elements:,} calls per iteration "
          "(higher calls/s is better)")
    print()
    print("| group | entry | mean ns/call | calls/s | overhead over plain, ns/call "
          "| calls/s vs best peer | calls/s vs each peer |")
    print("|---|---|---:|---:|---:|---:|---|")
    for e in contended:
        base = baseline(e)
        overhead = e["ns"] - base if base is not None and kind(e) != "plain" else None
        ratio, each = "", ""
        peers = sorted(peers_of(e), key=lambda p: p["ns"])
        if kind(e) != "plain" and peers:
            ratio = f"{peers[0]['ns'] / e['ns']:.2f}×"
            if kind(e) == "ours":
                ratio += f" {peers[0]['function']}"
                each = ", ".join(f"{p['ns'] / e['ns']:.2f}× {p['function']}" for p in peers)
        rate = 1e9 / e["ns"]
        print(f"| {e['group']} | {label(e)} | {fmt(e['ns'], 2)} | {rate / 1e6:,.1f} M "
              f"| {'' if overhead is None else f'{overhead:+.2f}'} | {ratio} | {each} |")
    print()

print("Overhead = mean − the same group's `plain` mean. Ratios compare overheads (per call; "
      "below 1 is better) or calls/s (contended; above 1 is better) with the peers in the same "
      "group; **bold** rows are ours.")
print()
PY

echo "### Sizes"
echo
cargo bench -q -p resilience-benches --bench sizes
