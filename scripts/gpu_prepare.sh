#!/usr/bin/env bash
# Prepares, on a build machine with the CUDA toolkit (no GPU needed), what the bare GPU
# machine of scripts/gpu_check.sh cannot get there: the folder .gpu-carry/ (ignored by git),
# which travels beside the working tree.
#
#   .gpu-carry/bin/   deepchrome and test_cuda built here for one architecture (default sm_90:
#                     H100, H200), stripped, without RPATH: gpu_check.sh points LD_LIBRARY_PATH
#                     at the GPU machine's CUDA libraries (the NVIDIA Python wheels' folders)
#   .gpu-carry/lib/   the non-CUDA libraries the binaries link (libgomp, libz, libstdc++,
#                     libgcc_s) and libcudart: used there only for those that machine lacks
#   .gpu-carry/deps/  include/ (nlohmann/, doctest/, zlib.h, zconf.h) and lib/libz.so: the
#                     CMake build on the GPU machine (gpu_check.sh's fallback when the binaries
#                     cannot run there) configures with -DDEEPCHROME_DEPS_DIR=.gpu-carry/deps
#   .gpu-carry/BUILD-INFO   commit, toolkit, what the binaries need (readelf), sizes
#   .gpu-carry/SOURCES.sha256  the sources they were built from (gpu_check.sh compares)
#
# usage: scripts/gpu_prepare.sh [--arch 90] [--carry DIR] [--jobs N]
#        scripts/gpu_prepare.sh --deps-only DIR   (only DIR/include and DIR/lib, as deps/ above)
# Builds in build-gpu-carry/ (a CUDA build of two targets: about 5 minutes on 2 cores, much
# less with ccache warm). Needs nvcc (/usr/local/cuda), the Debian packages of
# scripts/install_deps.sh and cuDNN's headers and library (for the cuDNN reference timings).
set -euo pipefail
cd "$(dirname "$0")/.."

arch=90
carry=.gpu-carry
jobs=$(nproc 2>/dev/null || echo 2)
# The header-only dependencies and zlib, for a CMake build on a machine without the packages.
copy_deps() {
  local dest=$1 inc
  mkdir -p "$dest/include" "$dest/lib"
  inc=$(dirname "$(find /usr/include -maxdepth 2 -path '*/nlohmann/json.hpp' | head -1)")
  [ -f "$inc/json.hpp" ] || { echo "gpu_prepare: nlohmann/json.hpp not found (scripts/install_deps.sh)" >&2; exit 1; }
  [ -f /usr/include/doctest/doctest.h ] || { echo "gpu_prepare: doctest/doctest.h not found (scripts/install_deps.sh)" >&2; exit 1; }
  cp -r "$inc" "$dest/include/nlohmann"
  cp -r /usr/include/doctest "$dest/include/doctest"
  cp /usr/include/zlib.h /usr/include/zconf.h "$dest/include/"
  cp -L "$(ldconfig -p | awk '$1 == "libz.so.1" && /x86-64/ {print $NF; exit}')" "$dest/lib/libz.so"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --deps-only) copy_deps "${2:?--deps-only needs a folder}"; exit 0 ;;
    --arch) arch="$2"; shift 2 ;;
    --carry) carry="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "gpu_prepare: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$arch" in (*[!0-9a]*|"") echo "gpu_prepare: --arch expects a CUDA architecture number such as 90, got '$arch'" >&2; exit 2 ;; esac
case "$carry" in (/*|*..*|"") echo "gpu_prepare: --carry must be a folder inside the repository, got '$carry'" >&2; exit 2 ;; esac
if ! git check-ignore -q "$carry/x"; then
  echo "gpu_prepare: $carry is not ignored by git (add /$carry/ to .gitignore): it must travel only as a carried folder" >&2
  exit 2
fi

nvcc=${CUDACXX:-/usr/local/cuda/bin/nvcc}
[ -x "$nvcc" ] || { echo "gpu_prepare: no nvcc at $nvcc (set CUDACXX)" >&2; exit 1; }
if command -v ccache >/dev/null; then
  export CMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER:-ccache}
  export CMAKE_CUDA_COMPILER_LAUNCHER=${CMAKE_CUDA_COMPILER_LAUNCHER:-ccache}
fi
generator=()
if command -v ninja >/dev/null && [ ! -f build-gpu-carry/Makefile ]; then generator=(-G Ninja); fi

build=build-gpu-carry
echo "== configure $build (CUDA, sm_$arch only, no RPATH)"
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DDEEPCHROME_CUDA=ON \
  -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$arch" -DCMAKE_SKIP_BUILD_RPATH=ON >/dev/null
grep -q '^CUDNN_LIBRARY:FILEPATH=.*cudnn' "$build/CMakeCache.txt" ||
  echo "gpu_prepare: warning: cuDNN not found; the benchmarks will have no cuDNN reference" >&2
# What the binaries are built from (hashed before the build): gpu_check.sh builds on the GPU
# machine instead when any of these files differs there (the same paths as its source_paths).
find CMakeLists.txt engine kernels models io cli bench tests/cuda tests/cuda_main.cpp tests/test_util.h configs/paper \
  -type f | sort | xargs sha256sum > "$build/sources.sha256"
echo "== build deepchrome test_cuda (-j$jobs)"
start=$(date +%s)
cmake --build "$build" --target deepchrome test_cuda -j"$jobs"
echo "   built in $(( $(date +%s) - start )) s"

rm -rf "$carry.new"
mkdir -p "$carry.new/bin" "$carry.new/lib"
mv "$build/sources.sha256" "$carry.new/SOURCES.sha256"
for b in deepchrome test_cuda; do
  strip --strip-unneeded -o "$carry.new/bin/$b" "$build/$b"
done

# The non-CUDA shared libraries the binaries link, as this machine resolves them.
for so in libgomp.so.1 libz.so.1 libstdc++.so.6 libgcc_s.so.1 libcudart.so.13; do
  path=$(ldd "$build/deepchrome" "$build/test_cuda" | awk -v so="$so" '$1 == so && $3 ~ /^\// {print $3; exit}')
  if [ -n "$path" ]; then cp -L "$path" "$carry.new/lib/$so"; fi
done

copy_deps "$carry.new/deps"

{
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n)"
  echo "commit: $(git rev-parse HEAD)$(git diff --quiet HEAD -- . ':!.gpu-carry' || echo ' (plus uncommitted changes)')"
  echo "arch: sm_$arch"
  echo "nvcc: $("$nvcc" --version | tail -1)"
  echo "compiler: $(c++ --version | head -1)"
  echo "glibc: $(ldd --version | head -1)"
  for b in deepchrome test_cuda; do
    echo "$b needs: $(readelf -d "$carry.new/bin/$b" | awk '/NEEDED/ {gsub(/[][]/, "", $5); printf "%s ", $5}')"
    echo "$b glibc/libstdc++ symbol versions: $(readelf -V "$carry.new/bin/$b" | grep -o 'GLIBC_[0-9.]*\|GLIBCXX_[0-9.]*\|CXXABI_[0-9.]*\|GOMP_[0-9.]*' | sort -uV | tr '\n' ' ')"
  done
  echo "sizes:"
  (cd "$carry.new" && du -ab bin lib deps | sort -k2 | awk '{printf "  %9d %s\n", $1, $2}' | grep -v '/.*/')
} > "$carry.new/BUILD-INFO"
rm -rf "$carry"
mv "$carry.new" "$carry"
cat "$carry/BUILD-INFO"
echo "== $carry: $(du -sh "$carry" | cut -f1) (it travels with the working tree: 64 MiB in all)"
