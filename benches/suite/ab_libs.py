#!/usr/bin/env python3
"""Interleaved A/B of libfutures builds on the same lf_bench program.

    python3 benches/suite/ab_libs.py [--rounds R] [--workloads B-W1,B-W5]
        [--workers 2,16] [--runs N] [--lf-bench build/lf_bench] DIR_A DIR_B [DIR_C ...]

Each DIR holds a `libfutures.so.0` (copy `build/cargo/release/libfutures.so` there
from each build). For each round, worker count and DIR in turn, lf_bench runs once with
LD_LIBRARY_PATH=DIR (ahead of the program's RUNPATH), so every build sees the same spells
of machine load; the report gives, per workload, worker count and DIR, the median over
the rounds of lf_bench's median tasks/s, and the CPU seconds per task of the whole
lf_bench process (all threads, from getrusage of the child; it includes pool creation and
the releases after the clock, the same for every build). On a shared 2-core machine a
sweep moves by ±15 % between runs; CPU per task in an interleaved A/B moves far less.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys


def child_cpu_s():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workloads", default="B-W1,B-W3,B-W5")
    ap.add_argument("--workers", default="2,16")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--lf-bench", default=os.path.join("build", "lf_bench"))
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    for d in a.dirs:
        if not os.path.exists(os.path.join(d, "libfutures.so.0")):
            sys.exit(f"ab_libs.py: no libfutures.so.0 in {d}")
    rate, cpu = {}, {}
    for _ in range(a.rounds):
        for n in a.workers.split(","):
            for d in a.dirs:
                for w in a.workloads.split(","):
                    env = dict(os.environ, LD_LIBRARY_PATH=os.path.abspath(d))
                    before = child_cpu_s()
                    out = subprocess.run(
                        [a.lf_bench, "--workload", w, "--workers", n, "--runs", str(a.runs)],
                        env=env, capture_output=True, text=True, check=True).stdout
                    spent = child_cpu_s() - before
                    for line in out.splitlines():
                        rec = json.loads(line)
                        if rec["metric"] != "tasks_per_s":
                            continue
                        key = (rec["workload"], int(n), d)
                        rate.setdefault(key, []).append(rec["median"])
                        cpu.setdefault(key, []).append(spent / (rec["n"] * len(rec["runs"])))
    print(f"{'workload':8} {'N':>3}  {'build':30} {'tasks/s':>9} {'CPU ns/task':>12}  (medians of {a.rounds} rounds)")
    for key in sorted(rate):
        w, n, d = key
        print(f"{w:8} {n:>3}  {d:30} {statistics.median(rate[key]) / 1e6:8.2f}M "
              f"{statistics.median(cpu[key]) * 1e9:12.0f}")


if __name__ == "__main__":
    main()
