#!/usr/bin/env bash
# Regenerates include/futures.h from src/ffi/ (never edit the header by hand)
# with tools/gen-header: cbindgen used as a library, its version pinned in
# tools/gen-header/Cargo.toml (and Cargo.lock). The generator is built once in
# debug mode (~25 s on 2 cores from downloaded crates) and reused.
#
# Usage: gen_header.sh [OUTPUT [TARGET_DIR]]
#   OUTPUT      default include/futures.h
#   TARGET_DIR  cargo target directory of the generator,
#               default ${CARGO_TARGET_DIR:-target}/gen-header
#   CARGO       the cargo to use (default: cargo on PATH)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/include/futures.h}
target=${2:-${CARGO_TARGET_DIR:-$root/target}/gen-header}
"${CARGO:-cargo}" build --quiet --locked --manifest-path "$root/tools/gen-header/Cargo.toml" \
  --target-dir "$target"
"$target/debug/gen-header" "$root" "$out"
