// Options several commands share: --threads N and --device cpu|cuda (checked, and applied to
// this process), and a run folder's data.
#pragma once

#include "cli/args.h"
#include "engine/tensor.h"

namespace dc::cli {

// --threads N (a positive integer): sets the CPU threads; absent: all cores.
void apply_threads_option(const ArgParser& p);

// --device: "cpu" (default) or "cuda" (refused with the reason when no GPU is usable).
Device device_option(const ArgParser& p);

}  // namespace dc::cli
