// Device dispatch, in one place. Every op checks once, at its entry, that its defined inputs
// live on one device, then runs that device's kernel: DC_KERNEL(device, name) is the CPU or
// the CUDA twin of a kernels/contract function (the two have the same signature). A binary
// built without CUDA has CUDA twins that throw "built without the CUDA backend"
// (kernels/cuda/unavailable.cpp), so nothing here or above needs an #if.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "kernels/base/error.h"
#include "engine/tensor.h"

namespace dc {

template <class F>
inline F* pick_kernel(Device device, F* cpu, F* cuda) {
  return device == Device::CUDA ? cuda : cpu;
}

#define DC_KERNEL(device, name) ::dc::pick_kernel((device), &::dc::kernels::cpu::name, &::dc::kernels::cuda::name)

// Throws dc::Error naming the op and both devices when `t` is not on `device`.
inline void check_device(const char* op, const Tensor& t, Device device) {
  if (t.defined() && t.device() != device)
    throw Error(std::string(op) + ": inputs are on different devices (" + device_name(device) + " and " +
                device_name(t.device()) + "); move them to one device first (Tensor::to / Model::to)");
}

// The device of the first defined tensor (CPU when none is), checked against the others.
inline Device common_device(const char* op, std::initializer_list<const Tensor*> ts) {
  Device d = Device::CPU;
  bool found = false;
  for (const Tensor* t : ts) {
    if (!t || !t->defined()) continue;
    if (!found) {
      d = t->device();
      found = true;
    } else {
      check_device(op, *t, d);
    }
  }
  return d;
}

inline void check_devices(const char* op, const std::vector<Tensor>& ts, Device device) {
  for (const Tensor& t : ts) check_device(op, t, device);
}

}  // namespace dc
