#!/usr/bin/env bash
# ThreadSanitizer over the C scenario suite (docs/verification.md): the
# library built by the pinned nightly with -Zsanitizer=thread and std
# rebuilt with it (-Zbuild-std: an uninstrumented std hides its
# synchronisation from TSan), the C tests with -fsanitize=thread, in
# build-tsan/. Not in CI: see docs/verification.md for its cost.
#   scripts/tsan.sh [ctest -R regex]
set -euo pipefail
cd "$(dirname "$0")/.."
NIGHTLY=${FUT_NIGHTLY:-nightly-2026-05-20}
tests=${1:-'^test_(core_(future|wait|as_completed|callbacks|stress|invalid|misuse)|thread_pool(_only|_stress)?|completion_queue|process_pool)$'}
host=$(rustc "+$NIGHTLY" -vV | sed -n 's/^host: //p')
export RUSTUP_TOOLCHAIN=$NIGHTLY
export RUSTFLAGS="-Zsanitizer=thread -Cforce-frame-pointers"
export CARGO_UNSTABLE_BUILD_STD=std,panic_unwind
# build-std needs an explicit target; cargo then writes to <dir>/<host>/,
# where CMake does not look: point its directory there.
export CARGO_BUILD_TARGET=$host
mkdir -p "build-tsan/cargo/$host/release"
ln -sfn "$host/release" build-tsan/cargo/release
cmake -S . -B build-tsan -G Ninja -DFUT_SANITIZE=thread \
  -DFUT_CARGO_TARGET_DIR="$PWD/build-tsan/cargo" >/dev/null
cmake --build build-tsan
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
ctest --test-dir build-tsan --output-on-failure -R "$tests"
