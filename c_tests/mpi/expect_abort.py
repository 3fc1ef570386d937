#!/usr/bin/env python3
"""Usage: expect_abort.py SECONDS MPIRUN...

Passes when the job ends by itself within SECONDS, non-zero, and mpirun names
the rank that died (M11). Open MPI 4.1's mpirun exits while the ranks it
killed are still going away; as a child subreaper this script inherits and
reaps them, so the test leaves no process behind."""
import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def reap_all(grace_s):
    """Waits for every remaining child; kills what is left after grace_s."""
    deadline = time.monotonic() + grace_s
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid:
            continue
        if time.monotonic() > deadline:
            with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children") as f:
                for child in f.read().split():
                    os.kill(int(child), signal.SIGKILL)
            deadline = time.monotonic() + grace_s
        time.sleep(0.01)


def main():
    limit = float(sys.argv[1])
    cmd = sys.argv[2:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")
    try:
        run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=limit)
        out, rc = run.stdout.decode(errors="replace"), run.returncode
    except subprocess.TimeoutExpired as e:
        print((e.stdout or b"").decode(errors="replace"))
        reap_all(5)
        sys.exit(f"FAIL: the job still ran after {limit:g} s")
    print(out)
    reap_all(10)
    if rc == 0:
        sys.exit("FAIL: mpirun exited 0 though a rank aborted")
    if "signal 6" not in out:
        sys.exit("FAIL: no word of the rank that died")
    print(f"ok: mpirun ended with status {rc} and named the aborted rank")


main()
