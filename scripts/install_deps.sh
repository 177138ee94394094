#!/usr/bin/env bash
# Installs the Debian packages deepchrome builds with (and curl, for scripts/download_data.sh;
# python3, for tools/import_attentivechrome.py and its test; libhts-dev + pkg-config, with
# which `deepchrome prepare` reads BAM/CRAM/SAM (htslib is optional at build time); samtools
# and bedtools, the prepare tests' oracle; clang, libfuzzer-14-dev and libomp-dev, with which
# scripts/sanitize.sh and scripts/fuzz.sh build the ASan + UBSan suites and the fuzz targets),
# skipping those already present; then, optional: openmpi-bin + libopenmpi-dev (MPI is optional
# at build time, like CUDA: `deepchrome sweep` across nodes under mpirun / srun, and the mpi
# test suite, which is skipped without them) and chromium,
# which only the browser test suite uses (it opens report.html headless): when chromium
# cannot be installed this says so and goes on, and that suite reports itself skipped.
# Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(build-essential cmake nlohmann-json3-dev doctest-dev zlib1g-dev curl ca-certificates python3
          libhts-dev pkg-config samtools bedtools)
optional=(openmpi-bin libopenmpi-dev chromium)
# The sanitizer build (scripts/sanitize.sh) and the fuzz targets (scripts/fuzz.sh): clang with
# its OpenMP runtime and the libFuzzer of the same LLVM version (Debian 12: libfuzzer-14-dev).
fuzz_packages=(clang libomp-dev)
clang_major() { clang --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n 1; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
missing_optional=()
for p in "${optional[@]}"; do installed "$p" || missing_optional+=("$p"); done
for p in "${fuzz_packages[@]}"; do installed "$p" || missing_optional+=("$p"); done
if [ -n "$(clang_major)" ]; then
  installed "libfuzzer-$(clang_major)-dev" || missing_optional+=("libfuzzer-$(clang_major)-dev")
else
  missing_optional+=(libfuzzer)  # decided once clang is installed
fi
if [ ${#missing[@]} -eq 0 ] && [ ${#missing_optional[@]} -eq 0 ]; then
  echo "deepchrome: build dependencies present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q || echo "deepchrome: apt-get update failed; trying the install with the current package lists" >&2
if [ ${#missing[@]} -gt 0 ]; then
  echo "deepchrome: installing ${missing[*]}"
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
for p in "${missing_optional[@]}"; do
  case "$p" in
    chromium) why="the browser test suite will be skipped" ;;
    openmpi-bin | libopenmpi-dev) why="deepchrome is built without MPI (no sweep across nodes) and the mpi test suite will be skipped" ;;
    libfuzzer)
      p="libfuzzer-$(clang_major)-dev"
      [ "$p" != "libfuzzer--dev" ] || { echo "deepchrome: no clang, so no libFuzzer; the fuzz step will be skipped" >&2; continue; }
      installed "$p" && continue
      why="the fuzz step of scripts/test.sh will be skipped" ;;
    *) why="the fuzz step of scripts/test.sh will be skipped (and the sanitizer build uses the default compiler)" ;;
  esac
  echo "deepchrome: installing $p (optional)"
  $SUDO apt-get install -y -q --no-install-recommends "$p" || echo "deepchrome: could not install $p; $why" >&2
done
