#!/usr/bin/env bash
# Regenerates include/futures.h from src/ffi/ (never edit the header by hand).
set -euo pipefail
cd "$(dirname "$0")/.."
cbindgen --quiet --config cbindgen.toml --output include/futures.h
