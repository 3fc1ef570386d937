#!/usr/bin/env bash
# CTest go_bindings: vets and tests the Go binding (bindings/go) against the
# library built by CMake, then runs the completion tests again with the
# fallback completion loop (a goroutine blocked in fut_completion_queue_wait).
#
# Usage: run_go_bindings.sh REPO_ROOT LIB_DIR [GO]
# GO defaults to `go` on PATH. Without Go: exit 77 (skipped), or 1 when
# FUT_REQUIRE_TOOLS=1. The Go build cache stays where Go keeps it (GOCACHE,
# by default in the user's cache directory), never in the repository.
set -euo pipefail
root=$1 lib=$2 go=${3:-}
if [ -z "$go" ] || [ ! -x "$go" ]; then
  go=$(command -v go || true)
fi
if [ -z "$go" ]; then
  if [ "${FUT_REQUIRE_TOOLS:-0}" = 1 ]; then
    echo "go_bindings: Go is not installed and FUT_REQUIRE_TOOLS=1" >&2
    exit 1
  fi
  echo "SKIPPED: go_bindings: Go is not installed (Go >= 1.23 with cgo; /usr/local/go/bin or PATH)"
  exit 77
fi
"$go" version
cd "$root/bindings/go"
export CGO_ENABLED=1 GOTOOLCHAIN=local
export CGO_CFLAGS="-I$root/include ${CGO_CFLAGS:-}"
export CGO_LDFLAGS="-L$lib -Wl,-rpath,$lib ${CGO_LDFLAGS:-}"
"$go" vet ./...
"$go" test -count=1 -timeout 240s ./...
FUTURES_GO_CQ=wait "$go" test -count=1 -timeout 120s -run 'Promise|Wait|AsCompleted|SubmitFunc' .
