#!/usr/bin/env bash
# One command from a fresh Debian machine: install build dependencies, build, simulate one
# full-size cell type (19,802 genes) and train DeepChrome on it on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
# Only the executable the quickstart runs (scripts/build.sh and scripts/test.sh build the tests too).
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build --target deepchrome -j"$(nproc 2>/dev/null || echo 2)"
if [ ! -f data/sim/S01/classification/test.csv ]; then
  build/deepchrome simulate --out data/sim --cells S01 --genes 19802 --seed 7
fi
build/deepchrome train configs/quickstart.json "$@"
echo
echo "Outputs: runs/quickstart/S01/deepchrome/{metrics.json,model.safetensors,config.json,predictions.csv}"
