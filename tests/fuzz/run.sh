#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for SECONDS
# (default 600) on its seed corpus:  bash tests/fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-600}
cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DDURABLED_FUZZ=ON -DDURABLED_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz --target fuzz_path_validation fuzz_config fuzz_write_request
artifacts=build-fuzz/artifacts
mkdir -p "$artifacts"
status=0
for target in path_validation config write_request; do
  work=$(mktemp -d)
  cp -r "tests/fuzz/corpus/$target/." "$work/"
  echo "=== fuzz_$target for ${seconds}s"
  # A finding makes libFuzzer exit non-zero and write the input to
  # $artifacts; the corpus it grew stays in $work only for this run.
  if ! build-fuzz/tests/fuzz/fuzz_$target "$work" -max_total_time="$seconds" \
      -print_final_stats=1 -rss_limit_mb=4096 -artifact_prefix="$artifacts/" \
      >"$artifacts/fuzz_$target.log" 2>&1; then
    echo "fuzz_$target FOUND A PROBLEM:"; tail -40 "$artifacts/fuzz_$target.log"
    status=1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$artifacts/fuzz_$target.log" || true
  rm -rf "$work"
done
exit $status
