#!/usr/bin/env python3
"""The benchmark suite's workloads on CPython's concurrent.futures (the peer
of lf_bench; benches/suite/run.py runs both and GLib's).

    py_bench.py [--workload ID[,ID...]|all] [--runs N] [--scale F] [--workers N[,N...]] [--list]

Prints one JSON line per measurement, in the same form as lf_bench:
{"impl": "cpython", "workload", "metric", "unit", "better", "n", "workers", "median",
"min", "max", "runs"}. Every workload mirrors its C twin in lf_bench.c (same
sizes, same clock boundaries); see benches/suite/README.md. Standard library
only.
"""

import argparse
import concurrent.futures as cf
import itertools
import json
import math
import multiprocessing as mp
import os
import resource
import statistics
import sys
import threading
import time
import tracemalloc

WORKERS = 2  # of the thread workload being run (--workers)
PROC_WORKERS = 2
RUNS = 5
SCALE = 1.0


def scaled(n, minimum):
    return max(minimum, int(n * SCALE))


def emit(workload, metric, unit, better, n, values):
    vals = [float(v) for v in values]
    rec = {"impl": "cpython", "workload": workload, "metric": metric, "unit": unit,
           "better": better, "n": n, "workers": CUR_WORKERS, "median": statistics.median(vals), "min": min(vals),
           "max": max(vals), "runs": vals}
    print(json.dumps(rec), flush=True)


def quantile(sorted_vals, q):
    i = int(q * len(sorted_vals))
    return sorted_vals[min(i, len(sorted_vals) - 1)]


def curve_sizes():
    top = scaled(1_000_000, 1000)
    out, n = [], 1000
    while n <= top:
        out.append(n)
        n *= 10
    return out


def noop():
    return None


def ident(i):
    return i


# ---- B-W1: 200,000 no-op tasks submitted to a 2-worker pool, then all waited
def w1():
    n = scaled(200_000, 100)
    v = []
    for _ in range(RUNS):
        with cf.ThreadPoolExecutor(WORKERS) as ex:
            t0 = time.perf_counter()
            fs = [ex.submit(noop) for _ in range(n)]
            done, _ = cf.wait(fs)
            dt = time.perf_counter() - t0
        assert len(done) == n
        v.append(n / dt)
    emit("B-W1", "tasks_per_s", "tasks/s", "higher", n, v)


# ---- B-W2: sequential submit -> result round trips --------------------------
def w2_once(n, pause):
    lat = []
    with cf.ThreadPoolExecutor(WORKERS) as ex:
        for i in range(n + 1):  # the first one is not measured
            if pause:
                time.sleep(pause)
            t0 = time.perf_counter()
            ex.submit(noop).result()
            if i:
                lat.append((time.perf_counter() - t0) * 1e6)
    lat.sort()
    return statistics.median(lat), quantile(lat, 0.99)


def w2():
    n, n_idle = scaled(20_000, 100), scaled(400, 20)
    r = [w2_once(n, 0) for _ in range(RUNS)]
    emit("B-W2", "rt_median_us", "us", "lower", n, [x[0] for x in r])
    emit("B-W2", "rt_p99_us", "us", "lower", n, [x[1] for x in r])
    r = [w2_once(n_idle, 0.005) for _ in range(RUNS)]
    emit("B-W2", "idle_rt_median_us", "us", "lower", n_idle, [x[0] for x in r])
    emit("B-W2", "idle_rt_p99_us", "us", "lower", n_idle, [x[1] for x in r])


# ---- B-W3: 100,000 tasks drained through as_completed, summing results ------
def w3():
    n = scaled(100_000, 100)
    v = []
    for _ in range(RUNS):
        with cf.ThreadPoolExecutor(WORKERS) as ex:
            t0 = time.perf_counter()
            fs = [ex.submit(ident, i) for i in range(n)]
            total = sum(f.result() for f in cf.as_completed(fs, timeout=120))
            dt = time.perf_counter() - t0
        assert total == n * (n - 1) // 2
        v.append(n / dt)
    emit("B-W3", "tasks_per_s", "tasks/s", "higher", n, v)


# ---- B-W4: wait(FIRST_COMPLETED) ---------------------------------------------
def first_one_done_s(n):
    fs = [cf.Future() for _ in range(n)]
    fs[-1].set_result(None)
    calls = min(1000, max(3, 2_000_000 // n))
    t0 = time.perf_counter()
    for _ in range(calls):
        done, _ = cf.wait(fs, return_when=cf.FIRST_COMPLETED)
        assert len(done) == 1
    return (time.perf_counter() - t0) / calls


def completion_to_return_us(n, k):
    lat = []
    for _ in range(k):
        fs = [cf.Future() for _ in range(n)]
        stamp = {}

        def complete_later(f=fs[-1]):
            time.sleep(0.002)
            stamp["t"] = time.perf_counter()
            f.set_result(None)

        th = threading.Thread(target=complete_later)
        th.start()
        done, _ = cf.wait(fs, return_when=cf.FIRST_COMPLETED)
        t_ret = time.perf_counter()
        th.join()
        assert len(done) == 1
        lat.append((t_ret - stamp["t"]) * 1e6)
    return statistics.median(lat)


def wait_all_ns(n, as_completed):
    fs = [cf.Future() for _ in range(n)]
    go = threading.Barrier(2)

    def complete_all():
        go.wait()
        for f in fs:
            f.set_result(None)

    th = threading.Thread(target=complete_all)
    th.start()
    go.wait()
    t0 = time.perf_counter()
    if as_completed:
        got = sum(1 for _ in cf.as_completed(fs))
    else:
        got = len(cf.wait(fs, return_when=cf.ALL_COMPLETED)[0])
    dt = time.perf_counter() - t0
    th.join()
    assert got == n
    return dt * 1e9 / n


def w4():
    n = 10_000
    emit("B-W4", "one_done_us", "us/call", "lower", n,
         [first_one_done_s(n) * 1e6 for _ in range(RUNS)])
    k = 3 if SCALE < 1 else 20
    emit("B-W4", "completion_to_return_us", "us", "lower", n,
         [completion_to_return_us(n, k) for _ in range(RUNS)])
    sizes = curve_sizes()
    for s in sizes:
        emit("B-W4", "curve_first_completed_ns_per_future", "ns/future", "lower", s,
             [first_one_done_s(s) * 1e9 / s for _ in range(RUNS)])
    for s in sizes:
        emit("B-W4", "curve_wait_all_ns_per_future", "ns/future", "lower", s,
             [wait_all_ns(s, False) for _ in range(RUNS)])
    for s in sizes:
        emit("B-W4", "curve_as_completed_ns_per_future", "ns/future", "lower", s,
             [wait_all_ns(s, True) for _ in range(RUNS)])


# ---- B-W5: 200,000 tasks, each with one done-callback bumping a counter -----
def w5():
    n = scaled(200_000, 100)
    v = []
    for _ in range(RUNS):
        counter = itertools.count(1)  # next() is atomic under the GIL
        done = threading.Event()

        def bump(_f):
            if next(counter) == n:
                done.set()

        with cf.ThreadPoolExecutor(WORKERS) as ex:
            t0 = time.perf_counter()
            for _ in range(n):
                ex.submit(noop).add_done_callback(bump)
            if not done.wait(120):
                raise RuntimeError("callbacks did not all run")
            dt = time.perf_counter() - t0
        v.append(n / dt)
    emit("B-W5", "tasks_per_s", "tasks/s", "higher", n, v)


# ---- B-P1-P3: ProcessPoolExecutor ("fork" context, as lf_bench) -------------
def echo(b):
    return b


def check_echo(r, i, size):
    if len(r) != size or r[0] != (i & 0xFF) or r[-1] != (i & 0xFF):
        raise SystemExit(f"wrong result at {i}")


def run_submit(ex, items, one_buf):
    t0 = time.perf_counter()
    fs = [ex.submit(echo, items[0] if one_buf else it) for it in items]
    size = len(items[0])
    for i in range(len(fs)):
        check_echo(fs[i].result(), 0 if one_buf else i, size)
        fs[i] = None  # the result is freed as it is read
    return time.perf_counter() - t0


def run_map(ex, items, chunksize):
    t0 = time.perf_counter()
    size = len(items[0])
    for i, r in enumerate(ex.map(echo, items, chunksize=chunksize)):
        check_echo(r, i, size)
    return time.perf_counter() - t0


def p1():
    for method, prefix in (("fork", ""), ("spawn", "spawn_")):
        n = scaled(20_000, 200)
        items = [bytes([i & 0xFF]) * 64 for i in range(n)]
        with cf.ProcessPoolExecutor(PROC_WORKERS, mp_context=mp.get_context(method)) as ex:
            run_submit(ex, items[: n // 10], False)  # warm up
            emit("B-P1", prefix + "tasks_per_s", "tasks/s", "higher", n,
                 [n / run_submit(ex, items, False) for _ in range(RUNS)])
            emit("B-P1", prefix + "map_chunk64_tasks_per_s", "tasks/s", "higher", n,
                 [n / run_map(ex, items, 64) for _ in range(RUNS)])


def p2():
    for method, prefix in (("fork", ""), ("spawn", "spawn_")):
        n = scaled(200, 4)
        items = [bytes(1 << 20)] * n  # one 1 MiB buffer, sent n times (as lf_bench)
        with cf.ProcessPoolExecutor(PROC_WORKERS, mp_context=mp.get_context(method)) as ex:
            run_submit(ex, items[:4], True)
            emit("B-P2", prefix + "mib_per_s", "MiB/s", "higher", n,
                 [2.0 * n / run_submit(ex, items, True) for _ in range(RUNS)])


def startup_ms(method):
    t0 = time.perf_counter()
    ex = cf.ProcessPoolExecutor(PROC_WORKERS, mp_context=mp.get_context(method))
    ex.submit(echo, b"x").result()
    ex.shutdown(wait=True)
    return (time.perf_counter() - t0) * 1e3


def p3():
    emit("B-P3", "fork_ms", "ms", "lower", 1, [startup_ms("fork") for _ in range(RUNS)])
    emit("B-P3", "forkserver_ms", "ms", "lower", 1, [startup_ms("forkserver") for _ in range(RUNS)])
    emit("B-P3", "spawn_ms", "ms", "lower", 1, [startup_ms("spawn") for _ in range(RUNS)])


# ---- B-M1: memory of pending futures (each run in a forked child) -----------
def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def m1_child(sizes):
    # RSS curve first, in a child that has created no future yet
    top = sizes[-1]
    fs = [None] * top  # the list itself is not the futures' memory
    curve, s = [], 0
    r0 = rss_bytes()
    for i in range(top):
        fs[i] = cf.Future()
        if i + 1 == sizes[s]:
            curve.append((rss_bytes() - r0) / sizes[s])
            s += 1
    # then the bytes of one pending future: every allocation (the Future, its
    # __dict__, Condition, lock, waiters list) traced over 1,000 of them
    small = 1000
    keep = [None] * small
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(small):
        keep[i] = cf.Future()
    one = (tracemalloc.get_traced_memory()[0] - before) / small
    tracemalloc.stop()
    return [one] + curve


def m1():
    sizes = curve_sizes()
    runs = []
    for _ in range(RUNS):
        rd, wr = os.pipe()
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            os.close(rd)
            status = 1
            try:
                os.write(wr, json.dumps(m1_child(sizes)).encode())
                status = 0
            finally:
                os._exit(status)
        os.close(wr)
        data = b""
        while chunk := os.read(rd, 65536):
            data += chunk
        os.close(rd)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            raise SystemExit("B-M1 child failed")
        runs.append(json.loads(data))
    emit("B-M1", "one_future_bytes", "bytes", "lower", 1, [r[0] for r in runs])
    emit("B-M1", "rss_bytes_per_future", "bytes", "lower", sizes[-1], [r[-1] for r in runs])
    for i, s in enumerate(sizes):
        emit("B-M1", "curve_rss_bytes_per_future", "bytes/future", "lower", s,
             [r[1 + i] for r in runs])


# ---- B-I1: CPU time of an idle 4-worker thread pool over 1 s ----------------
def cpu_s():
    """Process CPU time (CLOCK_PROCESS_CPUTIME_ID, as lf_bench) and context switches."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return time.process_time(), ru.ru_nvcsw + ru.ru_nivcsw


def i1():
    idle = 0.1 if SCALE < 1 else 1.0
    cpu, sw = [], []
    for _ in range(RUNS):
        with cf.ThreadPoolExecutor(4) as ex:
            meet = threading.Barrier(4)  # four tasks at once: four workers started
            for f in [ex.submit(meet.wait) for _ in range(4)]:
                f.result()
            time.sleep(0.05)
            c0, s0 = cpu_s()
            time.sleep(idle)
            c1, s1 = cpu_s()
        cpu.append((c1 - c0) * 1e3 / idle)
        sw.append((s1 - s0) / idle)
    emit("B-I1", "idle_cpu_ms_per_s", "ms CPU/s", "lower", 4, cpu)
    emit("B-I1", "idle_ctx_switches_per_s", "switches/s", "lower", 4, sw)


WORKLOADS = {"B-W1": w1, "B-W2": w2, "B-W3": w3, "B-W4": w4, "B-W5": w5,
             "B-P1": p1, "B-P2": p2, "B-P3": p3, "B-M1": m1, "B-I1": i1}
# Thread-pool workloads, run once per --workers value; B-I1 has 4 workers.
PER_WORKERS = {"B-W1", "B-W2", "B-W3", "B-W5"}
CUR_WORKERS = 0


def main():
    global RUNS, SCALE, WORKERS, CUR_WORKERS
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="all")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workers", default="2", help="worker counts, e.g. 2,8,16")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    if a.list:
        print("\n".join(WORKLOADS))
        return
    if not 1 <= a.runs <= 100 or not a.scale > 0 or not math.isfinite(a.scale):
        sys.exit("--runs must be 1..100 and --scale > 0")
    RUNS, SCALE = a.runs, a.scale
    chosen = list(WORKLOADS) if a.workload == "all" else a.workload.split(",")
    unknown = [w for w in chosen if w not in WORKLOADS]
    if unknown:
        sys.exit(f"unknown workload(s): {', '.join(unknown)}")
    try:
        counts = [int(x) for x in a.workers.split(",")]
        assert counts and all(1 <= c <= 1024 for c in counts)
    except (ValueError, AssertionError):
        sys.exit("--workers takes a comma-separated list of 1..1024")
    for w in WORKLOADS:
        if w in chosen:
            for c in (counts if w in PER_WORKERS else [None]):
                WORKERS = c or 2
                CUR_WORKERS = c or (4 if w == "B-I1" else 0)
                WORKLOADS[w]()


if __name__ == "__main__":
    main()
