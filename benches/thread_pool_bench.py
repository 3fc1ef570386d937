#!/usr/bin/env python3
"""Runs the thread-pool workloads on CPython's ThreadPoolExecutor and on
libfutures (the C program thread_pool_bench), and prints both with ratios.

    python3 benches/thread_pool_bench.py [--bench build/thread_pool_bench]
                                         [--runs 5] [--scale 1.0]

Workloads (2 workers, median over --runs runs each):
  noop          200,000 no-op tasks submitted, then all waited (tasks/s)
  roundtrip     20,000 sequential submit -> result (median and p99, us)
  callback      200,000 tasks with one done-callback bumping a counter (tasks/s)
  as_completed  100,000 tasks drained through as_completed, summing (tasks/s)
"""

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed, wait

WORKERS = 2


def noop():
    return None


def bench_noop(n):
    with ThreadPoolExecutor(WORKERS) as ex:
        t0 = time.perf_counter()
        fs = [ex.submit(noop) for _ in range(n)]
        wait(fs)
        return n / (time.perf_counter() - t0)


def bench_roundtrip(n):
    lat = []
    with ThreadPoolExecutor(WORKERS) as ex:
        for _ in range(n):
            t0 = time.perf_counter()
            ex.submit(noop).result()
            lat.append((time.perf_counter() - t0) * 1e6)
    lat.sort()
    return lat[n // 2], lat[int(n * 0.99)]


def bench_callback(n):
    counter = itertools.count()  # next() is atomic under the GIL
    done = threading.Event()

    def bump(_f):
        if next(counter) == n - 1:
            done.set()

    with ThreadPoolExecutor(WORKERS) as ex:
        t0 = time.perf_counter()
        for _ in range(n):
            ex.submit(noop).add_done_callback(bump)
        if not done.wait(120):
            raise RuntimeError("callbacks did not all run")
        return n / (time.perf_counter() - t0)


def bench_as_completed(n):
    with ThreadPoolExecutor(WORKERS) as ex:
        t0 = time.perf_counter()
        fs = [ex.submit(int, i) for i in range(n)]
        total = sum(f.result() for f in as_completed(fs))
        dt = time.perf_counter() - t0
    assert total == n * (n - 1) // 2
    return n / dt


def python_results(runs, scale):
    n_noop, n_rt = int(200_000 * scale), max(100, int(20_000 * scale))
    n_cb, n_ac = int(200_000 * scale), int(100_000 * scale)
    out = {}
    out["noop_tasks_per_s"] = statistics.median(bench_noop(n_noop) for _ in range(runs))
    rts = [bench_roundtrip(n_rt) for _ in range(runs)]
    out["roundtrip_median_us"] = statistics.median(r[0] for r in rts)
    out["roundtrip_p99_us"] = statistics.median(r[1] for r in rts)
    out["callback_tasks_per_s"] = statistics.median(bench_callback(n_cb) for _ in range(runs))
    out["as_completed_tasks_per_s"] = statistics.median(
        bench_as_completed(n_ac) for _ in range(runs)
    )
    return out


def c_results(bench, runs, scale):
    text = subprocess.run(
        [bench, "--runs", str(runs), "--scale", str(scale)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.split()
            out[name] = float(value)
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_bench = os.path.join(here, "..", "build", "thread_pool_bench")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bench", default=default_bench, help="path of the C benchmark")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0, help="scale every workload's size")
    args = ap.parse_args()
    if not os.access(args.bench, os.X_OK):
        sys.exit(f"{args.bench}: not built (cmake --build build --target thread_pool_bench)")

    c = c_results(args.bench, args.runs, args.scale)
    py = python_results(args.runs, args.scale)
    print(f"# median of {args.runs} runs, {WORKERS} workers, Python {sys.version.split()[0]}")
    print(f"{'workload':<26}{'libfutures':>14}{'CPython':>14}{'ratio':>10}")
    for name in py:
        lower_is_better = name.endswith("_us")
        ratio = py[name] / c[name] if lower_is_better else c[name] / py[name]
        unit = "us" if lower_is_better else "tasks/s"
        print(f"{name:<26}{c[name]:>14,.2f}{py[name]:>14,.2f}{ratio:>9.1f}x  ({unit})")
    print("# ratio: how many times better libfutures is (throughput, or latency inverted)")


if __name__ == "__main__":
    main()
