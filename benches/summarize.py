#!/usr/bin/env python3
"""Prints the medians of the last `cargo bench --bench guard_overhead` run as a
Markdown table: each group's unguarded and guarded median, and their ratio;
then, if `cargo bench --bench proxy_overhead` ran, its groups: the upstream's,
the pass-through's and the proxy's medians, and proxy / pass-through.

    python3 benches/summarize.py [target/criterion]
"""
import glob
import json
import os
import sys

TARGETS = {"H1e": 0.70, "H4e": 1.05, "H1": 0.70, "H2": 1.15, "H3": 1.10, "H4": 1.02, "H5": 1.10, "O1": 0.45, "R1": 0.80, "R1e": 0.80}


def median_ns(path):
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]


def human(ns):
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
    groups = {}
    for path in glob.glob(os.path.join(root, "*", "*", "new", "benchmark.json")):
        with open(path) as f:
            meta = json.load(f)
        estimates = os.path.join(os.path.dirname(path), "estimates.json")
        groups.setdefault(meta["group_id"], {})[meta["function_id"]] = median_ns(estimates)
    if not groups:
        sys.exit(f"no criterion results under {root}: run `cargo bench --bench guard_overhead` first")
    guarded = [g for g in sorted(groups) if {"unguarded", "guarded"} <= groups[g].keys()]
    proxied = [g for g in sorted(groups) if {"pass-through", "proxy"} <= groups[g].keys()]
    if guarded:
        guard_table(groups, guarded)
    if proxied:
        if guarded:
            print()
        proxy_table(groups, proxied)


def guard_table(groups, names):
    print("| bench | unguarded (median) | guarded (median) | guarded / unguarded | target |")
    print("|---|---:|---:|---:|---:|")
    for group in names:
        arms = groups[group]
        ratio = arms["guarded"] / arms["unguarded"]
        target = TARGETS.get(group.split()[0])
        limit = f"≤ {target:.2f}" if target else ""
        print(f"| {group} | {human(arms['unguarded'])} | {human(arms['guarded'])} | {ratio:.2f} | {limit} |")


def proxy_table(groups, names):
    print("| bench | upstream (median) | pass-through (median) | proxy (median) | proxy / pass-through |")
    print("|---|---:|---:|---:|---:|")
    # N=10000 before N=1000000.
    for group in sorted(names, key=lambda g: (len(g), g)):
        arms = groups[group]
        upstream = human(arms["upstream"]) if "upstream" in arms else ""
        ratio = arms["proxy"] / arms["pass-through"]
        print(f"| {group} | {upstream} | {human(arms['pass-through'])} | {human(arms['proxy'])} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
