#!/usr/bin/env bash
# Fails if libfutures.so exports any defined dynamic symbol not named fut_*.
set -euo pipefail
lib=${1:?usage: check_symbols.sh path/to/libfutures.so}
bad=$(nm -D --defined-only "$lib" | awk '{print $NF}' | grep -v '^fut_' || true)
count=$(nm -D --defined-only "$lib" | awk '{print $NF}' | grep -c '^fut_' || true)
if [ -n "$bad" ]; then
  echo "symbols exported without the fut_ prefix:"; echo "$bad"; exit 1
fi
echo "ok: $count exported symbols, all fut_*"
