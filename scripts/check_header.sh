#!/usr/bin/env bash
# Fails when include/futures.h differs from what tools/gen-header (cbindgen,
# pinned) generates from src/ffi/, or when a name in it lacks the fut_ prefix.
#
# Usage: check_header.sh CARGO OUTPUT [TARGET_DIR]   (run in the repository root)
# The generator's crates are fetched first; when that fails (offline, nothing
# downloaded yet) the test is skipped (exit 77, CTest's SKIP_RETURN_CODE),
# unless FUT_REQUIRE_CBINDGEN=1 or FUT_REQUIRE_TOOLS=1 (CI), where it fails.
set -euo pipefail
export CARGO=${1:?usage: check_header.sh CARGO OUTPUT [TARGET_DIR]}
out=${2:?usage: check_header.sh CARGO OUTPUT [TARGET_DIR]}
target=${3:-}
if ! "$CARGO" fetch --quiet --locked --manifest-path tools/gen-header/Cargo.toml; then
  if [ "${FUT_REQUIRE_CBINDGEN:-0}" = 1 ] || [ "${FUT_REQUIRE_TOOLS:-0}" = 1 ]; then
    echo "header_is_current: cannot fetch tools/gen-header's crates" >&2
    exit 1
  fi
  echo "SKIPPED: header_is_current: cannot fetch the crates of tools/gen-header (offline?)"
  exit 77
fi
scripts/gen_header.sh "$out" ${target:+"$target"}
if ! diff -u include/futures.h "$out"; then
  echo "include/futures.h is stale: run scripts/gen_header.sh and commit it"
  exit 1
fi
echo "ok: include/futures.h matches the generator's output"

# Every name the header defines carries the fut_/FUT_ prefix (it is installed
# next to users' own headers), except its include guard.
bad=$(grep -oE '^#define [A-Za-z_][A-Za-z0-9_]*|typedef [^;(]*[ *]\(?\*?([A-Za-z_][A-Za-z0-9_]*)' include/futures.h \
  | grep -oE '[A-Za-z_][A-Za-z0-9_]*$' | grep -vE '^(fut_|FUT_|FUTURES_H$)' || true)
if [ -n "$bad" ]; then
  echo "names without the fut_/FUT_ prefix in include/futures.h:"; echo "$bad"; exit 1
fi
echo "ok: every name in include/futures.h carries the prefix"
