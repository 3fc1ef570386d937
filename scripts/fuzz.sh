#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/: libFuzzer + AddressSanitizer + coverage)
# with the pinned nightly, replays every committed crash input
# (fuzz/regressions/<target>/), then fuzzes each target for SECONDS
# (default 20) starting from its committed corpus (fuzz/corpus/<target>/;
# new inputs go to fuzz/new-corpus/, crashes to fuzz/artifacts/).
#   scripts/fuzz.sh [SECONDS] [TARGET...]      (docs/verification.md)
# Plain cargo instead of cargo-fuzz: the same flags, without compiling
# cargo-fuzz itself first.
set -euo pipefail
cd "$(dirname "$0")/.."
NIGHTLY=${FUT_NIGHTLY:-nightly-2026-05-20}
secs=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(wire ffi_handles)
host=$(rustc "+$NIGHTLY" -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Zsanitizer=address \
-Cdebug-assertions -Coverflow-checks -Cforce-frame-pointers"
# --target keeps build scripts uninstrumented (as cargo-fuzz does).
cargo "+$NIGHTLY" build --release --manifest-path fuzz/Cargo.toml --target "$host" --bins
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1
for t in "${targets[@]}"; do
  bin=${CARGO_TARGET_DIR:-fuzz/target}/$host/release/$t
  mkdir -p "fuzz/new-corpus/$t" "fuzz/artifacts/$t"
  if [ -d "fuzz/regressions/$t" ]; then
    echo "== $t: replaying fuzz/regressions/$t"
    "$bin" -runs=0 fuzz/regressions/$t/*
  fi
  echo "== $t: fuzzing for ${secs}s"
  "$bin" "fuzz/new-corpus/$t" "fuzz/corpus/$t" -max_total_time="$secs" \
    -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 -max_len=4096 \
    -timeout=10 -rss_limit_mb=2048 -print_funcs=0 2>&1 | grep -E '^#|INITED|DONE|ERROR|SUMMARY|stat::number_of_executed_units|stat::new_units_added|panicked|Test unit' | tail -n 12
  test "${PIPESTATUS[0]}" -eq 0
done
