#!/usr/bin/env python3
"""ctest bench_suite_smoke: runs every libfutures workload of the suite once
with tiny sizes and checks that each output line is a well-formed measurement,
then run.py itself (no build, no peer: building the Rust peers alone takes
longer than this whole test) on two workloads, two worker counts and two
rounds, and checks its table and files.

    smoke.py path/to/lf_bench

Uses the standard library only (no GLib, no matplotlib, no peers)."""
import json
import math
import os
import subprocess
import sys
import tempfile

KEYS = {"impl": str, "workload": str, "metric": str, "unit": str, "better": str,
        "n": int, "workers": int, "median": float, "min": float, "max": float, "runs": list}


def main():
    exe = sys.argv[1]
    ids = subprocess.run([exe, "--list"], check=True, capture_output=True, text=True).stdout.split()
    proc = subprocess.run([exe, "--workload", "all", "--scale", "0.01", "--runs", "1"],
                          capture_output=True, text=True, timeout=110)
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        sys.exit(f"lf_bench exited with {proc.returncode}")
    seen = set()
    for i, line in enumerate(proc.stdout.splitlines(), 1):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            sys.exit(f"line {i} is not JSON ({e}): {line!r}")
        for key, typ in KEYS.items():
            val = rec.get(key)
            ok = isinstance(val, (int, float)) if typ is float else isinstance(val, typ)
            if not ok or isinstance(val, bool):
                sys.exit(f"line {i}: field {key!r} missing or not {typ.__name__}: {line!r}")
        if rec["impl"] != "libfutures" or rec["better"] not in ("higher", "lower"):
            sys.exit(f"line {i}: bad impl or better: {line!r}")
        if len(rec["runs"]) != 1 or not all(
                math.isfinite(x) and x >= 0 for x in (rec["median"], rec["min"], rec["max"])):
            sys.exit(f"line {i}: bad values: {line!r}")
        if not rec["min"] <= rec["median"] <= rec["max"]:
            sys.exit(f"line {i}: min <= median <= max does not hold: {line!r}")
        seen.add(rec["workload"])
    missing = [w for w in ids if w not in seen]
    if missing:
        sys.exit(f"no measurement for {', '.join(missing)}")
    print(f"ok: {len(proc.stdout.splitlines())} measurements from {', '.join(ids)}")
    check_run_py(exe)


def check_run_py(exe):
    run_py = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run.py")
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run([sys.executable, run_py, "--no-build", "--peers", "",
                               "--build-dir", os.path.dirname(os.path.abspath(exe)),
                               "--workloads", "B-W1,B-I1", "--workers", "2,3", "--scale", "0.01",
                               "--runs", "1", "--rounds", "2", "--out", out],
                              capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            sys.exit(f"run.py exited with {proc.returncode}: {proc.stderr[-2000:]}")
        rows = json.load(open(os.path.join(out, "results.json")))["rows"]
        got = {(r["workload"], r["metric"], r["workers"]) for r in rows}
        want = {("B-W1", "tasks_per_s", 2), ("B-W1", "tasks_per_s", 3),
                ("B-I1", "idle_cpu_ms_per_s", 4)}
        if not want <= got:
            sys.exit(f"run.py rows miss {sorted(want - got)}")
        for r in rows:
            if len(r["libfutures"]["runs"]) != 2:  # one run per round
                sys.exit(f"run.py did not pool the rounds: {r}")
        if "B-W1: libfutures at N=3" not in proc.stdout:
            sys.exit("run.py printed no scaling line:\n" + proc.stdout)
    print("ok: run.py table, rounds and worker counts")


if __name__ == "__main__":
    main()
