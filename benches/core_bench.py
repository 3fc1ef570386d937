#!/usr/bin/env python3
"""Runs core_bench (libfutures) and the same workloads on CPython's
concurrent.futures in one script, and prints medians and ratios.

Workloads, for n in 10^4, 10^5, 10^6: n futures completed by another thread
while the main thread is in wait(ALL_COMPLETED) or drains as_completed();
the cost is (time from the start of the wait to its end) / n. Also the
memory of one pending future.

Usage: benches/core_bench.py [path/to/core_bench] [max_n]
"""
import concurrent.futures as cf
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc

RUNS = 5


def complete_all(fs):
    for f in fs:
        f.set_result(None)


def py_wait(n):
    fs = [cf.Future() for _ in range(n)]
    t0 = time.perf_counter_ns()
    th = threading.Thread(target=complete_all, args=(fs,))
    th.start()
    done, _ = cf.wait(fs, return_when=cf.ALL_COMPLETED)
    dt = time.perf_counter_ns() - t0
    th.join()
    assert len(done) == n
    return dt / n


def py_as_completed(n):
    fs = [cf.Future() for _ in range(n)]
    t0 = time.perf_counter_ns()
    it = cf.as_completed(fs)
    th = threading.Thread(target=complete_all, args=(fs,))
    th.start()
    got = sum(1 for _ in it)
    dt = time.perf_counter_ns() - t0
    th.join()
    assert got == n
    return dt / n


def py_memory():
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    fs = [cf.Future() for _ in range(100000)]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del fs
    return (after - before) / 100000 - 8  # minus the list slot


def median_runs(fn, n):
    r = sorted(fn(n) for _ in range(RUNS))
    return r[len(r) // 2], r[0], r[-1]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    exe = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "build", "core_bench")
    max_n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
    out = subprocess.run([exe, str(max_n)], check=True, capture_output=True, text=True).stdout
    ours = {}
    for line in out.splitlines():
        parts = line.split()
        if parts[0] == "memory":
            ours["memory"] = float(parts[1])
        else:
            ours[(parts[0], int(parts[1]))] = tuple(float(x) for x in parts[2:5])

    rows = []
    n = 10000
    while n <= max_n:
        for name, fn in (("wait_all", py_wait), ("as_completed", py_as_completed)):
            py = median_runs(fn, n)
            lf = ours[(name, n)]
            rows.append({"workload": name, "n": n, "libfutures_ns": lf[0], "libfutures_min": lf[1],
                         "libfutures_max": lf[2], "cpython_ns": py[0], "cpython_min": py[1],
                         "cpython_max": py[2], "speedup": py[0] / lf[0]})
        n *= 10
    print(f"{'workload':<14}{'n':>9}{'libfutures ns/fut (min-max)':>32}{'CPython ns/fut (min-max)':>30}{'CPython/ours':>14}")
    for r in rows:
        ours_s = f"{r['libfutures_ns']:.0f} ({r['libfutures_min']:.0f}-{r['libfutures_max']:.0f})"
        py_s = f"{r['cpython_ns']:.0f} ({r['cpython_min']:.0f}-{r['cpython_max']:.0f})"
        print(f"{r['workload']:<14}{r['n']:>9}{ours_s:>32}{py_s:>30}{r['speedup']:>13.1f}x")
    pym = py_memory()
    print(f"memory of one pending future: libfutures {ours['memory']:.0f} B, CPython {pym:.0f} B")
    with open("core_bench.json", "w") as f:
        json.dump({"rows": rows, "memory": {"libfutures": ours["memory"], "cpython": pym}}, f, indent=1)
    print("(also written to core_bench.json; medians of %d runs)" % RUNS)


if __name__ == "__main__":
    main()
