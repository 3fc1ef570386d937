#!/usr/bin/env bash
# The layering check (run by ctest as `layering`). The library has layers a
# reader can see: the core (future, waiter, executor interface, status, handle
# slots, the pools) is a plain Rust library; the C skin, src/ffi/, sits on top
# of it. This fails when
#   - a file outside src/ffi/ names the skin (`crate::ffi`, `super::ffi`, or
#     `ffi` inside a `crate::{...}` import);
#   - the thread pool (src/thread_pool*) names the process pool, or the
#     process pool (src/process_pool*) names the thread pool;
#   - a .rs file under src/ has more than 800 lines.
# lib.rs declares the modules (`pub mod ffi;`); a declaration is not a use.
#
# Usage: check_layers.sh [repository root]
set -euo pipefail
root=${1:-"$(dirname "$0")/.."}
cd "$root"
max_lines=800
fail=0

report() { echo "layering: $*"; fail=1; }

skin='(crate|super)::ffi\b|crate::\{[^}]*\bffi\b'
while IFS= read -r -d '' f; do
  case "$f" in src/ffi/*) continue ;; esac
  # Comments do not count: drop everything after `//` first.
  hits=$(sed 's://.*$::' "$f" | grep -nE "$skin" || true)
  [ -z "$hits" ] || report "$f uses the C skin (src/ffi/):"$'\n'"$hits"
done < <(find src -name '*.rs' -print0)

check_pair() { # files-glob-root, forbidden module
  local dir=$1 other=$2
  while IFS= read -r -d '' f; do
    hits=$(sed 's://.*$::' "$f" | grep -nE "(crate|super)::$other\b" || true)
    [ -z "$hits" ] || report "$f (a pool) uses the other pool, $other:"$'\n'"$hits"
  done < <(find src -path "src/$dir*" -name '*.rs' -print0)
}
check_pair thread_pool process_pool
check_pair process_pool thread_pool

while IFS= read -r -d '' f; do
  n=$(wc -l < "$f")
  [ "$n" -le "$max_lines" ] || report "$f has $n lines (at most $max_lines)"
done < <(find src -name '*.rs' -print0)

if [ "$fail" = 0 ]; then
  echo "layering: ok (no skin imports below src/ffi/, pools independent, files <= $max_lines lines)"
fi
exit "$fail"
