#!/usr/bin/env bash
# Fails unless one version is spelled everywhere: Cargo.toml's package
# version, project(VERSION) in CMakeLists.txt, FUT_VERSION_MAJOR/MINOR/PATCH
# in include/futures.h and the constants in src/ffi/common.rs they come
# from. (test_version checks fut_version() against the macros at run time.)
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

cargo=$(awk '/^\[package\]/{p=1; next} /^\[/{p=0} p && /^version *=/{gsub(/.*= *"|".*/, ""); print; exit}' Cargo.toml)
cmake=$(sed -nE 's/^project\([A-Za-z0-9_]+ +VERSION +([0-9]+\.[0-9]+\.[0-9]+).*/\1/p' CMakeLists.txt | head -n1)
macro() { sed -nE "s/^#define FUT_VERSION_$1 ([0-9]+)\$/\\1/p" include/futures.h; }
header="$(macro MAJOR).$(macro MINOR).$(macro PATCH)"
const() { sed -nE "s/^pub const FUT_VERSION_$1: i32 = ([0-9]+);\$/\\1/p" src/ffi/common.rs; }
rust="$(const MAJOR).$(const MINOR).$(const PATCH)"

echo "Cargo.toml:            $cargo"
echo "CMakeLists.txt:        $cmake"
echo "include/futures.h:     $header"
echo "src/ffi/common.rs:     $rust"
if [ -z "$cargo" ] || [ "$cargo" != "$cmake" ] || [ "$cargo" != "$header" ] || [ "$cargo" != "$rust" ]; then
  echo "version mismatch: change all of them together (then scripts/gen_header.sh)"
  exit 1
fi
echo "ok: version $cargo everywhere"
