#!/usr/bin/env bash
# ThreadSanitizer over the C scenario suite (docs/verification.md): the
# library built by the pinned nightly with -Zsanitizer=thread and std
# rebuilt with it (-Zbuild-std: an uninstrumented std hides its
# synchronisation from TSan), the C tests with -fsanitize=thread, in
# build-tsan/. Not in CI: see docs/verification.md for its cost.
#   FUT_TSAN_TESTS='test_a test_b' scripts/tsan.sh
set -euo pipefail
cd "$(dirname "$0")/.."
NIGHTLY=${FUT_NIGHTLY:-nightly-2026-05-20}
# The C scenario suite of the core, the thread pool and the completion
# queue. Not test_thread_pool, test_thread_pool_only and the process pool's
# programs: they count the process's threads after shutdown, and TSan's
# runtime adds a thread of its own (docs/verification.md).
programs=(${FUT_TSAN_TESTS:-test_core_future test_core_wait test_core_as_completed
  test_core_callbacks test_core_stress test_core_invalid test_core_misuse
  test_thread_pool_stress test_completion_queue})
host=$(rustc "+$NIGHTLY" -vV | sed -n 's/^host: //p')
# CMake runs `$CARGO build ... --target-dir DIR` and looks in DIR/release;
# build-std needs an explicit --target, which writes to DIR/<host>/release.
# This wrapper adds the flags and links the libraries where CMake looks.
mkdir -p build-tsan
cat >build-tsan/cargo-tsan <<WRAP
#!/bin/sh
set -e
export RUSTUP_TOOLCHAIN=$NIGHTLY RUSTFLAGS="-Zsanitizer=thread -Cforce-frame-pointers"
"$HOME/.cargo/bin/cargo" "\$@" -Zbuild-std=std,panic_unwind --target $host
dir=$PWD/build-tsan/cargo
mkdir -p "\$dir/release"
for f in "\$dir/$host/release"/libfutures.*; do ln -sfn "\$f" "\$dir/release/"; done
WRAP
chmod +x build-tsan/cargo-tsan
# Rust's LLVM instruments memset/memcpy/memmove as __tsan_mem*, which the
# system compiler's TSan runtime (gcc's libtsan) does not define: a small
# library defines them as calls to the functions libtsan intercepts.
cat >build-tsan/tsan_shim.c <<'SHIM'
#include <string.h>
void *__tsan_memset(void *d, int c, size_t n) { return memset(d, c, n); }
void *__tsan_memcpy(void *d, const void *s, size_t n) { return memcpy(d, s, n); }
void *__tsan_memmove(void *d, const void *s, size_t n) { return memmove(d, s, n); }
SHIM
cc -O1 -fno-builtin -fsanitize=thread -fPIC -shared -o build-tsan/libtsan_shim.so build-tsan/tsan_shim.c
cmake -S . -B build-tsan -G Ninja -DFUT_SANITIZE=thread -DCARGO="$PWD/build-tsan/cargo-tsan" \
  -DFUT_CARGO_TARGET_DIR="$PWD/build-tsan/cargo" \
  -DCMAKE_EXE_LINKER_FLAGS="-Wl,--no-as-needed $PWD/build-tsan/libtsan_shim.so -Wl,-rpath,$PWD/build-tsan" >/dev/null
cmake --build build-tsan --target "${programs[@]}"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
regex="^($(IFS="|"; echo "${programs[*]}"))\$"
ctest --test-dir build-tsan --output-on-failure -R "$regex"
