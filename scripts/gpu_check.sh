#!/usr/bin/env bash
# The GPU checks of the CUDA backend, as one script for a machine with an NVIDIA GPU:
# build with CUDA, run the cuda test suite, compute-sanitizer memcheck and racecheck on it,
# then the CUDA kernel benchmarks and the end-to-end epochs on the GPU (JSON).
# usage: scripts/gpu_check.sh [OUT_DIR]   (default: gpu-check/)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-gpu-check}"
mkdir -p "$out"
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || true
cmake -S . -B build-gpu -DDEEPCHROME_CUDA=ON -DCMAKE_BUILD_TYPE=Release > "$out/configure.log" 2>&1 &&
  cmake --build build-gpu -j"$(nproc)" > "$out/build.log" 2>&1 || { echo "build failed (see $out/build.log)"; tail -30 "$out/build.log"; exit 1; }
echo "== cuda test suite"
(cd build-gpu && ./test_cuda) 2>&1 | tee "$out/test_cuda.log" | tail -25
sanitizer=/usr/local/cuda/bin/compute-sanitizer
if [ -x "$sanitizer" ]; then
  for tool in memcheck racecheck; do
    echo "== compute-sanitizer $tool (kernel tests)"
    (cd build-gpu && timeout 900 "$sanitizer" --tool "$tool" --error-exitcode 9 ./test_cuda -tce="*training*,*train_model*") \
      > "$out/sanitizer-$tool.log" 2>&1
    echo "exit $?"; tail -5 "$out/sanitizer-$tool.log"
  done
fi
echo "== CUDA kernel benchmarks"
build-gpu/deepchrome bench --only cuda --out "$out/bench-cuda.json" && echo "wrote $out/bench-cuda.json"
echo "== end-to-end epochs on the GPU and on the CPU (same machine)"
build-gpu/deepchrome bench --only e2e --device cuda --out "$out/bench-e2e-cuda.json" && echo "wrote $out/bench-e2e-cuda.json"
build-gpu/deepchrome bench --only e2e --out "$out/bench-e2e-cpu.json" && echo "wrote $out/bench-e2e-cpu.json"
