#!/usr/bin/env bash
# CTest zig_example: `zig build test` in examples_zig against the library
# built by CMake. Zig comes from PyPI (python3 -m pip install ziglang; see
# .ci/run for the pinned version) and runs as `python3 -m ziglang`.
#
# Usage: run_zig_example.sh REPO_ROOT INCLUDE_DIR LIB_DIR WORK_DIR
# Without ziglang: exit 77 (skipped), or 1 when FUT_REQUIRE_TOOLS=1. Zig's
# local cache and install prefix go to WORK_DIR (in the build tree).
set -euo pipefail
root=$1 include=$2 lib=$3 work=$4
if ! version=$(python3 -m ziglang version 2>/dev/null); then
  if [ "${FUT_REQUIRE_TOOLS:-0}" = 1 ]; then
    echo "zig_example: 'python3 -m ziglang version' failed and FUT_REQUIRE_TOOLS=1" >&2
    exit 1
  fi
  echo "SKIPPED: zig_example: ziglang is not installed (python3 -m pip install ziglang==0.14.1)"
  exit 77
fi
echo "zig $version"
mkdir -p "$work"
cd "$root/examples_zig"
python3 -m ziglang build test --summary all \
  -Dfutures-include="$include" -Dfutures-lib="$lib" \
  --cache-dir "$work/zig-cache" --prefix "$work/zig-out"
