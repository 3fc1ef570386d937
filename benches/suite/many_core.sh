#!/usr/bin/env bash
# The many-core thread pool issue's sweep, for a host that can run programs
# but not build them (the 16-core machine lent for a few minutes has no Rust
# toolchain, and may lack oneTBB and GLib). Two steps:
#
#   bash benches/suite/many_core.sh bundle      # here: build, then gather the
#                                               # programs and the shared
#                                               # libraries they need into
#                                               # build/many_core (~4 MB)
#   bash benches/suite/many_core.sh run DIR     # there, from the same checkout
#                                               # with build/many_core carried:
#                                               # the sweep, results into DIR
#
# `run` writes DIR/machine.txt, then DIR/throughput.log and
# DIR/throughput/results.{json,csv} (B-W1, B-W3, B-W5 at 2, 8 and 16 workers,
# 5 runs x 3 interleaved rounds: the issue's "done means"), then the same for
# DIR/latency (B-W2 and B-I1, 5 runs x 1 round): seven files, none deeper
# than one folder, so that a tool that brings back a few files brings back
# all. The peers are GLib, the Rust threadpool crate, rayon and oneTBB;
# CPython is left out for time (it was never the best peer of these
# workloads). On 2 cores `run` takes about 5 minutes (throughput 1.5,
# latency 3.5); `run DIR quick` (scale 0.1, 3 runs, 1 round) checks the
# bundle in about 20 s.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bundle=$root/build/many_core
suite=$root/benches/suite
peers=glib,threadpool,rayon,tbb

# Libraries every Linux host has (glibc's, the C++ runtime): not bundled.
system_libs='/(libc|libm|libdl|librt|libpthread|libgcc_s|libstdc\+\+|ld-linux[^/]*)\.so'

make_bundle() {
    set -e
    [ -f "$root/build/CMakeCache.txt" ] || cmake -S "$root" -B "$root/build" -G Ninja >/dev/null
    python3 "$suite/run.py" --build-dir "$root/build" --build-only --peers "$peers" \
        | tee /dev/stderr | awk '{print $2}' | sort -u >"$root/build/many_core.list"
    rm -rf "$bundle"
    mkdir -p "$bundle/lib" "$bundle/peers_rs/release"
    while read -r exe; do
        case "$exe" in
        */peers_rs/release/peers_rs) dest=$bundle/peers_rs/release/ ;;
        *) dest=$bundle/ ;;
        esac
        cp "$exe" "$dest"
        ldd "$exe" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | grep -Ev "$system_libs" || true
    done <"$root/build/many_core.list" | sort -u | while read -r lib; do
        cp -L "$lib" "$bundle/lib/"
    done
    strip --strip-debug "$bundle"/lib/libfutures.so* "$bundle/peers_rs/release/peers_rs" 2>/dev/null || true
    rm -f "$root/build/many_core.list"
    echo "bundle: $bundle ($(du -sh "$bundle" | cut -f1)); carry build/many_core, then run:" \
        "bash benches/suite/many_core.sh run \"\$OUT\""
}

# One run.py sweep: NAME/results.json and NAME/results.csv, and its output
# in NAME.log, all in the output folder.
sweep() {
    local out=$1 name=$2
    shift 2
    PYTHONUNBUFFERED=1 python3 "$suite/run.py" --no-build --no-plot --build-dir "$bundle" \
        --peers "$peers" --out "$out/$name" "$@" 2>&1 | tee "$out/$name.log"
}

run_sweep() {
    local out=${1:?run needs an output folder} size=(--runs 5) rounds=(--rounds 3)
    if [ "${2:-}" = quick ]; then
        size=(--runs 3 --scale 0.1)
        rounds=(--rounds 1)
    fi
    [ -x "$bundle/lf_bench" ] || { echo "no bundle at $bundle: run 'bundle' first" >&2; exit 2; }
    mkdir -p "$out"
    export LD_LIBRARY_PATH=$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    {
        echo "cpus (nproc): $(nproc)"
        uname -a
        grep -m1 'model name' /proc/cpuinfo || true
        echo "python: $(python3 --version 2>&1)"
        for exe in "$bundle/lf_bench" "$bundle/tbb_bench" "$bundle/glib_bench"; do
            ldd "$exe" 2>&1 | grep -E 'not found|libfutures|libtbb|libglib' || true
        done
    } >"$out/machine.txt"
    local rc=0
    sweep "$out" throughput --workloads B-W1,B-W3,B-W5 --workers 2,8,16 \
        "${size[@]}" "${rounds[@]}" || rc=1
    sweep "$out" latency --workloads B-W2,B-I1 --workers 2,8,16 "${size[@]}" --rounds 1 || rc=1
    return "$rc"
}

case "${1:-}" in
bundle) make_bundle ;;
run) run_sweep "${@:2}" ;;
*)
    echo "usage: $0 bundle | run DIR [quick]" >&2
    exit 2
    ;;
esac
