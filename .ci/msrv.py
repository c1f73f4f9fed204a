#!/usr/bin/env python3
"""Keep the declared MSRV honest without an old toolchain.

Every dependency the published crates build with (normal and build dependencies,
transitively, features unified over the workspace as `cargo metadata` reports them, so a
superset; not dev-dependencies, not the `cfg(loom)` model checker) must declare a
`rust-version` no newer than ours, or none; and their sources must not use a language
feature newer than ours that clippy's `incompatible_msrv` (library items only) misses.

    .ci/msrv.py            the committed Cargo.lock (reported) and the syntax check (exit 1)
    .ci/msrv.py --strict   the same, exit 2 if the committed Cargo.lock has a dependency
                           newer than the MSRV
    .ci/msrv.py --resolve  resolve afresh in a scratch copy under the target directory,
                           preferring releases whose rust-version fits ours (cargo's
                           `incompatible-rust-versions = "fallback"`, what resolver = "3"
                           does on cargo >= 1.84), check that (exit 1 if a dependency is
                           still newer) and `cargo check` the published crates against it

The committed Cargo.lock follows the newest releases, so it may hold dependencies newer
than the MSRV: that says what CI builds, not what users on the MSRV can build. `--resolve`
is the claim: a dependency set within the MSRV exists and our code compiles against it.

Platforms checked: Linux, macOS and Windows (wasm-only dependencies are out of scope).
Standard library only: python3 and cargo.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

PLATFORMS = ["x86_64-unknown-linux-gnu", "aarch64-apple-darwin", "x86_64-pc-windows-msvc"]
# Dependencies only built under a cfg the users never set.
IGNORED_TARGETS = {"cfg(loom)"}


# Language features clippy's `incompatible_msrv` lint does not see (it knows library items
# only), with the release that stabilised them; searched for in the published crates' sources,
# generated code (the macros' `quote!`) included. A heuristic: comments are skipped.
SYNTAX = [
    ("#[expect(", "1.81"),
    ("use<", "1.82"),
    ("&raw const", "1.82"),
    ("&raw mut", "1.82"),
    ("unsafe extern", "1.82"),
    ("#[unsafe(", "1.82"),
    ("async |", "1.85"),
    ("async move |", "1.85"),
    ("diagnostic::do_not_recommend", "1.85"),
]


def version_tuple(text):
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def metadata(root, platform):
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--all-features", "--locked",
         "--filter-platform", platform],
        cwd=root, check=True, stdout=subprocess.PIPE,
    ).stdout
    return json.loads(out)


def check(root):
    """The MSRV, the dependencies above it ({(name, version): (needs, dependent, platforms)})
    and every dependency checked ({name: {versions}})."""
    offenders = {}
    checked = {}
    msrv = None
    for platform in PLATFORMS:
        meta = metadata(root, platform)
        packages = {p["id"]: p for p in meta["packages"]}
        nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
        published = [i for i in meta["workspace_members"] if packages[i].get("publish") != []]
        declared = {packages[i].get("rust_version") for i in published}
        if None in declared or len(declared) != 1:
            sys.exit(f"msrv: published crates must all declare one rust-version, found {declared}")
        msrv = declared.pop()
        seen = set(published)
        stack = list(published)
        while stack:
            node = stack.pop()
            for dep in nodes[node]["deps"]:
                kinds = [k for k in dep["dep_kinds"] if k["kind"] != "dev"]
                if not kinds or all(k["target"] in IGNORED_TARGETS for k in kinds):
                    continue
                if dep["pkg"] in seen:
                    continue
                seen.add(dep["pkg"])
                stack.append(dep["pkg"])
                pkg = packages[dep["pkg"]]
                checked.setdefault(pkg["name"], set()).add(pkg["version"])
                needs = pkg.get("rust_version")
                if needs and version_tuple(needs) > version_tuple(msrv):
                    key = (pkg["name"], pkg["version"])
                    offenders.setdefault(key, (needs, packages[node]["name"], set()))[2].add(platform)
    return msrv, offenders, checked


def uses(code, text):
    """Whether `code` has `text` as written, starting at a word boundary when it starts with a
    word (so `use<` is found in `impl Trait + use<'a>` but not in `Pause<'_>`)."""
    if text[0].isalnum() or text[0] == "_":
        return re.search(r"(?<![A-Za-z0-9_])" + re.escape(text), code) is not None
    return text in code


def syntax(root, msrv):
    """Uses of language features newer than the MSRV, as "path:line: feature (version)"."""
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=root, check=True, stdout=subprocess.PIPE).stdout)
    found = []
    for pkg in meta["packages"]:
        if pkg.get("publish") == []:
            continue
        src = os.path.join(os.path.dirname(pkg["manifest_path"]), "src")
        for dirpath, _, files in os.walk(src):
            for name in sorted(files):
                if not name.endswith(".rs"):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    for number, line in enumerate(f, 1):
                        code = line.split("//", 1)[0]
                        for text, since in SYNTAX:
                            if uses(code, text) and version_tuple(since) > version_tuple(msrv):
                                rel = os.path.relpath(path, root)
                                found.append(f"{rel}:{number}: `{text}` (stable since {since})")
    return found


def report(msrv, offenders, what):
    if not offenders:
        print(f"msrv: {what}: every non-dev dependency of the published crates fits rust-version {msrv}")
        return
    print(f"msrv: {what}: dependencies declaring a rust-version newer than ours ({msrv}):")
    for (name, version), (needs, parent, platforms) in sorted(offenders.items()):
        where = "" if len(platforms) == len(PLATFORMS) else f" [{', '.join(sorted(platforms))}]"
        print(f"  {name} {version} needs {needs} (dependency of {parent}){where}")


def resolve_and_check(root):
    # A scratch copy and a target directory of their own, at fixed places under the target
    # directory so that dependency builds are reused between runs.
    base = os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(root, "target"), "msrv")
    copy = os.path.join(base, "ws")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("target", ".git", "wip"))
    os.remove(os.path.join(copy, "Cargo.lock"))
    env = dict(os.environ, CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS="fallback",
               CARGO_TARGET_DIR=os.path.join(base, "target"))
    subprocess.run(["cargo", "generate-lockfile", "--quiet"], cwd=copy, env=env, check=True)
    msrv, offenders, checked = check(copy)
    report(msrv, offenders, "MSRV-aware resolution")
    if offenders:
        print(f"msrv: the resolution is in {copy}/Cargo.lock")
        return False
    # Our code against those releases (with today's toolchain: no older one installs here).
    for features in (["--all-features"], ["--no-default-features"]):
        cmd = ["cargo", "check", "--quiet", "--locked", "--lib", "-p", "async-resilience",
               "-p", "resilience-runtime", "-p", "resilience-macros",
               "-p", "resilience-config", *features]
        print("msrv: " + " ".join(cmd))
        if subprocess.run(cmd, cwd=copy, env=env).returncode != 0:
            print(f"msrv: the resolution is in {copy}/Cargo.lock")
            return False
    main_deps = ("tokio", "rand", "syn", "tracing", "metrics", "pin-project-lite")
    print("msrv: resolved within the MSRV, among others: " + ", ".join(
        f"{name} {' '.join(sorted(checked[name]))}" for name in main_deps if name in checked))
    return True


def main():
    args = set(sys.argv[1:])
    unknown = args - {"--resolve", "--strict"}
    if unknown:
        sys.exit(f"msrv: unknown arguments {sorted(unknown)}; see the module docstring")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if "--resolve" in args:
        sys.exit(0 if resolve_and_check(root) else 1)
    msrv, offenders, _ = check(root)
    report(msrv, offenders, "committed Cargo.lock")
    newer = syntax(root, msrv)
    for use in newer:
        print(f"msrv: {use}, newer than rust-version {msrv}")
    if newer:
        sys.exit(1)
    print(f"msrv: no language feature newer than {msrv} found in the published crates' sources")
    if offenders and "--strict" in args:
        sys.exit(2)


if __name__ == "__main__":
    main()
