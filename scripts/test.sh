#!/usr/bin/env bash
# One command from a fresh Debian machine: install build dependencies, build, run every test;
# then the CPU suites again under ASan + UBSan (scripts/sanitize.sh) and each fuzz target for
# 30 s (scripts/fuzz.sh). Arguments go to the first ctest run. Each step's wall time is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
jobs=$(nproc 2>/dev/null || echo 2)
ctest --test-dir build --output-on-failure -j"$jobs" "$@"

step_start=$SECONDS
scripts/sanitize.sh
echo "test.sh: sanitizer build + CPU suites took $((SECONDS - step_start)) s"

step_start=$SECONDS
fuzz_status=0
scripts/fuzz.sh --seconds 30 || fuzz_status=$?
echo "test.sh: fuzz build + runs took $((SECONDS - step_start)) s"
if [ $fuzz_status -eq 77 ]; then
  echo "=================================================================" >&2
  echo "test.sh: WARNING: the fuzz step was SKIPPED (no clang / libFuzzer); see above" >&2
  echo "=================================================================" >&2
elif [ $fuzz_status -ne 0 ]; then
  exit $fuzz_status
fi
