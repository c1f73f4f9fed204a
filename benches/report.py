#!/usr/bin/env python3
"""Collects criterion's results into rounds and reports them as markdown (used by run.sh).

    report.py collect CRITERION_DIR SINCE OUT.json   # one round: results written after SINCE
    report.py report ROUNDS_DIR [README.md]          # every round under ROUNDS_DIR

With README.md, the report (its title left out, its headings one level down) also replaces
what stands between the README's markers `<!-- benches/run.sh: start -->` and `<!-- benches/run.sh: end -->`.

A round is one `cargo bench` of the selected benches; ROUNDS_DIR holds `meta.json` (written by
run.sh: command, machine, toolchain, dates, load averages), one `<round>/entries.json` per
round, and optionally `instructions.md` and `sizes.md`, printed as they are.

Per entry the report gives the median over rounds of criterion's mean time per call, with the
min–max range; the overhead over the same group's `plain` (median and range); and its ratio to
each floor and peer of the group, computed within each round (both sides measured minutes
apart in one process) and then reduced to a median and range. Issue 20's targets are checked
round by round: a target "held every round" when it held in each of them.
"""

import contextlib
import io
import json
import os
import statistics
import sys

GROUP_ORDER = ["breaker", "retry", "bulkhead", "rate_limit", "stacked", "timeout", "hedge",
               "keyed", "contended"]
NOINLINE = "/noinline"
TITLE = "## Benchmarks"
START, END = "<!-- benches/run.sh: start -->", "<!-- benches/run.sh: end -->"
# Below this a peer's (or floor's) overhead is within noise of the plain call's: no ratio.
NOISE_NS = 0.5


def collect(criterion_dir, since, out):
    entries = []
    for root, _dirs, files in os.walk(criterion_dir):
        if os.path.basename(root) != "new" or "estimates.json" not in files:
            continue
        estimates = os.path.join(root, "estimates.json")
        if os.path.getmtime(estimates) < since:
            continue  # from an earlier round or run
        with open(os.path.join(root, "benchmark.json")) as f:
            bench = json.load(f)
        with open(estimates) as f:
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
        })
    if not entries:
        sys.exit(f"report.py: no criterion results under {criterion_dir} since {since}")
    with open(out, "w") as f:
        json.dump(entries, f, indent=1)


def label(entry):
    return f"{entry['function']} ({entry['value']})" if entry["value"] else entry["function"]


def kind(name):
    if name == "plain":
        return "plain"
    if name.startswith("floor"):
        return "floor"
    return "ours" if name.startswith("ours") else "peer"


def base_group(group):
    return group[: -len(NOINLINE)] if group.endswith(NOINLINE) else group


def value_of(name):
    return name[name.index("(") + 1:-1] if name.endswith(")") else ""


def comparable(ours, other):
    """Whether `other` (a peer or floor) is compared with `ours` in the same group: the same
    criterion value (contended: breaker, bulkhead, ...), and in `stacked` the same depth."""
    if value_of(ours) != value_of(other):
        return False
    return depth(ours) == depth(other)


def depth(name):
    """How many layers a `stacked` entry's name joins with `+` (a floor's ` + ` is prose)."""
    return name.replace(" + ", " ").count("+")


class Rounds:
    def __init__(self, rounds):
        self.rounds = rounds  # [{(group, name): entry}]
        self.keys = []
        for r in rounds:
            for key in r:
                if key not in self.keys:
                    self.keys.append(key)

    def per_round(self, f):
        """f(round) for every round where it is defined (not None)."""
        values = [f(r) for r in self.rounds]
        return [v for v in values if v is not None]

    def overhead(self, r, group, name):
        entry, plain = r.get((group, name)), r.get((group, "plain"))
        if entry is None or plain is None:
            return None
        return entry["ns"] - plain["ns"]

    def ratio(self, r, group, name, other, calls_per_second=False):
        if calls_per_second:
            a, b = r.get((group, name)), r.get((group, other))
            return None if a is None or b is None else b["ns"] / a["ns"]
        a, b = self.overhead(r, group, name), self.overhead(r, group, other)
        if a is None or b is None or b <= NOISE_NS:
            return None
        return a / b

    def best_peer_ratio(self, r, group, name, peers):
        overheads = [self.overhead(r, group, p) for p in peers]
        overheads = [o for o in overheads if o is not None]
        a = self.overhead(r, group, name)
        if a is None or not overheads or min(overheads) <= NOISE_NS:
            return None
        return a / min(overheads)


def spread(values, digits=1, suffix=""):
    if not values:
        return "n/a"
    med = statistics.median(values)
    text = f"{med:,.{digits}f}{suffix}"
    if len(values) > 1:
        text += f" ({min(values):,.{digits}f}–{max(values):,.{digits}f})"
    return text


KIND_RANK = {"plain": 0, "floor": 1, "ours": 2, "peer": 3}


def order(key):
    """Groups in GROUP_ORDER, each variant after the default; in a group, by criterion value
    (contended: breaker, bulkhead, ...), by depth (stacked: three, then five), then plain,
    floors, ours, peers."""
    group, name = key
    base = base_group(group)
    rank = GROUP_ORDER.index(base) if base in GROUP_ORDER else len(GROUP_ORDER)
    plain = kind(name) == "plain"
    return (rank, base, group.endswith(NOINLINE), "" if plain else value_of(name),
            0 if plain else depth(name), KIND_RANK[kind(name)])


def per_call_table(data, keys):
    print("| group | entry | ns/call | overhead over plain, ns | overhead ratio per round "
          "(below 1: ours costs less) |")
    print("|---|---|---:|---:|---|")
    for group, name in keys:
        k = kind(name)
        ns = data.per_round(lambda r: r[(group, name)]["ns"] if (group, name) in r else None)
        over = data.per_round(lambda r: data.overhead(r, group, name)) if k != "plain" else []
        ratios = []
        if k == "ours":
            others = [n for g, n in keys if g == group and kind(n) in ("floor", "peer")
                      and comparable(name, n)]
            for other in others:
                if kind(other) == "floor":
                    # As in the targets table: a floor within noise counts as NOISE_NS.
                    values = data.per_round(
                        lambda r: target_value(data, r, group, name, "floor-ratio", other))
                else:
                    values = data.per_round(lambda r: data.ratio(r, group, name, other))
                partial = f" [{len(values)} of {len(data.rounds)} rounds]" \
                    if 0 < len(values) < len(data.rounds) else ""
                ratios.append(f"{spread(values, 2, '×')}{partial} {other}")
        shown = f"**{name}**" if k == "ours" else name
        print(f"| {group} | {shown} | {spread(ns)} | {spread(over) if over else ''} "
              f"| {'; '.join(ratios)} |")
    print()


def contended_table(data, keys):
    print("| group | entry | ns/call | calls/s, millions | calls/s ratio per round "
          "(above 1: ours serves more) |")
    print("|---|---|---:|---:|---|")
    for group, name in keys:
        k = kind(name)
        ns = data.per_round(lambda r: r[(group, name)]["ns"] if (group, name) in r else None)
        rate = [1e3 / v for v in ns]
        ratios = []
        if k == "ours":
            others = [n for g, n in keys if g == group and kind(n) == "peer"
                      and comparable(name, n)]
            for other in others:
                values = data.per_round(lambda r: data.ratio(r, group, name, other, True))
                ratios.append(f"{spread(values, 2, '×')} {other}")
        shown = f"**{name}**" if k == "ours" else name
        print(f"| {group} | {shown} | {spread(ns, 2)} | {spread(rate)} | {'; '.join(ratios)} |")
    print()


# Issue 20's targets: (text, group, ours, how, against, limit). `how` is one of
#   floor-ratio  overhead / the floor's overhead        ≤ limit
#   floor-plus   overhead − the floor's overhead, ns    ≤ limit
#   best-peer    overhead / the smallest peer overhead  ≤ limit
#   peer         overhead / that peer's overhead        ≤ limit
#   overhead     overhead, ns                           ≤ limit
#   throughput   calls/s / that peer's calls/s          ≥ limit
BREAKER_PEERS = ["failsafe consecutive", "recloser window", "tower-resilience window"]
TARGETS = [
    ("closed breaker, consecutive: ≤ 2× the floor's overhead", "breaker", "ours consecutive",
     "floor-ratio", "floor: relaxed load + branch", 2.0),
    ("closed breaker, consecutive: ≤ 0.25× the best peer's overhead", "breaker",
     "ours consecutive", "best-peer", BREAKER_PEERS, 0.25),
    ("closed breaker, count window: ≤ 2× the floor's overhead", "breaker", "ours window",
     "floor-ratio", "floor: relaxed load + branch", 2.0),
    ("closed breaker, count window: ≤ 0.25× the best peer's overhead", "breaker",
     "ours window", "best-peer", BREAKER_PEERS, 0.25),
    ("bulkhead: ≤ the floor's overhead + 2 ns", "bulkhead", "ours", "floor-plus",
     "floor: fetch_add + fetch_sub", 2.0),
    ("bulkhead: ≤ 0.5× tokio `Semaphore`'s overhead", "bulkhead", "ours", "peer",
     "tokio Semaphore", 0.5),
    ("bulkhead: ≤ 0.5× tower `ConcurrencyLimit`'s overhead", "bulkhead", "ours", "peer",
     "tower ConcurrencyLimit", 0.5),
    ("retry that does not fail: ≤ 2 ns overhead", "retry", "ours", "overhead", None, 2.0),
    ("timeout answering at once: ≤ 0.3× `tokio::time::timeout`'s overhead", "timeout", "ours",
     "peer", "tokio timeout", 0.3),
    ("three stacked: ≤ 20 ns overhead", "stacked", "ours retry+breaker+bulkhead", "overhead",
     None, 20.0),
    ("five stacked: ≤ 40 ns overhead", "stacked",
     "ours fallback+retry+breaker+bulkhead+timeout", "overhead", None, 40.0),
    ("keyed breaker, seen key: ≤ 0.5× governor `check_key`'s overhead", "keyed",
     "ours breaker, seen key", "peer", "governor check_key, seen key", 0.5),
    # The same targets with bodies that await their I/O (`awaiting.rs`), each against the
    # floor that awaits the same I/O.
    ("closed breaker, body awaiting I/O: ≤ 2× the floor's overhead", "awaiting",
     "ours (breaker)", "floor-ratio", "floor: relaxed load + branch (breaker)", 2.0),
    ("bulkhead, body awaiting I/O: ≤ the floor's overhead + 2 ns", "awaiting",
     "ours (bulkhead)", "floor-plus", "floor: fetch_add + fetch_sub (bulkhead)", 2.0),
    ("retry that does not fail, body awaiting I/O: ≤ 2 ns overhead", "awaiting", "ours (retry)",
     "overhead", None, 2.0),
    ("three stacked, body awaiting I/O: ≤ 20 ns overhead", "awaiting",
     "ours (retry+breaker+bulkhead)", "overhead", None, 20.0),
    ("contended breaker: ≥ 10× failsafe's calls/s", "contended", "ours (breaker)",
     "throughput", "failsafe (breaker)", 10.0),
    ("contended bulkhead: ≥ 2× tower's calls/s", "contended", "ours (bulkhead)", "throughput",
     "tower ConcurrencyLimit (bulkhead)", 2.0),
]


def target_value(data, r, group, ours, how, against):
    if how == "floor-ratio":
        # A floor within noise of plain counts as NOISE_NS: a ratio to ~0 means nothing.
        a, b = data.overhead(r, group, ours), data.overhead(r, group, against)
        return None if a is None or b is None else a / max(b, NOISE_NS)
    if how == "peer":
        return data.ratio(r, group, ours, against)
    if how == "floor-plus":
        a, b = data.overhead(r, group, ours), data.overhead(r, group, against)
        return None if a is None or b is None else a - b
    if how == "best-peer":
        return data.best_peer_ratio(r, group, ours, against)
    if how == "overhead":
        return data.overhead(r, group, ours)
    if how == "throughput":
        return data.ratio(r, group, ours, against, True)
    raise ValueError(how)


def targets_table(data):
    groups = sorted({g for g, _ in data.keys}, key=lambda g: (g.endswith(NOINLINE), g))
    print("| target | variant | per round | median (range) | held every round |")
    print("|---|---|---|---:|---|")
    for text, group, ours, how, against, limit in TARGETS:
        for variant in ("", NOINLINE):
            g = group + variant
            if g not in groups:
                continue
            values = [target_value(data, r, g, ours, how, against) for r in data.rounds]
            measured = [v for v in values if v is not None]
            if not measured:
                continue
            at_least = how == "throughput"
            held = [v >= limit if at_least else v <= limit for v in measured]
            unit = " ns" if how in ("overhead", "floor-plus") else "×"
            digits = 1 if unit == " ns" else 2
            rounds = " / ".join(f"{v:.{digits}f}" for v in values if v is not None)
            verdict = "**yes**" if all(held) and len(measured) == len(values) else "no"
            print(f"| {text} | {'noinline' if variant else 'inline'} | {rounds} "
                  f"| {spread(measured, digits, unit)} | {verdict} ({sum(held)}/{len(values)}) |")
    print()
    print(f"Overheads are over the group's `plain`, per round. A floor's overhead below "
          f"{NOISE_NS} ns (within noise of `plain`) counts as {NOISE_NS} ns in a ratio. "
          "\"Held every round\": the target held in every round (held/rounds).")
    print()


# The targets that are ratios, in instructions per call (`instructions.rs` entries): (text,
# ours, against: one entry or the best of several, limit).
INSTRUCTION_TARGETS = [
    ("closed breaker, consecutive: ≤ 2× the floor's overhead", "breaker", ["floor-breaker"],
     2.0),
    ("closed breaker, consecutive: ≤ 0.25× the best peer's overhead", "breaker",
     ["failsafe", "recloser"], 0.25),
    ("closed breaker, count window: ≤ 2× the floor's overhead", "breaker-window",
     ["floor-breaker"], 2.0),
    ("closed breaker, count window: ≤ 0.25× the best peer's overhead", "breaker-window",
     ["failsafe", "recloser"], 0.25),
    ("bulkhead: ≤ 0.5× tokio `Semaphore`'s overhead", "bulkhead", ["semaphore"], 0.5),
    ("bulkhead: ≤ 0.5× tower `ConcurrencyLimit`'s overhead", "bulkhead",
     ["tower-concurrency-limit"], 0.5),
    ("timeout answering at once: ≤ 0.3× `tokio::time::timeout`'s overhead", "timeout",
     ["tokio-timeout"], 0.3),
    ("keyed breaker, seen key: ≤ 0.5× governor `check_key`'s overhead", "breaker-keyed",
     ["governor-check-key"], 0.5),
]


def instruction_targets_table(path):
    counts = {}
    with open(path) as f:
        for line in f:
            entry, inline, noinline = line.split()
            counts[entry] = (int(inline), int(noinline))
    if "plain" not in counts:
        return
    print("The same ratios in instructions per call (callgrind, deterministic: the load does "
          "not move them), overheads over `plain`:")
    print()
    print("| target | inline | noinline | held |")
    print("|---|---:|---:|---|")
    for text, ours, against, limit in INSTRUCTION_TARGETS:
        if ours not in counts or any(a not in counts for a in against):
            continue
        cells, held = [], []
        for variant in (0, 1):
            plain = counts["plain"][variant]
            mine = counts[ours][variant] - plain
            best = min(against, key=lambda a: counts[a][variant])
            theirs = max(counts[best][variant] - plain, 1)
            ratio = mine / theirs
            cells.append(f"{ratio:.2f}× ({mine} / {theirs})")
            held.append(ratio <= limit)
        verdict = "**both**" if all(held) else "inline" if held[0] else \
            "noinline" if held[1] else "no"
        print(f"| {text} | {cells[0]} | {cells[1]} | {verdict} |")
    print()


def report(rounds_dir):
    with open(os.path.join(rounds_dir, "meta.json")) as f:
        meta = json.load(f)
    rounds = []
    names = sorted((d for d in os.listdir(rounds_dir) if d.isdigit()), key=int)
    for name in names:
        path = os.path.join(rounds_dir, name, "entries.json")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            rounds.append({(e["group"], label(e)): e for e in json.load(f)})
    if not rounds:
        sys.exit(f"report.py: no rounds under {rounds_dir}")
    data = Rounds(rounds)

    print(TITLE)
    print()
    print(f"- command: `{meta['command']}`")
    print(f"- rounds: {len(rounds)}, {meta['criterion']} per entry per round"
          + (f"; took {meta['elapsed_s']} s" if meta.get("elapsed_s") else ""))
    print(f"- machine: {meta['cpu']}, {meta['cores']} cores, {meta['kernel']}")
    print(f"- toolchain: {meta['rustc']}")
    print(f"- date: {meta['started']} to {meta.get('finished', '?')}")
    print(f"- load average (1, 5, 15 min) at the start: {meta['load_start']}; at the end: "
          f"{meta.get('load_end', '?')}. The machine is shared: other builds may have run "
          "during the rounds, hence the ranges; a ratio comes from one round's entries, "
          "measured seconds apart in one process.")
    print()
    per_call = [k for k in data.keys if rounds[0].get(k, {"elements": 1})["elements"] == 1
                and base_group(k[0]) != "contended"]
    contended = [k for k in data.keys if k not in per_call]
    if per_call:
        print("### One call on a current-thread runtime (lower is better)")
        print()
        print("Median over the rounds of criterion's mean, with the min–max range; `/noinline` "
              "groups have every body and function `#[inline(never)]`. Ratios compare "
              "overheads over `plain`, per round, with each floor and peer of the group; a "
              f"floor's overhead below {NOISE_NS} ns counts as {NOISE_NS} ns.")
        print()
        per_call_table(data, sorted(per_call, key=order))
    if contended:
        print("### Contended: one shared instance, 2 workers (higher calls/s is better)")
        print()
        contended_table(data, sorted(contended, key=order))
    print("### Issue 20's targets")
    print()
    targets_table(data)
    tsv = os.path.join(rounds_dir, "instructions.tsv")
    if os.path.exists(tsv):
        instruction_targets_table(tsv)
    for extra in ("instructions.md", "sizes.md"):
        path = os.path.join(rounds_dir, extra)
        if os.path.exists(path):
            with open(path) as f:
                print(f.read().rstrip("\n"))
            print()


def update_readme(path, text):
    with open(path) as f:
        readme = f.read()
    if readme.count(START) != 1 or readme.count(END) != 1:
        sys.exit(f"report.py: {path} needs one `{START}` and one `{END}`")
    body = text.split("\n", 1)[1].lstrip("\n") if text.startswith(TITLE) else text
    # Under the README's "### The latest run": one heading level down.
    body = "\n".join("#" + line if line.startswith("### ") else line
                     for line in body.split("\n"))
    before, rest = readme.split(START)
    _, after = rest.split(END)
    with open(path, "w") as f:
        f.write(f"{before}{START}\n{body.rstrip()}\n{END}{after}")
    print(f"report.py: updated {path}", file=sys.stderr)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "collect":
        collect(sys.argv[2], float(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) == 3 and sys.argv[1] == "report":
        report(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "report":
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            report(sys.argv[2])
        print(text.getvalue(), end="")
        update_readme(sys.argv[3], text.getvalue())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
