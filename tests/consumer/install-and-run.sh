#!/usr/bin/env bash
# Consumer test of the installed C++ client (ctest: cpp_consumer_test).
#
#   install-and-run.sh BUILD_DIR SOURCE_DIR WORK_DIR DURABLED
#       installs BUILD_DIR's runtime, lib and dev components into WORK_DIR/stage
#       (DESTDIR, prefix /usr), then runs the checks below against it.
#   install-and-run.sh --prefix PREFIX SOURCE_DIR WORK_DIR DURABLED
#       runs them against an existing install prefix (e.g. the root of the
#       installed .deb packages: deploy/test-package.sh).
#
# Checks, each program run against a fresh daemon (tests/conformance/
# with-daemon.sh):
#   1. tests/consumer/ built with find_package(durable CONFIG REQUIRED),
#      linked to durable::client (shared) and to durable::client_static;
#   2. consumer.cc built with `pkg-config --cflags --libs durable-client`;
#   3. the shared programs load libdurable_client.so.0 from the prefix.
set -euo pipefail

if [ "$1" = --prefix ]; then
  prefix=$(realpath "$2"); shift 2
  build_dir=""
else
  build_dir=$(realpath "$1"); shift
fi
source_dir=$(realpath "$1")
work_dir=$2
daemon=$(realpath "$3")
fail() { echo "FAILED: $*" >&2; exit 1; }
step() { echo "=== $*"; }

rm -rf "$work_dir"; mkdir -p "$work_dir"; work_dir=$(realpath "$work_dir")

if [ -n "$build_dir" ]; then
  step "install into $work_dir/stage"
  for component in runtime lib dev; do
    DESTDIR="$work_dir/stage" cmake --install "$build_dir" --prefix /usr \
      --component "$component" >"$work_dir/install-$component.log"
  done
  prefix=$work_dir/stage/usr
fi
libdir=$(dirname "$(find "$prefix/lib" -name 'libdurable_client.so.0' | head -n1)")
[ -d "$libdir" ] || fail "no libdurable_client.so.0 under $prefix/lib"
[ -f "$prefix/include/durable/client.h" ] || fail "no durable/client.h under $prefix/include"

run_against_daemon() {  # program...
  bash "$source_dir/tests/conformance/with-daemon.sh" "$daemon" -- \
    bash -c '"$@" "$DURABLE_CONFORMANCE_BASE/roots/rw/consumer.txt"' _ "$@"
}
check_loads_from_prefix() {  # program
  local resolved
  resolved=$(LD_LIBRARY_PATH="$libdir" ldd "$1" | awk '/libdurable_client/ {print $3}')
  [ "$(realpath "$resolved")" = "$(realpath "$libdir/libdurable_client.so.0")" ] ||
    fail "$1 loads libdurable_client from '$resolved', not from $libdir"
}

step "CMake consumer: find_package(durable) against $prefix"
cmake -S "$source_dir/tests/consumer" -B "$work_dir/cmake" -G Ninja \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >"$work_dir/cmake.log" ||
  { cat "$work_dir/cmake.log"; fail "configuring the consumer"; }
grep -q "durable_DIR:PATH=$prefix/" "$work_dir/cmake/CMakeCache.txt" ||
  fail "find_package(durable) did not find the package under $prefix"
cmake --build "$work_dir/cmake" >"$work_dir/build.log" ||
  { cat "$work_dir/build.log"; fail "building the consumer"; }
check_loads_from_prefix "$work_dir/cmake/consumer_shared"
if LD_LIBRARY_PATH="$libdir" ldd "$work_dir/cmake/consumer_static" | grep -q libdurable_client; then
  fail "consumer_static links libdurable_client.so"
fi
LD_LIBRARY_PATH="$libdir" run_against_daemon "$work_dir/cmake/consumer_shared"
run_against_daemon "$work_dir/cmake/consumer_static"

step "pkg-config consumer against $prefix"
pc_dir=$(dirname "$(find "$prefix/lib" -name durable-client.pc | head -n1)")
[ -f "$pc_dir/durable-client.pc" ] || fail "no durable-client.pc under $prefix/lib"
flags=$(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs durable-client)
echo "pkg-config --cflags --libs durable-client: $flags"
include_flag=$(grep -o -- "-I[^ ]*" <<<"$flags" | head -n1)
[ "$(realpath "${include_flag#-I}")" = "$(realpath "$prefix/include")" ] ||
  fail "pkg-config's include directory is not $prefix/include: $include_flag"
# shellcheck disable=SC2086
g++ -std=c++17 -o "$work_dir/consumer_pkgconfig" "$source_dir/tests/consumer/consumer.cc" $flags
check_loads_from_prefix "$work_dir/consumer_pkgconfig"
LD_LIBRARY_PATH="$libdir" run_against_daemon "$work_dir/consumer_pkgconfig"
echo "PASSED: CMake (shared, static) and pkg-config consumers against $prefix"
