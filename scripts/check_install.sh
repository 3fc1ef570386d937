#!/usr/bin/env bash
# Installs a built tree into a temporary prefix, checks the layout (versioned
# shared library, SONAME, links, no debug info in the libraries but a .debug
# file beside the shared one, static library, headers, pkg-config file,
# CMake package), then builds tests/consumer out of tree against it and runs
# it: through find_package (shared and static), through pkg-config (shared C
# and C++, and static C with --static) with nothing but pkg-config's flags,
# and (with Go) the Go quickstart as a module outside the repository. Every
# program runs without LD_LIBRARY_PATH. Nothing is left behind.
#
# Usage: check_install.sh BUILD_DIR [CONSUMER_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: check_install.sh BUILD_DIR [CONSUMER_DIR]}" && pwd)
consumer=$(cd "${2:-$here/../tests/consumer}" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/futures-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
unset LD_LIBRARY_PATH PKG_CONFIG_PATH CMAKE_PREFIX_PATH || true

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { printf '\n--- %s\n' "$*"; }

step "cmake --install $build --prefix <tmp>"
cmake --install "$build" --prefix "$prefix"

step "layout"
pc=$(find "$prefix" -name futures.pc -path '*/pkgconfig/*' | head -n1)
[ -n "$pc" ] || fail "no futures.pc installed"
libdir=$(dirname "$(dirname "$pc")")
version=$(sed -n 's/^Version: //p' "$pc")
major=${version%%.*}
real=$libdir/libfutures.so.$version
[ -f "$real" ] && [ ! -L "$real" ] || fail "missing $real"
[ "$(readlink "$libdir/libfutures.so.$major")" = "libfutures.so.$version" ] || fail "libfutures.so.$major is not a link to libfutures.so.$version"
[ "$(readlink "$libdir/libfutures.so")" = "libfutures.so.$major" ] || fail "libfutures.so is not a link to libfutures.so.$major"
soname=$(readelf -d "$real" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libfutures.so.$major" ] || fail "SONAME is '$soname', want libfutures.so.$major"
[ -f "$libdir/libfutures.a" ] || fail "no libfutures.a"
for h in futures.h futures.hpp; do [ -f "$prefix/include/$h" ] || fail "no include/$h"; done
for f in futuresConfig.cmake futuresConfigVersion.cmake; do
  [ -f "$libdir/cmake/futures/$f" ] || fail "no $f"
done
# Debug info: none in the installed libraries; the shared library's is in
# $real.debug, named by its .gnu_debuglink section (FUT_STRIP_INSTALL).
sections() { readelf -SW "$1" | grep -oE '\.(debug_info|gnu_debuglink)\b' | sort -u || true; }
[ "$(sections "$real")" = .gnu_debuglink ] || fail "$real: sections '$(sections "$real" | xargs)', want .gnu_debuglink and no .debug_info"
[ -z "$(sections "$libdir/libfutures.a")" ] || fail "libfutures.a has debug info"
if readelf -SW "$libdir/libfutures.a" | grep -F .llvmbc >/dev/null; then fail "libfutures.a carries LLVM bitcode"; fi
[ "$(sections "$real.debug")" = .debug_info ] || fail "no debug info in $real.debug"
echo "ok: $real (SONAME $soname, no .debug_info, $(du -k "$real" | cut -f1) KiB), $(basename "$real").debug, links, libfutures.a, headers, futures.pc $version, CMake package"

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

step "consumer through find_package(futures)"
cmake -S "$consumer" -B "$tmp/cmake" "${generator[@]}" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
cmake --build "$tmp/cmake"
readelf -d "$tmp/cmake/consumer_c" | grep "NEEDED.*\[libfutures.so.$major\]" >/dev/null || fail "consumer_c does not need libfutures.so.$major"
if readelf -d "$tmp/cmake/consumer_c_static" | grep 'NEEDED.*libfutures' >/dev/null; then fail "consumer_c_static needs libfutures.so"; fi
for exe in consumer_c consumer_c_static consumer_cpp; do
  "$tmp/cmake/$exe" || fail "$exe failed"
done

step "consumer through pkg-config"
export PKG_CONFIG_PATH=$libdir/pkgconfig
[ "$(pkg-config --modversion futures)" = "$version" ] || fail "pkg-config --modversion futures"
cflags=$(pkg-config --cflags futures)
libs=$(pkg-config --libs futures)
# Only pkg-config's flags: its Libs carry -Wl,-rpath,<libdir> (FUT_PC_RPATH).
# shellcheck disable=SC2086 # word splitting of the flags is intended
cc -std=c11 -Wall -Wextra -Werror $cflags "$consumer/main.c" $libs -o "$tmp/pc_c"
# shellcheck disable=SC2086
c++ -std=c++17 -Wall -Wextra -Werror $cflags "$consumer/main.cpp" $libs -pthread -o "$tmp/pc_cpp"
readelf -d "$tmp/pc_c" | grep -E "(RUNPATH|RPATH).*\[$libdir\]" >/dev/null || fail "pc_c has no RUNPATH $libdir"
# Static: --static adds Libs.private; -l:libfutures.a picks the archive over
# the shared library installed beside it.
static_libs=$(pkg-config --static --libs futures)
static_libs=${static_libs/-lfutures/-l:libfutures.a}
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror $cflags "$consumer/main.c" $static_libs -o "$tmp/pc_c_static"
if readelf -d "$tmp/pc_c_static" | grep 'NEEDED.*libfutures' >/dev/null; then fail "pc_c_static needs libfutures.so"; fi
for exe in pc_c pc_cpp pc_c_static; do
  "$tmp/$exe" || fail "$exe failed"
done

step "Go binding outside the repository, flags from pkg-config"
go=$(command -v go || true)
[ -z "$go" ] && [ -x /usr/local/go/bin/go ] && go=/usr/local/go/bin/go
if [ -z "$go" ]; then
  [ "${FUT_REQUIRE_TOOLS:-0}" = 1 ] && fail "Go is not installed and FUT_REQUIRE_TOOLS=1"
  echo "SKIPPED: Go consumer (Go is not installed)"
else
  mkdir -p "$tmp/goapp"
  cp "$here/../bindings/go/examples/quickstart/main.go" "$tmp/goapp/"
  printf 'module goapp\n\ngo 1.23\n\nrequire libfutures/bindings/go v0.0.0\n\nreplace libfutures/bindings/go => %s\n' \
    "$(cd "$here/../bindings/go" && pwd)" >"$tmp/goapp/go.mod"
  (cd "$tmp/goapp" && CGO_ENABLED=1 GOTOOLCHAIN=local \
    CGO_CFLAGS="$cflags" CGO_LDFLAGS="$libs" "$go" build -o "$tmp/goapp/app" .)
  readelf -d "$tmp/goapp/app" | grep -E "(RUNPATH|RPATH).*$libdir" >/dev/null || fail "goapp has no RUNPATH $libdir"
  "$tmp/goapp/app" || fail "the Go consumer failed"
fi

echo
echo "ok: installed package consumed through find_package, pkg-config (shared and static) and Go, without LD_LIBRARY_PATH"
