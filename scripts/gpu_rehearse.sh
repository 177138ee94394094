#!/usr/bin/env bash
# Rehearses, on this machine (no GPU needed; root, for a private mount namespace), the bare
# GPU machine path of scripts/gpu_check.sh as far as it can go without a GPU:
#
#   1. scripts/gpu_prepare.sh makes .gpu-carry/ (skipped with --no-prepare if it is there)
#   2. the Debian dev packages hidden (nlohmann, doctest and zlib headers, libz.so, their
#      CMake files: empty mounts in a private namespace, nothing uninstalled): the configure
#      fails without the carried deps and succeeds with them, and a source file of each
#      dependency compiles with the carried copies alone
#   3. the GPU machine's library layout: /usr/local/cuda/lib hidden, cuDNN and cuBLAS offered
#      only as NVIDIA wheels (a site-packages folder python3 finds) and libcudart in none of
#      them (so it must come from .gpu-carry/lib)
#   4. gpu_check.sh --dry-run there: every step with its budget and command, each test
#      filter's case count
#   5. gpu_check.sh for real there: the binaries start, every test file reports skipped (no
#      GPU), the benchmarks say no GPU, the summary is written, at most 7 files, in seconds
#   6. with --with-build: gpu_check.sh --build in the namespace of 2 (the fallback build on
#      the GPU machine, with the carried deps only; minutes on 2 cores)
#   7. the device command fits (2000 characters) and what travels fits (64 MiB)
#
# usage: scripts/gpu_rehearse.sh [--no-prepare] [--with-build] [--keep DIR]
#        scripts/gpu_rehearse.sh --ctest BUILD_DIR   (the quick part that ctest runs: 2 without
#                                the compile, and 4-5 with BUILD_DIR's binaries; exit 77 = skipped)
# Prints PASS / FAIL per check and ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

prepare=1 with_build=0 ctest_bin="" keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --no-prepare) prepare=0; shift ;;
    --with-build) with_build=1; shift ;;
    --ctest) ctest_bin="${2:?--ctest needs the build folder}"; shift 2 ;;
    --keep) keep="${2:?--keep needs a folder}"; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "gpu_rehearse: unknown option '$1'" >&2; exit 2 ;;
  esac
done

# The command the lead runs on the GPU machine (README, "GPU check"): keep the two in step.
device_command='bash scripts/gpu_check.sh --out "$OUT"'
carry_list='.gpu-carry'

passed=0 failed=0 skipped=0
check() {  # description, then a command whose success is the check
  local what=$1; shift
  if "$@"; then echo "PASS  $what"; passed=$((passed + 1)); else echo "FAIL  $what"; failed=$((failed + 1)); fi
}
skip() { echo "SKIP  $1"; skipped=$((skipped + 1)); }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gpu-rehearse.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

can_unshare() { unshare -m --propagation private true 2>/dev/null; }

# Runs "$@" in a private mount namespace where the Debian dev packages are hidden; with
# NS_DEVICE_LIBS=1 in the environment also the CUDA libraries' layout of the GPU machine (3.).
in_bare_namespace() {
  unshare -m --propagation private bash -c '
    set -e
    tmp=$(mktemp -d "$1/ns.XXXXXX"); shift
    mkdir -p "$tmp/empty"; : > "$tmp/empty-file"
    # (never over a symbolic link: the mount would cover its target, e.g. the libz.so.1 that
    # everything loads; libz.so, a link, stays, and the carried copy is found first)
    hide_dir() { [ -d "$1" ] && [ ! -L "$1" ] && mount --bind "$tmp/empty" "$1"; return 0; }
    hide_file() { [ -f "$1" ] && [ ! -L "$1" ] && mount --bind "$tmp/empty-file" "$1"; return 0; }
    for d in /usr/include/nlohmann /usr/include/doctest /usr/share/cmake/nlohmann_json /usr/lib/cmake/nlohmann_json \
             /usr/lib/cmake/doctest /usr/lib/x86_64-linux-gnu/cmake/nlohmann_json; do hide_dir "$d"; done
    # zlib.h cannot vanish: an empty one makes any use of the system copy a compile error
    for f in /usr/include/zlib.h /usr/include/zconf.h /usr/lib/x86_64-linux-gnu/libz.so /usr/lib/x86_64-linux-gnu/libz.a \
             /usr/lib/x86_64-linux-gnu/pkgconfig/zlib.pc; do hide_file "$f"; done
    if [ "${NS_DEVICE_LIBS:-0}" = 1 ]; then
      cuda_lib=$(readlink -f /usr/local/cuda/lib64)
      mkdir -p "$tmp/real-cuda-lib" "$tmp/site/nvidia/cu13/lib" "$tmp/site/nvidia/cudnn/lib"
      mount --bind "$cuda_lib" "$tmp/real-cuda-lib"
      for f in "$tmp"/real-cuda-lib/libcublas*.so.* "$tmp"/real-cuda-lib/libnvblas*.so.*; do ln -s "$f" "$tmp/site/nvidia/cu13/lib/"; done
      for f in "$tmp"/real-cuda-lib/libcudnn*.so.*; do ln -s "$f" "$tmp/site/nvidia/cudnn/lib/"; done
      mount --bind "$tmp/empty" "$cuda_lib"
      export PYTHONPATH="$tmp/site${PYTHONPATH:+:$PYTHONPATH}"
    fi
    "$@"' _ "$tmp" "$@"
}

# ---- the quick part, for ctest ----------------------------------------------------------------

deps_configure_checks() {  # 2. without the compile (ctest) or with it
  local compile=$1
  if ! can_unshare; then skip "bare-machine configure: no private mount namespace here (needs root)"; return; fi
  scripts/gpu_prepare.sh --deps-only "$tmp/deps" >/dev/null || { check "copy the header-only deps" false; return; }
  in_bare_namespace cmake -S . -B "$tmp/no-deps" -DDEEPCHROME_CUDA=OFF > "$tmp/no-deps.log" 2>&1
  local rc=$?
  check "with the Debian packages hidden, configure fails without the carried deps" [ $rc -ne 0 ]
  check "... and says what is missing (nlohmann/json.hpp)" grep -q "nlohmann/json.hpp not found" "$tmp/no-deps.log"
  local gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  in_bare_namespace cmake -S . -B "$tmp/with-deps" "${gen[@]}" -DDEEPCHROME_CUDA=OFF -DDEEPCHROME_DEPS_DIR="$tmp/deps" \
    > "$tmp/with-deps.log" 2>&1
  check "with the carried deps (-DDEEPCHROME_DEPS_DIR), configure succeeds" [ $? -eq 0 ]
  local cache="$tmp/with-deps/CMakeCache.txt"
  check "... nlohmann, doctest and zlib all found in the carried folder" bash -c "
    grep -q '^NLOHMANN_JSON_INCLUDE_DIR:PATH=$tmp/deps/include' '$cache' &&
    grep -q '^DOCTEST_INCLUDE_DIR:PATH=$tmp/deps/include' '$cache' &&
    grep -q '^ZLIB_INCLUDE_DIR:PATH=$tmp/deps/include' '$cache' &&
    grep -q '^ZLIB_LIBRARY_RELEASE:FILEPATH=$tmp/deps/lib/libz.so' '$cache'"
  if [ "$compile" = 1 ]; then
    # One source file using nlohmann (io/config.cpp) and doctest's main, compiled there.
    local objs
    objs=$(cd "$tmp/with-deps" && { ninja -t targets all 2>/dev/null || true; } | grep -oE '^[^:]*(io/config\.cpp|tests/doctest_main\.cpp)\.o' | tr '\n' ' ')
    if [ -z "$objs" ]; then
      skip "compile with the carried deps: no Ninja here"
    else
      # shellcheck disable=SC2086
      in_bare_namespace ninja -C "$tmp/with-deps" $objs > "$tmp/compile.log" 2>&1
      check "io/config.cpp (nlohmann) and tests/doctest_main.cpp (doctest) compile with the carried copies alone" [ $? -eq 0 ]
    fi
  fi
}

# 4 and 5 with the binaries in $1 (--bin) or the prepared carry ("").
check_script_runs() {
  local bin=$1 ns=$2 args=() runner=()
  [ -n "$bin" ] && args=(--bin "$bin")
  [ "$ns" = 1 ] && runner=(in_bare_namespace) && export NS_DEVICE_LIBS=1
  "${runner[@]}" scripts/gpu_check.sh "${args[@]}" --dry-run --out "$tmp/dry" > "$tmp/dry.log" 2>&1
  local rc=$?
  echo "---- gpu_check.sh --dry-run"; cat "$tmp/dry/summary.txt" 2>/dev/null || tail -20 "$tmp/dry.log"; echo "----"
  check "dry run: exits 0 and writes the summary" [ $rc -eq 0 -a -f "$tmp/dry/summary.txt" ]
  check "dry run: a test step per test file, each with its budget and at least one case" bash -c "
    n=\$(ls tests/cuda/test_cuda_*.cpp | wc -l)
    [ \$(grep -cE '^tests/[a-z_]+ +planned +0 +[0-9]+ +[1-9][0-9]* cases: ' '$tmp/dry/summary.txt') -eq \$n ]"
  check "dry run: memcheck runs every file, racecheck every file with small cases (op table, lstm, conv, gemm, attention, losses/sums, optim)" bash -c "
    n=\$(ls tests/cuda/test_cuda_*.cpp | wc -l)
    [ \$(grep -cE '^memcheck-[a-z_]+ +planned .* [1-9][0-9]* cases: ' '$tmp/dry/summary.txt') -eq \$n ] &&
    for f in op_table lstm conv_pool_dropout gemm attention pointwise optim runtime; do
      grep -qE \"^racecheck-\$f +planned .* [1-9][0-9]* cases: \" '$tmp/dry/summary.txt' || exit 1
    done"
  check "dry run: both benchmarks planned with their commands" bash -c "
    grep -qE '^bench-cuda +planned .*bench --only cuda --out ' '$tmp/dry/summary.txt' &&
    grep -qE '^bench-e2e +planned .*bench --only e2e --device cuda --out ' '$tmp/dry/summary.txt'"

  local t0=$SECONDS
  "${runner[@]}" scripts/gpu_check.sh "${args[@]}" --out "$tmp/run" > "$tmp/run.log" 2>&1
  rc=$?
  local secs=$((SECONDS - t0))
  echo "---- gpu_check.sh (no GPU here), ${secs} s"; cat "$tmp/run/summary.txt" 2>/dev/null || tail -20 "$tmp/run.log"; echo "----"
  if grep -q '^GPU: cuda suite on' "$tmp/run/summary.txt" 2>/dev/null; then
    skip "the real run: this machine has a usable GPU (run scripts/gpu_check.sh itself)"
    return
  fi
  check "run without a GPU: exits 0 and writes the summary (took ${secs} s)" [ $rc -eq 0 -a -f "$tmp/run/summary.txt" ]
  check "run without a GPU and dry run: only the 7 result files' names in the output folders" bash -c "
    ! find '$tmp/run' '$tmp/dry' -mindepth 1 | grep -vE '/(summary\.txt|log\.txt|tests\.log|memcheck\.log|racecheck\.log|bench-cuda\.json|bench-e2e-cuda\.json)\$'"
  check "run without a GPU: the binaries start (setup ok)" grep -qE '^setup +ok ' "$tmp/run/summary.txt"
  check "run without a GPU: every test file ran and reported itself skipped" bash -c "
    n=\$(ls tests/cuda/test_cuda_*.cpp | wc -l)
    [ \$(grep -cE '^tests/[a-z_]+ +SKIPPED .*cuda suite SKIPPED: no usable CUDA device' '$tmp/run/summary.txt') -eq \$n ]"
  check "run without a GPU: both benchmarks ran and said there is no GPU" bash -c "
    [ \$(grep -cE '^bench-(cuda|e2e) +SKIPPED .*no usable CUDA device' '$tmp/run/summary.txt') -eq 2 ]"
  check "run without a GPU: tests.log holds every file's output" bash -c "
    [ \$(grep -c '^=================== test_cuda_' '$tmp/run/tests.log') -eq \$(ls tests/cuda/test_cuda_*.cpp | wc -l) ]"
  if [ "$ns" = 1 ]; then
    check "device library layout: the CUDA libraries found in the wheels' folders (python3)" \
      grep -qE 'CUDA library folders: [^ ]*/site/nvidia/(cu13|cudnn)/lib' "$tmp/run/log.txt"
    check "device library layout: libcudart, in no wheel there, taken from .gpu-carry/lib" \
      grep -q 'libraries missing here: libcudart.so.13; taken from .*: libcudart.so.13' "$tmp/run/log.txt"
    check "the prebuilt binaries match this tree's sources (not stale)" grep -qE '^setup +ok .*binaries: prebuilt' "$tmp/run/summary.txt"
  fi
  [ -n "$keep" ] && { mkdir -p "$keep"; cp -r "$tmp/dry" "$tmp/run" "$keep/"; }
  export NS_DEVICE_LIBS=0
}

if [ -n "$ctest_bin" ]; then
  if [ ! -x "$ctest_bin/test_cuda" ] && ! can_unshare; then
    echo "gpu check rehearsal SKIPPED: no CUDA build in $ctest_bin and no private mount namespace"
    exit 77
  fi
  deps_configure_checks 0
  if [ -x "$ctest_bin/test_cuda" ]; then check_script_runs "$(cd "$ctest_bin" && pwd)" 0
  else skip "gpu_check.sh runs: $ctest_bin has no test_cuda (a build without CUDA)"; fi
  echo "$passed passed, $failed failed, $skipped skipped"
  [ $failed -eq 0 ] || exit 1
  [ $passed -gt 0 ] || exit 77
  exit 0
fi

# ---- the full rehearsal ---------------------------------------------------------------------

can_unshare || { echo "gpu_rehearse: needs a private mount namespace (unshare -m, as root)" >&2; exit 2; }
if [ "$prepare" = 1 ] || [ ! -x .gpu-carry/bin/test_cuda ]; then
  echo "== 1. scripts/gpu_prepare.sh"
  t0=$SECONDS
  scripts/gpu_prepare.sh > "$tmp/prepare.log" 2>&1
  check "gpu_prepare.sh builds .gpu-carry ($((SECONDS - t0)) s)" [ $? -eq 0 ]
  tail -25 "$tmp/prepare.log"
fi
echo "== 2. the Debian dev packages hidden"
deps_configure_checks 1
echo "== 3-5. the GPU machine's library layout; gpu_check.sh --dry-run and a run without a GPU"
check_script_runs "" 1
if [ "$with_build" = 1 ]; then
  echo "== 6. the fallback: gpu_check.sh --build with the carried deps only (no GPU: the tests report skipped)"
  t0=$SECONDS
  in_bare_namespace scripts/gpu_check.sh --build --build-timeout 2700 --steps setup,build,tests --deadline 3000 --out "$tmp/build-run" \
    > "$tmp/build-run.log" 2>&1
  rc=$?
  cat "$tmp/build-run/summary.txt" 2>/dev/null || tail -30 "$tmp/build-run.log"
  check "fallback build in the bare namespace: built and started ($((SECONDS - t0)) s)" \
    grep -qE '^build +ok .*built here' "$tmp/build-run/summary.txt"
  check "... and its test_cuda runs every file (skipped: no GPU)" [ $rc -eq 0 ]
  [ -n "$keep" ] && cp -r "$tmp/build-run" "$keep/"
fi
echo "== 7. the device call's limits"
check "the device command is under 2000 characters (${#device_command})" [ ${#device_command} -lt 2000 ]
# What travels: tracked and untracked-not-ignored files, plus the carried folder.
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
carry_bytes=$(du -sb "$carry_list" | cut -f1)
echo "working tree $((tree_bytes / 1024)) KiB + $carry_list $((carry_bytes / 1024)) KiB = $(((tree_bytes + carry_bytes) / 1048576)) MiB"
check "what travels is under 64 MiB" [ $((tree_bytes + carry_bytes)) -lt $((64 * 1048576)) ]
echo "device command: $device_command    carry: [\"$carry_list\"]"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
