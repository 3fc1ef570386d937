#!/usr/bin/env python3
"""The benchmark suite in one command: libfutures beside CPython's
concurrent.futures and GLib's GThreadPool on the same workloads, with medians,
min-max, same-run ratios and the targets of the performance issue.

    python3 benches/suite/run.py [--workloads W1,W2,...] [--runs 5] [--scale 1]
                                 [--build-dir build] [--out bench-results]
                                 [--no-build] [--no-plot]

It calls `cmake --build <build-dir> --target lf_bench [glib_bench]` (configure
the build first: cmake -S . -B build -G Ninja), then for each workload runs
build/lf_bench, build/glib_bench (if GLib was found) and py_bench.py with this
interpreter, one process per implementation and workload, one after the other
so that the three see the same machine load. It prints two tables (the
workloads, and cost per future as n grows) and writes
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
WORKLOADS = ["W1", "W2", "W3", "W4", "W5", "P1", "P2", "P3", "M1", "I1"]
IMPLS = ["libfutures", "cpython", "glib"]
LABEL = {"libfutures": "libfutures", "cpython": "CPython", "glib": "GLib"}

# The targets for libfutures: (workload, metric) -> (">=" or "<=", value).
TARGETS = {
    ("W1", "tasks_per_s"): (">=", 5_000_000),
    ("W2", "rt_median_us"): ("<=", 2),
    ("W2", "rt_p99_us"): ("<=", 10),
    ("W2", "idle_rt_median_us"): ("<=", 12),
    ("W3", "tasks_per_s"): (">=", 5_000_000),
    ("W4", "one_done_us"): ("<=", 100),
    ("W4", "completion_to_return_us"): ("<=", 200),
    ("W5", "tasks_per_s"): (">=", 5_000_000),
    ("P1", "tasks_per_s"): (">=", 100_000),
    ("P1", "map_chunk64_tasks_per_s"): (">=", 2_000_000),
    ("P2", "mib_per_s"): (">=", 1500),
    ("P3", "fork_ms"): ("<=", 3),
    ("P3", "forkserver_ms"): ("<=", 10),
    ("M1", "one_future_bytes"): ("<=", 128),
    ("M1", "rss_bytes_per_future"): ("<=", 128),
    ("I1", "idle_cpu_ms_per_s"): ("<=", 1),  # "about 0": at most 0.1 % of a core
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
    op, val = t
    return f"{op} {fmt(val)}", t


def target_met(t, lf):
    if t is None or lf is None or "error" in lf:
        return None
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


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed (pip install matplotlib): plot skipped"
    panels = [
        ("W4", "curve_first_completed_ns_per_future", "wait(FIRST_COMPLETED), one done", "ns per future"),
        ("W4", "curve_wait_all_ns_per_future", "wait(ALL_COMPLETED) while another thread completes all", "ns per future"),
        ("W4", "curve_as_completed_ns_per_future", "as_completed drained while another thread completes all", "ns per future"),
        ("M1", "curve_rss_bytes_per_future", "memory of n pending futures (RSS delta / n)", "bytes per future"),
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


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help="comma-separated subset of " + ",".join(WORKLOADS))
    ap.add_argument("--runs", type=int, default=5, help="runs per measurement (median of them)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every size (quick look: 0.1)")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-results"))
    ap.add_argument("--peers", default="cpython,glib", help="peers to run (cpython, glib)")
    ap.add_argument("--no-build", action="store_true", help="do not call cmake --build")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per program and workload")
    a = ap.parse_args()

    chosen = [w.strip() for w in a.workloads.split(",") if w.strip()]
    bad = [w for w in chosen if w not in WORKLOADS]
    if bad:
        sys.exit(f"unknown workload(s) {bad}; known: {WORKLOADS}")
    peers = [p.strip() for p in a.peers.split(",") if p.strip()]
    if a.runs < 5:
        print(f"note: --runs {a.runs} < 5: medians are less robust", file=sys.stderr)

    if not a.no_build:
        build(a.build_dir, "glib" in peers)
    lf = os.path.join(a.build_dir, "lf_bench")
    glib = os.path.join(a.build_dir, "glib_bench")
    if not os.access(lf, os.X_OK):
        sys.exit(f"{lf} not built")
    common = ["--runs", str(a.runs), "--scale", str(a.scale)]
    cmds = {"libfutures": [lf] + common,
            "cpython": [sys.executable, os.path.join(HERE, "py_bench.py")] + common}
    if "glib" in peers:
        if os.access(glib, os.X_OK):
            cmds["glib"] = [glib] + common
        else:
            print("note: glib_bench not built (libglib2.0-dev and pkg-config missing?): "
                  "no GLib column", file=sys.stderr)
    if "cpython" not in peers:
        del cmds["cpython"]
    supported = {}  # which workloads each program has (GLib: no P1-P3, M1)
    for impl, cmd in cmds.items():
        out = subprocess.run(cmd + ["--list"], capture_output=True, text=True, check=True).stdout
        supported[impl] = set(out.split())

    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()
    records, errors, log = [], [], []
    for w in chosen:
        for impl in ("libfutures", "glib", "cpython"):
            if impl not in cmds or w not in supported[impl]:
                continue
            print(f"[{datetime.datetime.now():%H:%M:%S}] {w} {LABEL[impl]} ...", file=sys.stderr, flush=True)
            recs, info = run_impl(cmds[impl] + ["--workload", w], a.timeout)
            log.append({"workload": w, "impl": impl, "info": info})
            if recs is None:
                print(f"  {w} {LABEL[impl]} failed: {info}", file=sys.stderr)
                errors.append({"workload": w, "impl": impl, "error": info})
            else:
                records.extend(recs)
    load_after = os.getloadavg()

    # Join the implementations on (workload, metric, n).
    keys, by_key = [], {}
    for r in records:
        k = (r["workload"], r["metric"], r["n"])
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
        row = {"workload": k[0], "metric": k[1], "n": k[2], "unit": any_rec["unit"],
               "better": any_rec["better"]}
        for impl in IMPLS:
            row[impl] = d.get(impl)
        for peer in ("cpython", "glib"):
            f = better_factor(row["libfutures"], row[peer], row["better"])
            row[f"factor_vs_{peer}"] = f
            row[f"ratio_vs_{peer}"] = ratio_text(f, k[1], row["libfutures"], row[peer])
        ttext, t = target_of(k[0], k[1])
        row["target"] = ttext
        row["target_met"] = target_met(t, row["libfutures"])
        rows.append(row)

    # ---- tables
    have_glib = "glib" in cmds
    main_rows = [r for r in rows if not r["metric"].startswith("curve_")]
    curve_rows = [r for r in rows if r["metric"].startswith("curve_")]
    cols = ["id", "metric", "unit", "n", "libfutures med (min-max)", "CPython med (min-max)"]
    if have_glib:
        cols.append("GLib med (min-max)")
    cols += ["libfutures vs CPython"] + (["libfutures vs GLib"] if have_glib else []) + ["target", "met"]
    table = []
    for r in main_rows:
        line = [r["workload"], r["metric"], r["unit"], f"{r['n']:,}", fmt_cell(r["libfutures"]),
                fmt_cell(r["cpython"])]
        if have_glib:
            line.append(fmt_cell(r["glib"]))
        line.append(r["ratio_vs_cpython"])
        if have_glib:
            line.append(r["ratio_vs_glib"])
        met = r["target_met"]
        line += [r["target"], "" if met is None else ("met" if met else "NOT MET")]
        table.append(line)
    print_table(cols, table)
    print(f"# median over {a.runs} runs (min-max of the runs); ratios are libfutures' median against "
          "the peer's, measured in this run; 'x faster' / 'x smaller' / 'x less' = libfutures better")
    if have_glib:
        print("# GLib has no futures: its W-rows use a counter + GCond / GAsyncQueue "
              "(see benches/suite/README.md); n/a = not measured")
    if curve_rows:
        print()
        cols2 = ["id", "curve", "n", "libfutures med (min-max)", "CPython med (min-max)", "libfutures vs CPython"]
        t2 = [[r["workload"], r["metric"].replace("curve_", ""), f"{r['n']:,}", fmt_cell(r["libfutures"]),
               fmt_cell(r["cpython"]), r["ratio_vs_cpython"]] for r in curve_rows]
        print_table(cols2, t2)
    print(f"# load average before {load_before[0]:.2f}, after {load_after[0]:.2f}, "
          f"on {os.cpu_count()} CPUs; started {started:%Y-%m-%d %H:%M} UTC")

    # ---- files
    os.makedirs(a.out, exist_ok=True)
    meta = {"started_utc": started.isoformat(timespec="seconds"),
            "finished_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "runs": a.runs, "scale": a.scale, "cpus": os.cpu_count(),
            "loadavg_before": load_before, "loadavg_after": load_after,
            "python": platform.python_version(), "machine": platform.machine(),
            "kernel": platform.release(), "git": git_rev(), "log": log, "errors": errors,
            "ratio_note": "factor_vs_<peer> = how many times better libfutures' median is "
                          "(> 1 better; throughput lf/peer, latency/memory/cpu peer/lf)"}
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows, "records": records}, f, indent=1)
    with open(os.path.join(a.out, "results.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        head = ["workload", "metric", "unit", "better", "n"]
        for impl in IMPLS:
            head += [f"{impl}_median", f"{impl}_min", f"{impl}_max"]
        head += ["factor_vs_cpython", "ratio_vs_cpython", "factor_vs_glib", "ratio_vs_glib",
                 "target", "target_met"]
        wr.writerow(head)
        for r in rows:
            line = [r["workload"], r["metric"], r["unit"], r["better"], r["n"]]
            for impl in IMPLS:
                rec = r[impl]
                ok = rec is not None and "error" not in rec
                line += [rec[x] if ok else "" for x in ("median", "min", "max")]
            line += [r["factor_vs_cpython"] or "", r["ratio_vs_cpython"], r["factor_vs_glib"] or "",
                     r["ratio_vs_glib"], r["target"],
                     "" if r["target_met"] is None else r["target_met"]]
            wr.writerow(line)
    written = ["results.json", "results.csv"]
    if curve_rows and not a.no_plot:
        msg = plot(rows, os.path.join(a.out, "cost_per_future.png"))
        if msg:
            print("note: " + msg, file=sys.stderr)
        else:
            written.append("cost_per_future.png")
    shown = os.path.relpath(a.out)
    if shown.startswith(".."):
        shown = a.out
    print(f"# written: {', '.join(os.path.join(shown, w) for w in written)}")
    if errors:
        print(f"# {len(errors)} program run(s) failed: see meta.errors in results.json", file=sys.stderr)
        sys.exit(1)


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
