#!/usr/bin/env bash
# Builds the CPU test suites with AddressSanitizer + UndefinedBehaviorSanitizer
# (-DDEEPCHROME_SANITIZE=address,undefined, no CUDA, RelWithDebInfo) into build-sanitize/ and
# runs them there; any sanitizer report fails the run. With clang (and libFuzzer) the same
# build also holds the fuzz targets of tests/fuzz/ (scripts/fuzz.sh runs them), so the libraries
# are compiled once; without clang it uses the default compiler and the fuzzers are left out.
#
#   scripts/sanitize.sh                          # build + every CPU suite (what scripts/test.sh runs)
#   SANITIZE_SUITES='kernels|io' scripts/sanitize.sh   # only these suites
#   SANITIZE_BUILD_DIR=DIR scripts/sanitize.sh   # another build folder (default build-sanitize)
#
# Every CPU suite is clean (issue 14, clang 14, 2026-12-05), the cases asserting bit-identical
# results across thread counts included (the kernels run on our own thread team, whose work
# functions keep their target attributes; clang dropped them in OpenMP regions). Never run here:
# cuda (no sanitizer for device code), browser (Chromium, minutes) and gpu_check_rehearsal
# (a shell rehearsal of another build).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${SANITIZE_BUILD_DIR:-build-sanitize}
jobs=$(nproc 2>/dev/null || echo 2)

if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  # No MPI: the mpi suite (mpirun) is not run here, and Open MPI's own allocations are not ours.
  options=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DDEEPCHROME_CUDA=OFF -DDEEPCHROME_MPI=OFF -DDEEPCHROME_SANITIZE=address,undefined)
  probe=$(mktemp -d)
  printf '#include <cstdint>\n#include <cstddef>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\nint f() { return 0; }\n' > "$probe/p.cpp"
  if command -v clang++ > /dev/null 2>&1 && clang++ -fsanitize=address,undefined -shared -fPIC "$probe/p.cpp" -o "$probe/p.so" > /dev/null 2>&1; then
    options+=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++)
    # clang's OpenMP runtime (libomp-dev); without it the suites run single-threaded.
    clang++ -fopenmp -shared -fPIC "$probe/p.cpp" -o "$probe/p.so" > /dev/null 2>&1 || options+=(-DDEEPCHROME_OPENMP=OFF)
    # The fuzz targets too when libFuzzer links (scripts/fuzz.sh checks the same and says so).
    if clang++ -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" > /dev/null 2>&1; then
      options+=(-DDEEPCHROME_FUZZ=ON)
    fi
  fi
  rm -rf "$probe"
  cmake -S . -B "$build_dir" "${options[@]}"
fi
selected=${SANITIZE_SUITES:-engine|kernels|models|io|cli|prepare}
suites=()
for s in engine kernels models io cli prepare; do
  if [[ "$s" =~ ^($selected)$ ]]; then suites+=("test_$s"); else left_out+="$s "; fi
done
[ -z "${left_out:-}" ] || echo "sanitize.sh: NOT RUN under ASan + UBSan: ${left_out}(SANITIZE_SUITES)" >&2
cmake --build "$build_dir" --target "${suites[@]}" -j"$jobs"

# Leaks count as failures; UBSan stops at its first report (the build also says so).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# htslib 1.16's own leak on a damaged BGZF block (see the file).
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan_suppressions.txt}
# The selected CPU suites (ctest passes each its arguments; with clang: the cases left out).
ctest --test-dir "$build_dir" --output-on-failure -j"$jobs" -R "^($selected)\$" "$@"
[ -z "${left_out:-}" ] || echo "sanitize.sh: NOT RUN under ASan + UBSan: ${left_out}" >&2
