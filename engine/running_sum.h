// A running sum of weighted scalars kept on their device, e.g. an epoch's training loss
// (sum of batch loss * batch size): adding never waits for the device, reading copies the
// one double back (and so waits for the work queued before it).
#pragma once

#include "engine/tensor.h"

namespace dc {

class RunningSum {
 public:
  explicit RunningSum(Device device);
  void reset();
  // sum += double(scalar) * weight; `scalar` is a one-element tensor on this sum's device.
  void add(const Tensor& scalar, double weight);
  double read() const;

 private:
  double* sum();
  Tensor storage_;  // one double in two floats
};

}  // namespace dc
