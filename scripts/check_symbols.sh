#!/usr/bin/env bash
# Compares the dynamic symbols libfutures.so exports with the allow-list
# abi/symbols.txt (one name a line, sorted with LC_ALL=C). Fails on any
# exported symbol missing from the list (an accidental export, or a new
# function nobody added to the ABI list) and on any listed symbol the library
# lacks (a removed or renamed function: an ABI break). Every listed name must
# carry the fut_ prefix.
#
# Usage: check_symbols.sh path/to/libfutures.so [abi/symbols.txt]
#        check_symbols.sh --update path/to/libfutures.so [abi/symbols.txt]
#          rewrites the list from the library (review the diff, then commit)
set -euo pipefail
update=0
if [ "${1:-}" = "--update" ]; then update=1; shift; fi
lib=${1:?usage: check_symbols.sh [--update] path/to/libfutures.so [symbols.txt]}
list=${2:-"$(dirname "$0")/../abi/symbols.txt"}
export LC_ALL=C

exported=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sort -u)
if [ "$update" = 1 ]; then
  printf '%s\n' "$exported" > "$list"
  echo "wrote $(wc -l < "$list") symbols to $list"
  exit 0
fi

fail=0
if ! sort -c -u "$list" 2>/dev/null; then
  echo "$list is not sorted (LC_ALL=C sort -u) or has duplicates"; fail=1
fi
bad_prefix=$(grep -v '^fut_' "$list" || true)
if [ -n "$bad_prefix" ]; then
  echo "listed symbols without the fut_ prefix:"; echo "$bad_prefix"; fail=1
fi
# Temporary files, not process substitution: bash does not wait for the
# latter, which leaves its subshells behind as orphans.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%s\n' "$exported" > "$tmp/exported"
sort -u "$list" > "$tmp/listed"
extra=$(comm -23 "$tmp/exported" "$tmp/listed")
missing=$(comm -13 "$tmp/exported" "$tmp/listed")
if [ -n "$extra" ]; then
  echo "exported but not in $list (add them if they are meant to be API):"; echo "$extra"; fail=1
fi
if [ -n "$missing" ]; then
  echo "listed in $list but not exported (removed or renamed: an ABI break):"; echo "$missing"; fail=1
fi
if [ "$fail" = 1 ]; then
  echo "(after an intended change: scripts/check_symbols.sh --update $lib, then commit abi/symbols.txt)"
  exit 1
fi
echo "ok: $(printf '%s\n' "$exported" | wc -l) exported symbols, all fut_* and all in $list"
