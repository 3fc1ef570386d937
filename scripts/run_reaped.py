#!/usr/bin/env python3
"""Runs a command as a child subreaper and fails if it leaves processes
behind: every process the command orphans is re-parented to us instead of
init, so at the end any child still running (an orphan) or waiting to be
reaped (a zombie nobody reaped) is reported, and the run fails.

Usage: run_reaped.py COMMAND [ARG...]
"""
import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def children():
    pid = os.getpid()
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def describe(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        state = stat.rsplit(")", 1)[1].split()[0]
        return f"{pid} [{state}] {name}: {cmd or '(exited)'}"
    except OSError:
        return f"{pid} (gone)"


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")
    rc = subprocess.call(sys.argv[1:])
    # Orphans that are exiting right now get a moment to finish.
    deadline = time.monotonic() + 5
    while children() and time.monotonic() < deadline:
        time.sleep(0.1)
    left = children()
    if left:
        print("processes left behind by the run (orphans or unreaped zombies):")
        for pid in left:
            print("  " + describe(pid))
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for pid in left:
            try:
                os.waitpid(pid, 0)
            except OSError:
                pass
        return rc or 1
    print("ok: no process left behind")
    return rc


if __name__ == "__main__":
    sys.exit(main())
