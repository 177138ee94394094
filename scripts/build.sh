#!/usr/bin/env bash
# Configures and builds into build/ (Release; CUDA auto-detected). Extra arguments are
# passed to CMake's configure step, e.g. scripts/build.sh -DDEEPCHROME_NATIVE=ON
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build -j"$jobs"
