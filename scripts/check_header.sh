#!/usr/bin/env bash
# Fails when include/futures.h differs from what cbindgen generates from src/ffi/.
# Exit 77 (CTest: skipped) when cbindgen is not installed, unless FUT_REQUIRE_CBINDGEN=1.
set -euo pipefail
cbindgen=${1:-}
out=${2:?usage: check_header.sh CBINDGEN OUTPUT}
if [ -z "$cbindgen" ] || [ ! -x "$cbindgen" ]; then
  cbindgen=$(command -v cbindgen || true)
fi
if [ -z "$cbindgen" ]; then
  echo "cbindgen not installed (cargo install --locked cbindgen)"
  [ "${FUT_REQUIRE_CBINDGEN:-0}" = 1 ] && exit 1
  exit 77
fi
"$cbindgen" --quiet --config cbindgen.toml --output "$out"
if ! diff -u include/futures.h "$out"; then
  echo "include/futures.h is stale: run scripts/gen_header.sh and commit it"
  exit 1
fi
echo "ok: include/futures.h matches cbindgen's output"

# Every name the header defines carries the fut_/FUT_ prefix (it is installed
# next to users' own headers), except its include guard.
bad=$(grep -oE '^#define [A-Za-z_][A-Za-z0-9_]*|typedef [^;(]*[ *]\(?\*?([A-Za-z_][A-Za-z0-9_]*)' include/futures.h \
  | grep -oE '[A-Za-z_][A-Za-z0-9_]*$' | grep -vE '^(fut_|FUT_|FUTURES_H$)' || true)
if [ -n "$bad" ]; then
  echo "names without the fut_/FUT_ prefix in include/futures.h:"; echo "$bad"; exit 1
fi
echo "ok: every name in include/futures.h carries the prefix"
