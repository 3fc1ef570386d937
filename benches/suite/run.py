#!/usr/bin/env python3
"""The benchmark suite in one command: libfutures beside CPython's
concurrent.futures, GLib's GThreadPool, the Rust `threadpool` crate, rayon and
oneTBB's task_group on the same workloads, with medians, min-max, same-run
ratios and the targets of the performance issues.

    python3 benches/suite/run.py [--workloads B-W1,B-W2,...] [--runs 5] [--rounds 1]
                                 [--workers 2,8,16] [--scale 1] [--peers ...]
                                 [--build-dir build] [--out bench-results]
                                 [--no-build | --build-only] [--no-plot]

It calls `cmake --build <build-dir> --target lf_bench [glib_bench]` (configure
the build first: cmake -S . -B build -G Ninja), builds the Rust peers
(benches/peers_rs, cargo) and the TBB peer (tbb_bench.cpp, the C++ compiler
and libtbb-dev) into the build directory, skipping with a note a peer whose
tools are missing, then for each round and workload runs every program, one
process per implementation, workload and worker count, one after the other so
that all see the same machine load (a worker count in a process of its own:
oneTBB run at 16 workers after 2 in one process measured 30-45 % below
oneTBB at 16 alone). It prints two tables (the workloads, and cost per
future as n grows) and writes
<out>/results.json, <out>/results.csv and <out>/cost_per_future.png (the plot
needs matplotlib; without it the plot is skipped). Workloads and how each is
measured: benches/suite/README.md.
"""

import argparse
import csv
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
WORKLOADS = ["B-W1", "B-W2", "B-W3", "B-W4", "B-W5", "B-P1", "B-P2", "B-P3", "B-M1", "B-I1"]
PEERS = ["cpython", "glib", "threadpool", "rayon", "tbb"]
IMPLS = ["libfutures"] + PEERS
LABEL = {"libfutures": "libfutures", "cpython": "CPython", "glib": "GLib",
         "threadpool": "threadpool", "rayon": "rayon", "tbb": "TBB"}
# Throughput workloads whose libfutures figure at the largest worker count
# must stay >= 0.8x the one at the smallest (issue: many-core thread pool).
SCALING = ["B-W1", "B-W3", "B-W5"]
# The workloads run once per --workers value (the programs' per_workers ones).
PER_WORKERS = ["B-W1", "B-W2", "B-W3", "B-W5"]

# The targets for libfutures: (workload, metric) -> (">=" or "<=", value).
TARGETS = {
    ("B-W1", "tasks_per_s"): (">=", 5_000_000),
    ("B-W2", "rt_median_us"): ("<=", 2),
    ("B-W2", "rt_p99_us"): ("<=", 10),
    ("B-W2", "idle_rt_median_us"): ("<=", 12),
    ("B-W3", "tasks_per_s"): (">=", 5_000_000),
    ("B-W4", "one_done_us"): ("<=", 100),
    ("B-W4", "completion_to_return_us"): ("<=", 200),
    ("B-W5", "tasks_per_s"): (">=", 5_000_000),
    ("B-P1", "tasks_per_s"): (">=", 100_000),
    ("B-P1", "map_chunk64_tasks_per_s"): (">=", 2_000_000),
    ("B-P2", "mib_per_s"): (">=", 1500),
    ("B-P3", "fork_ms"): ("<=", 3),
    ("B-P3", "forkserver_ms"): ("<=", 10),
    ("B-M1", "one_future_bytes"): ("<=", 128),
    ("B-M1", "rss_bytes_per_future"): ("<=", 128),
    ("B-I1", "idle_cpu_ms_per_s"): ("<=", 1),  # "about 0": at most 0.1 % of a core
    # Spawn pools (issue 15), against CPython's spawn pool in the same run:
    # ("x>=", F, peer): libfutures at least F times better than the peer.
    ("B-P1", "spawn_tasks_per_s"): ("x>=", 20, "cpython"),
    ("B-P3", "spawn_ms"): ("x>=", 4, "cpython"),  # <= 0.25x CPython's time
}

# How a ratio reads, by metric: (word when libfutures is better, when worse).
def ratio_words(metric):
    if "bytes" in metric:
        return "smaller", "larger"
    if metric.startswith("idle_cpu") or metric.startswith("idle_ctx"):
        return "less", "more"
    return "faster", "slower"


def fmt(x):
    if x is None:
        return "-"
    a = abs(x)
    if a >= 1e6:
        return f"{x / 1e6:.2f}M"
    if a >= 1e4:
        return f"{x / 1e3:.1f}k"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 0.1 or a == 0:
        return f"{x:.2f}"
    return f"{x:.3g}"


def fmt_cell(rec):
    if rec is None:
        return "n/a"
    if "error" in rec:
        return "failed"
    return f"{fmt(rec['median'])} ({fmt(rec['min'])}-{fmt(rec['max'])})"


def better_factor(lf, peer, better):
    """How many times better libfutures is than the peer (> 1: better), or None."""
    if lf is None or peer is None or "error" in lf or "error" in peer:
        return None
    a, b = lf["median"], peer["median"]
    if better == "higher":
        a, b = b, a  # then lower is better for both branches below
    if a <= 0 or b <= 0:
        return None
    return b / a


def ratio_text(factor, metric, lf, peer):
    if factor is None:
        if lf and peer and "error" not in lf and "error" not in peer:
            return f"{fmt(lf['median'])} vs {fmt(peer['median'])}"
        return ""
    good, bad = ratio_words(metric)
    x, word = (factor, good) if factor >= 1 else (1 / factor, bad)
    return f"{x:.0f}x {word}" if x >= 100 else f"{x:.1f}x {word}"


def target_of(workload, metric):
    t = TARGETS.get((workload, metric))
    if not t:
        return "", None
    if t[0] == "x>=":
        return f">= {fmt(t[1])}x {LABEL[t[2]]}", t
    op, val = t
    return f"{op} {fmt(val)}", t


def target_met(t, row):
    lf = row["libfutures"]
    if t is None or lf is None or "error" in lf:
        return None
    if t[0] == "x>=":
        f = row.get(f"factor_vs_{t[2]}")
        return None if f is None else f >= t[1]
    op, val = t
    return lf["median"] >= val if op == ">=" else lf["median"] <= val


def run_impl(cmd, timeout):
    """Runs one implementation on one workload; its JSON records."""
    t0 = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s"
    if p.returncode != 0:
        return None, f"exit {p.returncode}: {p.stderr.strip()[-400:]}"
    recs = []
    for line in p.stdout.splitlines():
        line = line.strip()
        if line:
            recs.append(json.loads(line))
    return recs, f"{time.time() - t0:.1f} s"


def build(build_dir, want_glib):
    cmake = shutil.which("cmake")
    if not os.path.exists(os.path.join(build_dir, "CMakeCache.txt")) or not cmake:
        sys.exit(f"{build_dir} is not a configured build tree: run "
                 "`cmake -S . -B build -G Ninja` first (or pass --build-dir)")
    targets = ["lf_bench"]
    cache = open(os.path.join(build_dir, "CMakeCache.txt")).read()
    if want_glib and "GLIB_FOUND:INTERNAL=1" in cache:
        targets.append("glib_bench")
    p = subprocess.run([cmake, "--build", build_dir, "--target", *targets],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-3000:] + p.stderr[-3000:])
        sys.exit("cmake --build failed")


def note(msg):
    print("note: " + msg, file=sys.stderr, flush=True)


def build_rust_peers(build_dir):
    """benches/peers_rs (threadpool, rayon) with cargo; its binary or None."""
    cargo = shutil.which("cargo") or os.path.expanduser("~/.cargo/bin/cargo")
    if not os.access(cargo, os.X_OK):
        note("cargo not found: no threadpool and rayon columns")
        return None
    target = os.path.join(build_dir, "peers_rs")
    p = subprocess.run([cargo, "build", "--release", "--quiet", "--manifest-path",
                        os.path.join(ROOT, "benches", "peers_rs", "Cargo.toml"),
                        "--target-dir", target], capture_output=True, text=True)
    if p.returncode != 0:
        note("benches/peers_rs did not build (crates.io unreachable?): no threadpool and "
             "rayon columns\n" + p.stderr[-1500:])
        return None
    return os.path.join(target, "release", "peers_rs")


def build_tbb_peer(build_dir):
    """tbb_bench.cpp against oneTBB; its binary or None (with a note)."""
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if not cxx:
        note("no C++ compiler: no TBB column")
        return None
    src = os.path.join(HERE, "tbb_bench.cpp")
    exe = os.path.join(build_dir, "tbb_bench")
    if os.path.exists(exe) and os.path.getmtime(exe) >= max(
            os.path.getmtime(src), os.path.getmtime(os.path.join(HERE, "bench_util.h"))):
        return exe
    p = subprocess.run([cxx, "-O2", "-std=c++17", "-o", exe, src, "-ltbb", "-lpthread", "-lm"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        note("tbb_bench did not build (oneTBB missing? Debian: apt-get install libtbb-dev): "
             "no TBB column")
        return None
    return exe


def rounds_joined(records):
    """Pools the runs of one measurement over rounds: one record each."""
    out, by = [], {}
    for r in records:
        k = (r["impl"], r["workload"], r["metric"], r["n"], r.get("workers", 0))
        if k in by:
            by[k]["runs"] = by[k]["runs"] + r["runs"]
        else:
            by[k] = dict(r)
            out.append(by[k])
    for r in out:
        vals = sorted(v for v in r["runs"] if v is not None)
        if vals:
            m = len(vals)
            r["median"] = vals[m // 2] if m % 2 else (vals[m // 2 - 1] + vals[m // 2]) / 2
            r["min"], r["max"] = vals[0], vals[-1]
    return out


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed (pip install matplotlib): plot skipped"
    panels = [
        ("B-W4", "curve_first_completed_ns_per_future", "wait(FIRST_COMPLETED), one done", "ns per future"),
        ("B-W4", "curve_wait_all_ns_per_future", "wait(ALL_COMPLETED) while another thread completes all", "ns per future"),
        ("B-W4", "curve_as_completed_ns_per_future", "as_completed drained while another thread completes all", "ns per future"),
        ("B-M1", "curve_rss_bytes_per_future", "memory of n pending futures (RSS delta / n)", "bytes per future"),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    for ax, (w, metric, title, ylabel) in zip(axes.flat, panels):
        for impl, style in (("libfutures", "o-"), ("cpython", "s--")):
            pts = sorted((r["n"], r[impl]) for r in rows
                         if r["workload"] == w and r["metric"] == metric and r.get(impl)
                         and "error" not in r[impl])
            if not pts:
                continue
            xs = [n for n, _ in pts]
            ys = [rec["median"] for _, rec in pts]
            lo = [rec["median"] - rec["min"] for _, rec in pts]
            hi = [rec["max"] - rec["median"] for _, rec in pts]
            ax.errorbar(xs, ys, yerr=[lo, hi], fmt=style, capsize=3, label=LABEL[impl])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("n futures")
        ax.set_ylabel(ylabel + " (median, min-max)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("libfutures vs CPython concurrent.futures: cost per future as n grows")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return None


def best_peer(row, peers):
    """The peer with the best median on this row, or None."""
    best = None
    for peer in peers:
        rec = row.get(peer)
        if rec is None or "error" in rec:
            continue
        if best is None or better_factor(rec, row[best], row["better"]) > 1:
            best = peer
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help="comma-separated subset of " + ",".join(WORKLOADS))
    ap.add_argument("--runs", type=int, default=5, help="runs per measurement and round")
    ap.add_argument("--rounds", type=int, default=1,
                    help="rounds: every program runs once per round, interleaved; the "
                         "median is over the runs of all rounds")
    ap.add_argument("--workers", default="2,8,16",
                    help="worker counts of the thread workloads (B-W1, B-W2, B-W3, B-W5)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every size (quick look: 0.1)")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-results"))
    ap.add_argument("--peers", default=",".join(PEERS), help="peers to run: " + ",".join(PEERS))
    ap.add_argument("--no-build", action="store_true", help="build nothing")
    ap.add_argument("--build-only", action="store_true",
                    help="build the programs of --peers, list them, run nothing")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--max-queued", type=int, default=0,
                    help="libfutures only: the thread pools' max_queued (0: unbounded)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per program and workload")
    a = ap.parse_args()

    chosen = [w.strip() for w in a.workloads.split(",") if w.strip()]
    bad = [w for w in chosen if w not in WORKLOADS]
    if bad:
        sys.exit(f"unknown workload(s) {bad}; known: {WORKLOADS}")
    peers = [p.strip() for p in a.peers.split(",") if p.strip()]
    bad = [p for p in peers if p not in PEERS]
    if bad:
        sys.exit(f"unknown peer(s) {bad}; known: {PEERS}")
    if a.runs * a.rounds < 5:
        print(f"note: {a.runs * a.rounds} runs in all (< 5): medians are less robust", file=sys.stderr)

    build_dir = os.path.abspath(a.build_dir)
    if not a.no_build:
        build(build_dir, "glib" in peers)
    lf = os.path.join(build_dir, "lf_bench")
    if not os.access(lf, os.X_OK):
        sys.exit(f"{lf} not built")
    common = ["--runs", str(a.runs), "--scale", str(a.scale)]
    cmds = {"libfutures": [lf] + common + (["--max-queued", str(a.max_queued)] if a.max_queued else [])}
    if "cpython" in peers:
        cmds["cpython"] = [sys.executable, os.path.join(HERE, "py_bench.py")] + common
    if "glib" in peers:
        glib = os.path.join(build_dir, "glib_bench")
        if os.access(glib, os.X_OK):
            cmds["glib"] = [glib] + common
        else:
            note("glib_bench not built (libglib2.0-dev and pkg-config missing?): no GLib column")
    if "threadpool" in peers or "rayon" in peers:
        rs = os.path.join(build_dir, "peers_rs", "release", "peers_rs")
        rs = rs if a.no_build else build_rust_peers(build_dir)
        if rs and os.access(rs, os.X_OK):
            for k in ("threadpool", "rayon"):
                if k in peers:
                    cmds[k] = [rs, "--impl", k] + common
        elif a.no_build:
            note(f"{rs} not built: no threadpool and rayon columns")
    if "tbb" in peers:
        tbb = os.path.join(build_dir, "tbb_bench")
        tbb = tbb if a.no_build else build_tbb_peer(build_dir)
        if tbb and os.access(tbb, os.X_OK):
            cmds["tbb"] = [tbb] + common
        elif a.no_build:
            note(f"{tbb} not built: no TBB column")
    if a.build_only:
        for impl, cmd in cmds.items():
            print(f"{impl}: {' '.join(cmd[:cmd.index('--runs')])}")
        return
    supported = {}  # which workloads each program has (GLib: no B-P1-B-P3, B-M1; ...)
    for impl, cmd in cmds.items():
        out = subprocess.run(cmd + ["--list"], capture_output=True, text=True, check=True).stdout
        supported[impl] = set(out.split())

    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()
    records, errors, log = [], [], []
    for rnd in range(a.rounds):
        for w in chosen:
            for n in (a.workers.split(",") if w in PER_WORKERS else [None]):
                for impl in IMPLS:
                    if impl not in cmds or w not in supported[impl]:
                        continue
                    at = f" N={n}" if n else ""
                    print(f"[{datetime.datetime.now():%H:%M:%S}] round {rnd + 1}/{a.rounds} {w}{at} "
                          f"{LABEL[impl]} ...", file=sys.stderr, flush=True)
                    cmd = cmds[impl] + ["--workload", w] + (["--workers", n] if n else [])
                    recs, info = run_impl(cmd, a.timeout)
                    log.append({"round": rnd + 1, "workload": w, "workers": n, "impl": impl, "info": info})
                    if recs is None:
                        print(f"  {w}{at} {LABEL[impl]} failed: {info}", file=sys.stderr)
                        errors.append({"workload": w, "workers": n, "impl": impl, "error": info})
                    else:
                        records.extend(recs)
    load_after = os.getloadavg()
    records = rounds_joined(records)
    rows = join_rows(records, errors, [p for p in PEERS if p in cmds])
    print_tables(rows, cmds, a, load_before, load_after, started)
    write_files(rows, records, a, cmds, started, load_before, load_after, log, errors)
    if errors:
        print(f"# {len(errors)} program run(s) failed: see meta.errors in results.json", file=sys.stderr)
        sys.exit(1)


def join_rows(records, errors, peers):
    """Joins the implementations on (workload, metric, n, workers)."""
    keys, by_key = [], {}
    for r in records:
        k = (r["workload"], r["metric"], r["n"], r.get("workers", 0))
        if k not in by_key:
            by_key[k] = {}
            keys.append(k)
        by_key[k][r["impl"]] = r
    for e in errors:  # a failed implementation shows on every row of its workload
        for k in keys:
            if k[0] == e["workload"] and e["impl"] not in by_key[k]:
                by_key[k][e["impl"]] = {"error": e["error"]}
    rows = []
    for k in keys:
        d = by_key[k]
        any_rec = next(r for r in d.values() if "error" not in r)
        row = {"workload": k[0], "metric": k[1], "n": k[2], "workers": k[3],
               "unit": any_rec["unit"], "better": any_rec["better"]}
        for impl in IMPLS:
            row[impl] = d.get(impl)
        for peer in PEERS:
            f = better_factor(row["libfutures"], row[peer], row["better"])
            row[f"factor_vs_{peer}"] = f
            row[f"ratio_vs_{peer}"] = ratio_text(f, k[1], row["libfutures"], row[peer])
        best = best_peer(row, peers)
        row["best_peer"] = best
        row["factor_vs_best"] = better_factor(row["libfutures"], row[best], row["better"]) if best else None
        row["ratio_vs_best"] = (ratio_text(row["factor_vs_best"], k[1], row["libfutures"], row[best])
                                + f" ({LABEL[best]})") if best else ""
        ttext, t = target_of(k[0], k[1])
        row["target"] = ttext
        row["target_met"] = target_met(t, row)
        rows.append(row)
    return rows


def scaling_lines(rows):
    """libfutures at the most workers against itself at the fewest."""
    lines = []
    for w in SCALING:
        pts = sorted((r["workers"], r["libfutures"]["median"]) for r in rows
                     if r["workload"] == w and r["metric"] == "tasks_per_s"
                     and r["libfutures"] and "error" not in r["libfutures"])
        if len(pts) >= 2:
            (lo_n, lo), (hi_n, hi) = pts[0], pts[-1]
            verdict = "met" if hi >= 0.8 * lo else "NOT MET"
            lines.append(f"# {w}: libfutures at N={hi_n} is {hi / lo:.2f}x its N={lo_n} figure "
                         f"(target >= 0.8x: {verdict})")
    # The ratio target on the 2-core machine: >= 1.2x the best peer at
    # each N, from the same run (two decimals: the table rounds to one).
    for r in rows:
        if r["workload"] in SCALING and r["metric"] == "tasks_per_s" and r.get("factor_vs_best"):
            f = r["factor_vs_best"]
            verdict = "met" if f >= 1.2 else "NOT MET"
            lines.append(f"# {r['workload']} N={r['workers']}: {f:.2f}x the best peer "
                         f"({LABEL[r['best_peer']]}) (target >= 1.2x: {verdict})")
    return lines


def print_tables(rows, cmds, a, load_before, load_after, started):
    shown = [p for p in PEERS if p in cmds]
    main_rows = [r for r in rows if not r["metric"].startswith("curve_")]
    curve_rows = [r for r in rows if r["metric"].startswith("curve_")]
    cols = ["id", "metric", "unit", "n", "N", "libfutures med (min-max)"]
    cols += [f"{LABEL[p]} med (min-max)" for p in shown]
    cols += ["libfutures vs best peer", "target", "met"]
    table = []
    for r in main_rows:
        line = [r["workload"], r["metric"], r["unit"], f"{r['n']:,}",
                str(r["workers"]) if r["workers"] else "-", fmt_cell(r["libfutures"])]
        line += [fmt_cell(r[p]) for p in shown]
        met = r["target_met"]
        line += [r["ratio_vs_best"], r["target"], "" if met is None else ("met" if met else "NOT MET")]
        table.append(line)
    print_table(cols, table)
    print(f"# median over {a.runs} runs x {a.rounds} round(s) (min-max of the runs); N = pool "
          "workers; ratios are libfutures' median against the best peer's at the same N, "
          "measured in this run; 'x faster' / 'x smaller' / 'x less' = libfutures better")
    for line in scaling_lines(rows):
        print(line)
    if "glib" in cmds or "threadpool" in cmds or "tbb" in cmds:
        print("# GLib, threadpool, rayon and TBB have no futures: their rows use a counter + "
              "condition variable / channel / queue (see benches/suite/README.md); n/a = not measured")
    if curve_rows:
        print()
        cols2 = ["id", "curve", "n", "libfutures med (min-max)", "CPython med (min-max)", "libfutures vs CPython"]
        t2 = [[r["workload"], r["metric"].replace("curve_", ""), f"{r['n']:,}", fmt_cell(r["libfutures"]),
               fmt_cell(r["cpython"]), r["ratio_vs_cpython"]] for r in curve_rows]
        print_table(cols2, t2)
    print(f"# load average before {load_before[0]:.2f}, after {load_after[0]:.2f}, "
          f"on {os.cpu_count()} CPUs; started {started:%Y-%m-%d %H:%M} UTC")


def write_files(rows, records, a, cmds, started, load_before, load_after, log, errors):
    os.makedirs(a.out, exist_ok=True)
    meta = {"started_utc": started.isoformat(timespec="seconds"),
            "finished_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "runs": a.runs, "rounds": a.rounds, "workers": a.workers, "scale": a.scale,
            "cpus": os.cpu_count(), "peers": [p for p in PEERS if p in cmds],
            "loadavg_before": load_before, "loadavg_after": load_after,
            "python": platform.python_version(), "machine": platform.machine(),
            "kernel": platform.release(), "git": git_rev(), "log": log, "errors": errors,
            "ratio_note": "factor_vs_<peer> = how many times better libfutures' median is "
                          "(> 1 better; throughput lf/peer, latency/memory/cpu peer/lf)"}
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows, "records": records}, f, indent=1)
    with open(os.path.join(a.out, "results.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        head = ["workload", "metric", "unit", "better", "n", "workers"]
        for impl in IMPLS:
            head += [f"{impl}_median", f"{impl}_min", f"{impl}_max"]
        head += [f"factor_vs_{p}" for p in PEERS]
        head += ["best_peer", "factor_vs_best", "target", "target_met"]
        wr.writerow(head)
        for r in rows:
            line = [r["workload"], r["metric"], r["unit"], r["better"], r["n"], r["workers"]]
            for impl in IMPLS:
                rec = r[impl]
                ok = rec is not None and "error" not in rec
                line += [rec[x] if ok else "" for x in ("median", "min", "max")]
            line += [r[f"factor_vs_{p}"] or "" for p in PEERS]
            line += [r["best_peer"] or "", r["factor_vs_best"] or "", r["target"],
                     "" if r["target_met"] is None else r["target_met"]]
            wr.writerow(line)
    written = ["results.json", "results.csv"]
    if any(r["metric"].startswith("curve_") for r in rows) and not a.no_plot:
        msg = plot(rows, os.path.join(a.out, "cost_per_future.png"))
        if msg:
            note(msg)
        else:
            written.append("cost_per_future.png")
    shown = os.path.relpath(a.out)
    if shown.startswith(".."):
        shown = a.out
    print(f"# written: {', '.join(os.path.join(shown, w) for w in written)}")


def git_rev():
    try:
        return subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                              capture_output=True, text=True).stdout.strip() or None
    except OSError:
        return None


def print_table(cols, rows):
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())


if __name__ == "__main__":
    main()
