#!/bin/sh
# Usage: expect_abort.sh SECONDS MPIRUN... : passes when the job ends by
# itself within SECONDS, non-zero, and mpirun names the rank that died (M11).
limit=$1; shift
out=$(timeout "$limit" "$@" 2>&1); rc=$?
printf '%s\n' "$out"
if [ "$rc" -eq 124 ]; then echo "FAIL: the job still ran after $limit s"; exit 1; fi
if [ "$rc" -eq 0 ]; then echo "FAIL: mpirun exited 0 though a rank aborted"; exit 1; fi
if ! printf '%s\n' "$out" | grep -q 'signal 6'; then echo "FAIL: no word of the rank that died"; exit 1; fi
echo "ok: mpirun ended with status $rc and named the aborted rank"
