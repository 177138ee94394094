#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/, clang + ASan + UBSan) and runs each for a fixed time
# on a scratch copy of its committed seed corpus (tests/fuzz/corpus/<name>/, which stays as it is).
#
#   scripts/fuzz.sh                      # every target, 30 s each (what scripts/test.sh runs)
#   scripts/fuzz.sh --seconds 1800 csv   # targets whose name contains "csv", 30 min each
#   scripts/fuzz.sh --keep DIR ...       # keep the grown corpora and any crash inputs in DIR
#   scripts/fuzz.sh --build-dir DIR      # build folder (default: build-sanitize when
#                                        # scripts/sanitize.sh built the fuzzers there, else build-fuzz)
#
# Exit status: 0 when no target found anything; 1 on any finding (a crash, sanitizer report,
# exception other than dc::InputError, timeout or memory blow-up; the input that caused it
# is kept and its path printed); 77 (and a loud SKIPPED) when clang or libFuzzer is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
build_dir=""
keep=""
filters=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) filters+=("$1"); shift ;;
  esac
done

skip() {
  echo "=================================================================" >&2
  echo "FUZZ SKIPPED: $*" >&2
  echo "  (install clang and libfuzzer-14-dev: scripts/install_deps.sh)" >&2
  echo "=================================================================" >&2
  exit 77
}
command -v clang++ > /dev/null 2>&1 || skip "clang++ is not installed"
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
printf '#include <cstdint>\n#include <cstddef>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' > "$probe_dir/probe.cpp"
clang++ -fsanitize=fuzzer,address,undefined "$probe_dir/probe.cpp" -o "$probe_dir/probe" > "$probe_dir/log" 2>&1 ||
  skip "clang++ cannot link a libFuzzer target: $(head -c 300 "$probe_dir/log")"

jobs=$(nproc 2>/dev/null || echo 2)
fuzz_enabled() { grep -q '^DEEPCHROME_FUZZ:BOOL=ON' "$1/CMakeCache.txt" 2>/dev/null; }
if [ -z "$build_dir" ]; then
  if fuzz_enabled build-sanitize; then build_dir=build-sanitize; else build_dir=build-fuzz; fi
fi
if [ -f "$build_dir/CMakeCache.txt" ] && ! fuzz_enabled "$build_dir"; then
  echo "$build_dir is configured without DEEPCHROME_FUZZ; give another --build-dir" >&2
  exit 1
fi
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDEEPCHROME_CUDA=OFF \
    -DDEEPCHROME_SANITIZE=address,undefined -DDEEPCHROME_FUZZ=ON > "$build_dir.configure.log" 2>&1 ||
    { cat "$build_dir.configure.log"; exit 1; }
fi
cmake --build "$build_dir" --target fuzzers -j"$jobs"

work=${keep:-$probe_dir/work}
mkdir -p "$work"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
ran=0
for source in tests/fuzz/fuzz_*.cpp; do
  target=$(basename "$source" .cpp)
  name=${target#fuzz_}
  if [ ${#filters[@]} -gt 0 ]; then
    match=0
    for f in "${filters[@]}"; do case "$name" in *"$f"*) match=1 ;; esac; done
    [ $match -eq 1 ] || continue
  fi
  mkdir -p "$work/$name/corpus" "$work/$name/crashes"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$work/$name/crashes/")
  [ -f "tests/fuzz/dict/$name.dict" ] && args+=(-dict="tests/fuzz/dict/$name.dict")
  seeds=("tests/fuzz/corpus/$name")
  if [ ! -d "tests/fuzz/corpus/$name" ]; then seeds=(); fi
  echo "== fuzz $name: ${seconds} s"
  ran=$((ran + 1))
  if ! "$build_dir/tests/fuzz/$target" "${args[@]}" "$work/$name/corpus" "${seeds[@]}" > "$work/$name/log" 2>&1; then
    tail -n 60 "$work/$name/log"
    failed+=("$name")
    echo "FUZZ FINDING in $name: input kept in $work/$name/crashes/ (log $work/$name/log)"
    [ -n "$keep" ] || { mkdir -p fuzz-findings; cp -r "$work/$name" "fuzz-findings/"; echo "  copied to fuzz-findings/$name"; }
  fi
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ *DONE)' "$work/$name/log" | tr '\n' ' '; echo
done
[ $ran -gt 0 ] || { echo "no fuzz target matches ${filters[*]}" >&2; exit 1; }
if [ ${#failed[@]} -gt 0 ]; then
  echo "FUZZ FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: $ran targets, ${seconds} s each, no findings"
