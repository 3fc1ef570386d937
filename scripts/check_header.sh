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
