#!/usr/bin/env python3
"""Compare libfutures' process pool with CPython's ProcessPoolExecutor.

Runs the C benchmark (``process_pool_bench``, built by CMake) and the same
workloads with ``concurrent.futures.ProcessPoolExecutor`` in this interpreter,
then prints the medians over RUNS runs and the ratio libfutures / CPython
(higher is better for tasks/s and MB/s, lower for ms).

    python3 benches/process_pool_bench.py [path/to/process_pool_bench] [RUNS]

Workloads: 20,000 tasks with a 64-byte argument and result on 2 workers
(map with chunksize 1 and 64, "fork" context); 200 tasks moving 1 MiB each
way; creating a 2-worker pool, running one task and shutting down, with the
"fork" and "forkserver" start methods.
"""

import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def echo(b):
    return b


def run_map(ex, n, size, chunksize):
    items = [bytes([i & 0xFF]) * size for i in range(n)]
    t0 = time.perf_counter()
    for i, r in enumerate(ex.map(echo, items, chunksize=chunksize)):
        if len(r) != size or r[-1] != (i & 0xFF):
            raise SystemExit(f"wrong result at {i}")
    return time.perf_counter() - t0


def startup(method):
    t0 = time.perf_counter()
    with ProcessPoolExecutor(2, mp_context=mp.get_context(method)) as ex:
        ex.submit(echo, b"x").result()
    return time.perf_counter() - t0


def python_side(runs):
    out = {}
    with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as ex:
        run_map(ex, 2000, 64, 1)  # warm up: start the workers
        out["small_chunk1"] = statistics.median(
            20000 / run_map(ex, 20000, 64, 1) for _ in range(runs))
        out["small_chunk64"] = statistics.median(
            20000 / run_map(ex, 20000, 64, 64) for _ in range(runs))
        out["large_1mib"] = statistics.median(
            200 * 2 * 1.048576 / run_map(ex, 200, 1 << 20, 1) for _ in range(runs))
    out["startup_fork"] = statistics.median(1000 * startup("fork") for _ in range(runs))
    out["startup_forkserver"] = statistics.median(
        1000 * startup("forkserver") for _ in range(runs))
    return out


def c_side(binary, runs):
    text = subprocess.run([binary, str(runs)], check=True, capture_output=True,
                          text=True).stdout
    out, units = {}, {}
    for line in text.splitlines():
        name, value, unit = line.split()
        out[name], units[name] = float(value), unit
    return out, units


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "..", "build", "process_pool_bench")
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    ours, units = c_side(binary, runs)
    theirs = python_side(runs)
    print(f"median of {runs} runs, 2 workers, {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}")
    print(f"{'workload':<20} {'libfutures':>14} {'CPython':>14} {'ratio':>8}")
    for name, unit in units.items():
        a, b = ours[name], theirs[name]
        ratio = a / b if unit != "ms" else b / a  # > 1: libfutures is better
        print(f"{name:<20} {a:>10.1f} {unit:<4}{b:>10.1f} {unit:<4}{ratio:>7.1f}x")


if __name__ == "__main__":
    main()
