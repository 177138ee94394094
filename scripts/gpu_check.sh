#!/usr/bin/env bash
# The GPU check of the CUDA backend, as one command for a bare machine with one NVIDIA GPU
# (no network, none of our Debian packages; nvcc, CMake and the NVIDIA Python wheels are
# enough), finishing within an overall deadline (default 450 s):
#
#   setup       the machine (nvidia-smi, tools), the CUDA libraries (the NVIDIA wheels'
#               folders, found with python3, then /usr/local/cuda) on LD_LIBRARY_PATH, and
#               the binaries: the prebuilt ones of scripts/gpu_prepare.sh (.gpu-carry/bin) when
#               they match this tree's sources and start here, else
#   build       a build here (test_cuda and deepchrome only, this GPU's architecture only)
#               with the carried header-only dependencies (.gpu-carry/deps)
#   tests       each tests/cuda/test_cuda_*.cpp in its own process with a timeout, several
#               at once (doctest durations shown)
#   bench-cuda  deepchrome bench --only cuda, JSON: `ops` (every op of the op table on the GPU,
#               validated against the CPU) and `cuda_vs_libraries` (our kernels next to
#               cuDNN / cuBLAS, each validated first)
#   bench-e2e   deepchrome bench --only e2e --device cuda (training epochs on the GPU), JSON
#   sanitizers  compute-sanitizer memcheck on every test file minus the doctest suite "slow",
#               racecheck on the suite "small" (every kernel in every configuration), per file
#
# Each step's timeout is its budget, shrunk so that the later steps keep their minimum before
# the deadline. The output folder gets at most 7 files: summary.txt (each step and test file:
# passed, failed, timed out or skipped; the benchmark figures against their targets), log.txt
# (machine, libraries, build), tests.log, memcheck.log, racecheck.log, bench-cuda.json,
# bench-e2e-cuda.json. summary.txt is rewritten after every step, so it is there even if the
# command is killed.
#
# usage: scripts/gpu_check.sh [--out DIR] [--deadline SECONDS] [--carry DIR] [--jobs N]
#                             [--build] [--steps LIST] [--dry-run]
#   --out DIR        output folder (default gpu-check)
#   --deadline S     overall seconds (default 450)
#   --carry DIR      what scripts/gpu_prepare.sh made (default .gpu-carry)
#   --jobs N         test processes at once (default 4)
#   --build          build here even when the prebuilt binaries would do
#   --build-timeout S  the build's budget (default 240: 16 cores; a 2-core machine needs ~2000)
#   --bin DIR        use the test_cuda and deepchrome in DIR as they are (e.g. build/)
#   --steps LIST     only these of setup,build,tests,bench-cuda,bench-e2e,sanitizers (default all)
#   --dry-run        print every step with its budget and command; run only what needs no
#                    GPU (setup, the test filters' case counts)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

out=gpu-check
deadline=450
carry=.gpu-carry
jobs=4
force_build=0
build_budget=240
given_bin=""
dry=0
steps="setup,build,tests,bench-cuda,bench-e2e,sanitizers"
usage() { sed -n '2,39p' "$0"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="${2:?--out needs a folder}"; shift 2 ;;
    --deadline) deadline="${2:?--deadline needs seconds}"; shift 2 ;;
    --carry) carry="${2:?--carry needs a folder}"; shift 2 ;;
    --jobs) jobs="${2:?--jobs needs a number}"; shift 2 ;;
    --build) force_build=1; shift ;;
    --build-timeout) build_budget="${2:?--build-timeout needs seconds}"; shift 2 ;;
    --bin) given_bin="${2:?--bin needs a folder}"; shift 2 ;;
    --steps) steps="${2:?--steps needs a list}"; shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "gpu_check: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
case "$deadline$jobs$build_budget" in (*[!0-9]*) echo "gpu_check: --deadline, --jobs and --build-timeout take whole numbers" >&2; exit 2 ;; esac
for s in ${steps//,/ }; do
  case "$s" in (setup|build|tests|bench-cuda|bench-e2e|sanitizers) ;; (*) echo "gpu_check: unknown step '$s' in --steps" >&2; exit 2 ;; esac
done
wants() { case ",$steps," in (*",$1,"*) return 0 ;; (*) return 1 ;; esac; }
[ "$jobs" -ge 1 ] || jobs=1
case "$carry" in (/*) ;; (*) carry="$root/$carry" ;; esac
mkdir -p "$out" || { echo "gpu_check: cannot create $out" >&2; exit 2; }
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
rm -f "$out"/summary.txt "$out"/log.txt "$out"/tests.log "$out"/memcheck.log "$out"/racecheck.log \
  "$out"/bench-cuda.json "$out"/bench-e2e-cuda.json
log="$out/log.txt"
start=$SECONDS
cores=$(nproc 2>/dev/null || echo 4)

# ---- bookkeeping --------------------------------------------------------------------------

elapsed() { echo $((SECONDS - start)); }
planned=0   # --dry-run: the seconds the planned steps would take at most
left() { echo $((deadline - (SECONDS - start) - planned)); }
say() { echo "$*"; echo "$*" >> "$log"; }
rows=()      # summary rows: name, result, seconds, budget, note (separated by $sep)
sep=$'\x1f'   # doctest's notes contain '|'
figures=""   # benchmark figures (filled at the end)
header=()
row() {
  rows+=("$1$sep$2$sep$3$sep$4$sep$5")
  printf '  %-34s %-9s %5ss / %-5s %s\n' "$1" "$2" "$3" "$4" "$5"
  write_summary
}
write_summary() {
  local pass=0 fail=0 tout=0 skip=0 r
  {
    printf '%s\n' "${header[@]}"
    printf '\n%-36s %-9s %7s %7s  %s\n' "STEP" "RESULT" "SECONDS" "BUDGET" "NOTE"
    for r in "${rows[@]}"; do
      IFS=$sep read -r n res sec bud note <<< "$r"
      printf '%-36s %-9s %7s %7s  %s\n' "$n" "$res" "$sec" "$bud" "$note"
      case "$res" in (PASS|ok) pass=$((pass + 1)) ;; (FAIL|ERRORS) fail=$((fail + 1)) ;; (TIMEOUT) tout=$((tout + 1)) ;; (*) skip=$((skip + 1)) ;; esac
    done
    echo
    echo "overall: $pass passed, $fail failed, $tout timed out, $skip skipped or not run ($(elapsed) s of the $deadline s deadline)"
    [ -n "$figures" ] && printf '\n%s\n' "$figures"
  } > "$out/summary.txt"
}
# Seconds a step may take: its budget, shrunk to leave the later steps their minimums.
step_timeout() {  # budget reserve
  local t=$1 avail=$(( $(left) - $2 ))
  [ "$avail" -lt "$t" ] && t=$avail
  echo "$t"
}
# Keeps the last N bytes of a file (the result files have a size limit).
cap_file() { local f=$1 n=${2:-15000000}; [ -f "$f" ] && [ "$(stat -c %s "$f")" -gt "$n" ] && { tail -c "$n" "$f" > "$f.cap" && mv "$f.cap" "$f"; }; return 0; }
result_of_rc() {  # rc -> PASS / SKIPPED / TIMEOUT / FAIL
  case "$1" in (0) echo PASS ;; (77) echo SKIPPED ;; (124|137) echo TIMEOUT ;; (*) echo FAIL ;; esac
}

header+=("deepchrome GPU check: $(date -u +%Y-%m-%dT%H:%M:%SZ), deadline $deadline s$([ $dry = 1 ] && echo ', DRY RUN')")
say "== deepchrome GPU check (deadline ${deadline} s, output $out)"

# ---- setup: machine, libraries, binaries ---------------------------------------------------

# Reserved for the steps after setup/build: tests 60, each benchmark 40, sanitizers 60.
reserve_tests=60 reserve_bench=40 reserve_san=60
gpu_name="" gpu_arch="" gpu_ok=0 gpu_why="" bin="" binaries="" sanitizer="" bin_problem="" cuda_libdirs=""

setup() {
  local t0=$SECONDS note=""
  {
    echo "== machine"
    uname -a; echo "cores: $cores"; free -g 2>/dev/null | head -2
    echo "== nvidia-smi"; timeout 20 nvidia-smi 2>&1 || echo "(nvidia-smi failed or is missing)"
    echo "== tools"
    for tool in nvcc cmake ninja python3 compute-sanitizer c++; do printf '%-18s %s\n' "$tool" "$(command -v "$tool" || echo missing)"; done
    [ -x /usr/local/cuda/bin/nvcc ] && echo "/usr/local/cuda/bin/nvcc: $(/usr/local/cuda/bin/nvcc --version | tail -1)"
    command -v nvcc >/dev/null && nvcc --version | tail -1
    command -v cmake >/dev/null && cmake --version | head -1
  } >> "$log" 2>&1
  if command -v nvidia-smi >/dev/null; then
    gpu_name=$(timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
    gpu_arch=$(timeout 20 nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
  fi

  # The CUDA libraries: the NVIDIA wheels' lib folders (cuDNN, cuBLAS, cudart live only there
  # on the GPU machine), then a toolkit under /usr/local/cuda.
  local dirs=() d py=""
  for d in python3 /opt/torch/.venv/bin/python3; do command -v "$d" > /dev/null && { py=$d; break; }; done
  if [ -n "$py" ]; then
    while IFS= read -r d; do [ -n "$d" ] && dirs+=("$d"); done < <(timeout 30 "$py" -c '
import glob, os
try:
    import nvidia
except Exception:
    raise SystemExit(0)
seen = []
for base in list(nvidia.__path__):
    for lib in sorted(glob.glob(os.path.join(base, "*", "lib"))):
        if glob.glob(os.path.join(lib, "lib*.so*")) and lib not in seen:
            seen.append(lib)
print("\n".join(seen))' 2>> "$log")
  fi
  for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/nvidia/lib64; do [ -d "$d" ] && dirs+=("$d"); done
  cuda_libdirs=$(IFS=:; echo "${dirs[*]}")
  export LD_LIBRARY_PATH="${cuda_libdirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "CUDA library folders: ${cuda_libdirs:-none found}"

  for c in compute-sanitizer /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda*/compute-sanitizer/compute-sanitizer \
           $(echo "$cuda_libdirs" | tr ':' '\n' | sed 's|$|/../bin/compute-sanitizer|'); do
    if command -v "$c" >/dev/null; then sanitizer=$(command -v "$c"); break; fi
  done
  if [ -z "$sanitizer" ]; then
    sanitizer=$(timeout 5 find /usr/local /opt -maxdepth 5 -name compute-sanitizer -type f -perm -u+x 2>/dev/null | head -1)
  fi
  say "compute-sanitizer: ${sanitizer:-not found}"

  # The prebuilt binaries, if they were built from these sources and can start here.
  local why_not=""
  if [ -n "$given_bin" ]; then
    check_binaries "$given_bin"
    if [ -z "$bin_problem" ]; then bin=$(cd "$given_bin" && pwd); binaries="given ($bin)"; else binaries="given, but: $bin_problem"; fi
    row setup "$([ -n "$bin" ] && echo ok || echo FAIL)" $((SECONDS - t0)) - "binaries: $binaries"
    return
  fi
  chmod +x "$carry"/bin/* 2> /dev/null  # (in case the copy to this machine lost the mode bits)
  if [ "$force_build" = 1 ]; then
    why_not="--build given"
  elif [ ! -x "$carry/bin/test_cuda" ] || [ ! -x "$carry/bin/deepchrome" ]; then
    why_not="no prebuilt binaries in $carry/bin (scripts/gpu_prepare.sh makes them)"
  else
    [ -f "$carry/BUILD-INFO" ] && sed 's/^/  prebuilt: /' "$carry/BUILD-INFO" >> "$log"
    local stale
    stale=$(stale_sources)
    if [ -n "$stale" ]; then
      why_not="the prebuilt binaries are stale: $(echo "$stale" | wc -l) source file(s) differ from what they were built from: $(echo "$stale" | head -5 | tr '\n' ' ')"
    else
      check_binaries "$carry/bin"
      why_not=$bin_problem
    fi
  fi
  if [ -z "$why_not" ]; then
    bin="$carry/bin"
    binaries="prebuilt ($carry/bin, $(grep -m1 '^arch:' "$carry/BUILD-INFO" 2>/dev/null | cut -d' ' -f2))"
  else
    say "not using the prebuilt binaries: $why_not"
    binaries="to be built here ($why_not)"
  fi
  note="binaries: $binaries"
  row setup ok $((SECONDS - t0)) - "$note"
}

# Source files that differ from (or were added since) what the prebuilt binaries were built
# from, per $carry/SOURCES.sha256 (made by gpu_prepare.sh over the same paths).
source_paths=(CMakeLists.txt engine kernels models io cli bench tests/cuda tests/cuda_main.cpp tests/test_util.h configs/paper)
stale_sources() {
  local list="$carry/SOURCES.sha256"
  [ -f "$list" ] || { echo "(no $list)"; return; }
  sha256sum --quiet -c "$list" 2>/dev/null | sed 's/: FAILED.*//'
  comm -13 <(awk '{print $2}' "$list" | sort) <(find "${source_paths[@]}" -type f 2>/dev/null | sort) | sed 's/$/ (new)/'
}

# Sets bin_problem to "" when the binaries in $1 can start here, else to why not. Libraries
# the machine lacks that $carry/lib holds (libgomp, libz, libstdc++, libcudart) are added to
# LD_LIBRARY_PATH.
check_binaries() {
  local dir=$1 missing so
  bin_problem=""
  missing=$(ldd "$dir/test_cuda" "$dir/deepchrome" 2>&1 | awk '/not found/ {print $1}' | sort -u)
  if [ -n "$missing" ]; then
    mkdir -p "$work/lib-fallback"
    for so in $missing; do [ -f "$carry/lib/$so" ] && ln -sf "$carry/lib/$so" "$work/lib-fallback/$so"; done
    export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$work/lib-fallback"
    say "libraries missing here: $(echo $missing); taken from $carry/lib: $(ls "$work/lib-fallback" | tr '\n' ' ')"
    missing=$(ldd "$dir/test_cuda" "$dir/deepchrome" 2>&1 | awk '/not found/ {print $1}' | sort -u)
    if [ -n "$missing" ]; then bin_problem="libraries not found: $(echo $missing)"; return; fi
  fi
  { ldd -r "$dir/test_cuda"; ldd -r "$dir/deepchrome"; } 2>&1 | grep -E 'undefined symbol|version .* not found' | head -3 > "$work/ldd-r"
  if [ -s "$work/ldd-r" ]; then bin_problem="unresolved symbols: $(head -2 "$work/ldd-r" | tr '\n' ' ')"; return; fi
  if ! "$dir/test_cuda" --count > "$work/count" 2>&1; then
    bin_problem="test_cuda does not start: $(tail -2 "$work/count" | tr '\n' ' ')"; return
  fi
  if ! "$dir/deepchrome" --version > "$work/version" 2>&1; then
    bin_problem="deepchrome does not start: $(tail -2 "$work/version" | tr '\n' ' ')"; return
  fi
  { echo "== $dir: ldd"; ldd "$dir/test_cuda" "$dir/deepchrome"; } >> "$log" 2>&1
}

# ---- build (only when the prebuilt binaries cannot be used) ---------------------------------

build() {
  local t0=$SECONDS budget=$build_budget t arch=${gpu_arch:-90} nvcc="" cudnn_lib="" cudnn_inc="" d
  t=$(step_timeout $budget $((reserve_tests + 2 * reserve_bench + reserve_san)))
  for d in "$(command -v nvcc 2>/dev/null)" /usr/local/cuda/bin/nvcc $(echo "$cuda_libdirs" | tr ':' '\n' | sed 's|$|/../bin/nvcc|'); do
    [ -n "$d" ] && [ -x "$d" ] && { nvcc=$d; break; }
  done
  local cmd="cmake configure + build of deepchrome test_cuda in build-gpu-check (sm_$arch, -DDEEPCHROME_DEPS_DIR=$carry/deps)"
  if [ "$dry" = 1 ]; then row build planned 0 "$t" "$cmd"; planned=$((planned + t)); return; fi
  if [ -z "$nvcc" ]; then row build FAIL 0 "$t" "no nvcc here: cannot build"; return; fi
  if [ "$t" -lt 60 ]; then row build "NOT RUN" 0 "$t" "no time left before the deadline"; return; fi
  # cuDNN and cuBLAS may exist only as the wheels' .so.N files: link names for CMake to find,
  # their headers for nvcc.
  mkdir -p "$work/devlib"
  local IFS_save=$IFS cuda_flags=""
  IFS=:
  for d in $cuda_libdirs; do
    for so in "$d"/libcudnn.so.[0-9]* "$d"/libcublas.so.[0-9]* "$d"/libcublasLt.so.[0-9]* "$d"/libcudart.so.[0-9]*; do
      [ -f "$so" ] || continue
      local base; base=$(basename "$so"); base=${base%%.so.*}.so
      [ -e "$work/devlib/$base" ] || ln -s "$so" "$work/devlib/$base"
    done
    [ -z "$cudnn_lib" ] && [ -f "$d/libcudnn.so.9" ] && cudnn_lib="$d/libcudnn.so.9"
    [ -z "$cudnn_inc" ] && [ -f "$d/../include/cudnn.h" ] && cudnn_inc=$(cd "$d/../include" && pwd)
    if [ -f "$d/../include/cublas_v2.h" ] && [ ! -f "$(dirname "$nvcc")/../include/cublas_v2.h" ]; then
      cuda_flags="$cuda_flags -I$(cd "$d/../include" && pwd)"
    fi
  done
  IFS=$IFS_save
  local gen=() extra=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  [ -n "$cudnn_lib" ] && extra+=("-DCUDNN_LIBRARY=$cudnn_lib")
  [ -n "$cudnn_inc" ] && extra+=("-DCUDNN_INCLUDE_DIR=$cudnn_inc")
  [ -n "$cuda_flags" ] && extra+=("-DCMAKE_CUDA_FLAGS=$cuda_flags")
  say "== build: $cmd"
  rm -rf build-gpu-check
  JOBS=$cores timeout -k 10 "$t" bash -c '
    cmake -S . -B build-gpu-check "$@" && cmake --build build-gpu-check --target deepchrome test_cuda -j"$JOBS"' _ \
    "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DDEEPCHROME_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" -DDEEPCHROME_DEPS_DIR="$carry/deps" -DCMAKE_LIBRARY_PATH="$work/devlib" "${extra[@]}" \
    > "$work/build.log" 2>&1 </dev/null
  local rc=$? res
  res=$(result_of_rc $rc)
  [ "$res" = PASS ] && res=ok
  { echo "== build log (last 60 lines)"; tail -60 "$work/build.log"; } >> "$log"
  if [ "$res" = ok ]; then
    check_binaries "$root/build-gpu-check"
    if [ -n "$bin_problem" ]; then res=FAIL; binaries="built here, but: $bin_problem"
    else bin="$root/build-gpu-check"; binaries="built here (sm_$arch)"; fi
  else
    binaries="the build $([ "$res" = TIMEOUT ] && echo "ran out of time" || echo failed) (log.txt)"
  fi
  row build "$res" $((SECONDS - t0)) "$t" "$binaries"
}

# ---- the test files, each in its own process; the sanitizers likewise ------------------------

test_files() {  # longest first (they start first)
  local f names=()
  for f in lstm op_table training conv_pool_dropout gemm attention pointwise engine optim runtime; do
    [ -f "tests/cuda/test_cuda_$f.cpp" ] && names+=("$f")
  done
  for f in tests/cuda/test_cuda_*.cpp; do
    f=${f#tests/cuda/test_cuda_}; f=${f%.cpp}
    case " ${names[*]} " in (*" $f "*) ;; (*) names+=("$f") ;; esac
  done
  echo "${names[@]}"
}

# Test cases per file: `all`, for `memcheck` (not in the suite "slow") and for `racecheck`
# (the suite "small"), from doctest's listings (queries: no GPU needed), one line per case.
list_cases() {
  "$bin/test_cuda" -ltc -r=xml "$@" 2>/dev/null < /dev/null |
    sed -n 's/.*<TestCase .*filename="[^"]*test_cuda_\([A-Za-z0-9_]*\)\.cpp".*/\1/p'
}
cases_all="" cases_memcheck="" cases_racecheck=""
list_all_cases() {
  cases_all=$(list_cases)
  cases_memcheck=$(list_cases -tse=slow)
  cases_racecheck=$(list_cases -ts=small)
}
count_cases() {  # file, all|memcheck|racecheck ("?" when the binary cannot list them)
  local v="cases_$2"
  if [ -z "$cases_all" ]; then echo "?"; return; fi
  grep -cx "$1" <<< "${!v}"
}

# Runs tasks "name|command" from the array `tasks`, $jobs at once, each with the time left until
# $1 (an absolute $SECONDS); logs in $work/task-<name>.log, exit codes in .rc ("NOT RUN" if the
# time ran out before it started).
run_pool() {
  local until=$1 i=0 running=0 name cmd t
  while [ $i -lt ${#tasks[@]} ] || [ $running -gt 0 ]; do
    if [ $i -lt ${#tasks[@]} ] && [ $running -lt "$jobs" ]; then
      name=${tasks[$i]%%|*}; cmd=${tasks[$i]#*|}; i=$((i + 1))
      t=$((until - SECONDS))
      if [ $t -lt 5 ]; then echo "NOT RUN" > "$work/task-$name.rc"; continue; fi
      ( OMP_NUM_THREADS=$(( cores / jobs > 0 ? cores / jobs : 1 )) timeout -k 10 "$t" bash -c "$cmd" \
          > "$work/task-$name.log" 2>&1 < /dev/null
        echo $? > "$work/task-$name.rc"
        date +%s > "$work/task-$name.end" ) &
      date +%s > "$work/task-$name.start"
      running=$((running + 1))
    else
      wait -n 2>/dev/null
      running=$((running - 1))
    fi
  done
  wait
}

task_seconds() { local s e; s=$(cat "$work/task-$1.start" 2>/dev/null || echo 0); e=$(cat "$work/task-$1.end" 2>/dev/null || echo "$s"); echo $((e - s)); }

tests() {
  local t0=$SECONDS budget=150 t f name
  t=$(step_timeout $budget $((2 * reserve_bench + reserve_san)))
  tasks=()
  for f in $(test_files); do
    tasks+=("$f|\"$bin/test_cuda\" -sf='*test_cuda_$f.cpp' --duration=true")
  done
  if [ "$dry" = 1 ]; then
    for f in $(test_files); do row "tests/$f" planned 0 "$t" "$(count_cases "$f" all) cases: $bin/test_cuda -sf='*test_cuda_$f.cpp' --duration=true"; done
    planned=$((planned + t))
    return
  fi
  if [ "$t" -lt 20 ]; then row tests "NOT RUN" 0 "$t" "no time left before the deadline"; return; fi
  say "== tests: $(echo $(test_files) | wc -w) files, $jobs at once, ${t} s"
  run_pool $((SECONDS + t))
  : > "$out/tests.log"
  for f in $(test_files); do
    local rc res note
    rc=$(cat "$work/task-$f.rc" 2>/dev/null || echo "NOT RUN")
    if [ "$rc" = "NOT RUN" ]; then res="NOT RUN"; note="no time left"; else
      res=$(result_of_rc "$rc")
      note=$(grep -m1 '^\[doctest\] test cases:' "$work/task-$f.log" | sed 's/^\[doctest\] //')
      [ "$res" = SKIPPED ] && note=$(grep -m1 'SKIPPED' "$work/task-$f.log")
      [ "$res" = TIMEOUT ] && note="killed after $(task_seconds "$f") s; last: $(grep -E '^[0-9.]+ s: ' "$work/task-$f.log" | tail -1 | cut -c1-80)"
    fi
    { echo "=================== test_cuda_$f.cpp: $res (exit $rc)"; tail -c 2000000 "$work/task-$f.log" 2>/dev/null; } >> "$out/tests.log"
    row "tests/$f" "$res" "$(task_seconds "$f")" "$t" "$note"
  done
  cap_file "$out/tests.log"
}

bench() {  # name budget reserve json args...
  local name=$1 budget=$2 reserve=$3 json=$4; shift 4
  local t0=$SECONDS t cmd
  t=$(step_timeout "$budget" "$reserve")
  cmd="$bin/deepchrome bench $* --out $out/$json"
  if [ "$dry" = 1 ]; then row "$name" planned 0 "$t" "$cmd"; planned=$((planned + t)); return; fi
  if [ "$t" -lt 15 ]; then row "$name" "NOT RUN" 0 "$t" "no time left before the deadline"; return; fi
  say "== $name: $cmd (${t} s)"
  timeout -k 10 "$t" "$bin/deepchrome" bench "$@" --out "$out/$json" > "$work/$name.out" 2> "$work/$name.err" < /dev/null
  local rc=$? res note=""
  res=$(result_of_rc $rc)
  [ "$res" = PASS ] && res=ok
  { echo "== $name stderr (exit $rc)"; tail -40 "$work/$name.err"; } >> "$log"
  if [ "$res" != ok ]; then
    note=$(tail -1 "$work/$name.err" | cut -c1-160)
    if [ "$gpu_ok" = 0 ] && grep -q 'no usable CUDA device' "$work/$name.err"; then res=SKIPPED; fi
  else
    note="$json"
  fi
  row "$name" "$res" $((SECONDS - t0)) "$t" "$note"
}

sanitizers() {
  local t0=$SECONDS t f n tasks_m=() tasks_r=()
  t=$(step_timeout 600 0)
  local opts="--error-exitcode 9 --print-limit 50" sanitizer=${sanitizer:-compute-sanitizer}
  if [ "$dry" = 0 ] && ! command -v "$sanitizer" > /dev/null; then row sanitizers "NOT RUN" 0 "$t" "compute-sanitizer not found"; return; fi
  for f in $(test_files); do
    n=$(count_cases "$f" memcheck); [ "$n" != 0 ] &&
      tasks_m+=("memcheck-$f|\"$sanitizer\" --tool memcheck $opts \"$bin/test_cuda\" -sf='*test_cuda_$f.cpp' -tse=slow --duration=true")
    n=$(count_cases "$f" racecheck); [ "$n" != 0 ] &&
      tasks_r+=("racecheck-$f|\"$sanitizer\" --tool racecheck $opts \"$bin/test_cuda\" -sf='*test_cuda_$f.cpp' -ts=small --duration=true")
  done
  if [ "$dry" = 1 ]; then
    local task
    for task in "${tasks_m[@]}" "${tasks_r[@]}"; do
      f=${task%%|*}
      n=$(count_cases "${f#*-}" "${f%%-*}")
      row "$f" planned 0 "$t" "$n cases: ${task#*|}"
    done
    return
  fi
  if [ "$t" -lt 20 ]; then row sanitizers "NOT RUN" 0 "$t" "no time left before the deadline"; return; fi
  # memcheck and racecheck of one file side by side, the longest files first
  tasks=()
  local i
  for ((i = 0; i < ${#tasks_m[@]} || i < ${#tasks_r[@]}; i++)); do
    [ $i -lt ${#tasks_m[@]} ] && tasks+=("${tasks_m[$i]}")
    [ $i -lt ${#tasks_r[@]} ] && tasks+=("${tasks_r[$i]}")
  done
  say "== sanitizers: ${#tasks_m[@]} memcheck and ${#tasks_r[@]} racecheck runs, $jobs at once, ${t} s"
  run_pool $((SECONDS + t))
  local tool task name rc res note
  for tool in memcheck racecheck; do
    : > "$out/$tool.log"
    for task in "${tasks[@]}"; do
      name=${task%%|*}
      [ "${name%%-*}" = "$tool" ] || continue
      rc=$(cat "$work/task-$name.rc" 2>/dev/null || echo "NOT RUN")
      if [ "$rc" = "NOT RUN" ]; then res="NOT RUN"; note="no time left"; else
        case "$rc" in (9) res=ERRORS ;; (*) res=$(result_of_rc "$rc") ;; esac
        note="$(grep -m1 'ERROR SUMMARY' "$work/task-$name.log" | sed 's/=* *//')"
        note="$note${note:+; }$(grep -m1 '^\[doctest\] test cases:' "$work/task-$name.log" | sed 's/^\[doctest\] //')"
        [ "$res" = TIMEOUT ] && note="killed after $(task_seconds "$name") s; last: $(grep -E '^[0-9.]+ s: ' "$work/task-$name.log" | tail -1 | cut -c1-80)"
      fi
      { echo "=================== $name: $res (exit $rc)"; tail -c 1500000 "$work/task-$name.log" 2>/dev/null; } >> "$out/$tool.log"
      row "$name" "$res" "$(task_seconds "$name")" "$t" "$note"
    done
    cap_file "$out/$tool.log"
  done
}

# The figures the issue sets targets for, from the two benchmark files.
bench_figures() {
  command -v python3 >/dev/null || { echo "(no python3: read bench-cuda.json and bench-e2e-cuda.json)"; return; }
  python3 - "$out/bench-cuda.json" "$out/bench-e2e-cuda.json" <<'EOF' 2>&1
import json, sys
lines = ["FIGURES (benchmarks, not tests; targets from issue 9)"]
try:
    e2e = json.load(open(sys.argv[2]))
    targets = {("attentivechrome", 16): 0.5, ("attentivechrome", 256): 0.1, ("deepchrome", 64): 0.1}
    for r in e2e.get("end_to_end", []):
        t = targets.get((r["model"], r["batch"]))
        verdict = "" if t is None else ("  target <= %.2f s: %s" % (t, "met" if r["epoch_seconds"] <= t else "MISSED"))
        lines.append("epoch %-16s batch %-4d %8.3f s (%d genes)%s" % (r["model"], r["batch"], r["epoch_seconds"], r["train_genes"], verdict))
except Exception as e:
    lines.append("end-to-end figures unavailable: %s" % e)
try:
    doc = json.load(open(sys.argv[1]))
    gpu = doc.get("machine", {}).get("gpu", {})
    lines.append("GPU: %s (sm %s, %s SMs)" % (gpu.get("name"), gpu.get("compute_capability"), gpu.get("sm_count")))
    def rate(r):
        if "gflops" in r:
            return "%8.1f GFLOP/s" % r["gflops"]
        if "gbs" in r:
            return "%8.1f GB/s" % r["gbs"]
        return ""
    # The op table on CUDA: every model-size case, validated against the engine on the CPU.
    ops = doc.get("ops", [])
    bad = [r for r in ops if r.get("valid") is False]
    lines.append("")
    lines.append("op table on CUDA (%d records, %d failed their validation against the engine on the CPU):" % (len(ops), len(bad)))
    for r in ops:
        if r.get("valid") is False:
            lines.append("  INVALID %-14s %-9s %-40s %s" % (r["op"], r["pass"], r["shape"][:40], r.get("note", "")[:200]))
        else:
            lines.append("  %-22s %-9s %-40s %9.4f ms %s" % (r["op"], r["pass"], r["shape"][:40], r.get("ms", 0), rate(r)))
    # Our kernels next to cuDNN / cuBLAS, each validated first.
    lines.append("")
    lines.append("ours vs the libraries (speed-up = library ms / ours ms):")
    for r in doc.get("cuda_vs_libraries", []):
        what = "%-15s %-16s %-44s" % (r["op"], r["pass"], r["shape"][:44])
        if r.get("valid") is False:
            lines.append("  INVALID %s %s" % (what, r.get("note", "")[:200]))
            continue
        if not r.get("reference"):
            lines.append("  %s ours %8.4f ms  no reference: %s" % (what, r.get("ms", 0), r.get("note", "")[:160]))
            continue
        s = r.get("speedup_vs_reference", 0)
        verdict = ""
        if r["op"] == "lstm":
            verdict = "target >= 1.0 (at least as fast as cudnnRNN): " + ("met" if s >= 1.0 else "MISSED")
        elif r["op"] == "conv1d":
            verdict = "target >= 0.67 (within 1.5x of cuDNN): " + ("met" if s >= 1 / 1.5 else "MISSED")
        lines.append("  %s ours %8.4f ms  %s %8.4f ms  x%.2f  %s" % (what, r["ms"], r["reference"], r["reference_ms"], s, verdict))
except Exception as e:
    lines.append("kernel figures unavailable: %s" % e)
print("\n".join(lines))
EOF
}

# ---- run ------------------------------------------------------------------------------------

setup
if [ -z "$bin" ] && [ -z "$given_bin" ] && wants build; then build
elif [ -n "$bin" ] && [ -z "$given_bin" ] && wants build; then row build "not needed" 0 - "the prebuilt binaries are usable"; fi
if [ -z "$bin" ] && [ "$dry" = 1 ] && wants build; then
  bin="$root/build-gpu-check"  # what the build would make (the case counts below stay empty)
elif [ -z "$bin" ]; then
  say "no usable binaries: $binaries"
  header+=("binaries: none usable ($binaries)")
  row tests "NOT RUN" 0 - "no binaries"
  write_summary
  exit 1
fi
# The GPU as the binaries see it (a query-free run with a filter that matches no case).
"$bin/test_cuda" -tc=no-such-case > "$work/probe" 2>&1 < /dev/null
probe_rc=$?
if [ $probe_rc = 0 ]; then gpu_ok=1; gpu_why=$(grep -m1 '^cuda suite on' "$work/probe"); else gpu_why=$(head -1 "$work/probe"); fi
say "GPU: ${gpu_why:-none} (nvidia-smi: ${gpu_name:-n/a})"
header+=("GPU: ${gpu_why:-none}; nvidia-smi: ${gpu_name:-n/a}")
header+=("binaries: $binaries; CUDA libraries from: ${cuda_libdirs:-none}")
header+=("compute-sanitizer: ${sanitizer:-not found}; $cores cores, $jobs test processes at once")
write_summary
list_all_cases

wants tests && tests
wants bench-cuda && bench bench-cuda 90 $((reserve_bench + reserve_san)) bench-cuda.json --only cuda
wants bench-e2e && bench bench-e2e 90 "$reserve_san" bench-e2e-cuda.json --only e2e --device cuda
wants sanitizers && sanitizers
if [ "$dry" = 0 ] && { [ -f "$out/bench-cuda.json" ] || [ -f "$out/bench-e2e-cuda.json" ]; }; then
  figures=$(bench_figures)
fi
write_summary
cap_file "$log" 4000000
say "== done in $(elapsed) s: $out/summary.txt"
cat "$out/summary.txt"
n=$(find "$out" -maxdepth 1 -type f | wc -l)
[ "$n" -le 7 ] || echo "gpu_check: warning: $n files in $out (the device tool returns 8 at most)" >&2
# Exit status: 1 when a step or test failed, found errors or ran out of time.
grep -qE '^[^ ]+ +(FAIL|ERRORS|TIMEOUT) ' "$out/summary.txt" && exit 1
exit 0
