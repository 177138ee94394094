// Which devices this process can run on, for the layers above the engine (the CLI checks a
// config's device before anything runs).
#pragma once

#include <string>

#include "engine/tensor.h"

namespace dc {

// The CPU always; CUDA when this binary has the CUDA backend and a usable GPU (`why` says
// what is missing otherwise: no backend, no device, too old a device, ...). Never throws.
bool device_available(Device device, std::string* why = nullptr);

// Throws dc::InputError "<what>: no usable CUDA device (<why>)" unless `device` is available.
void require_device(Device device, const std::string& what);

}  // namespace dc
