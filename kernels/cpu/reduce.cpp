// CPU kernels of sum / mean and the trainer's running loss: sequential sums in double, so
// the result does not depend on the thread count.
#include "kernels/contract/reduce.h"

namespace dc::kernels::cpu {

void sum_forward(float* y, const float* x, int64_t n, float scale) { sum_forward_reference(y, x, n, scale); }

void fill_backward(GradOut<float> dx, const float* dy, float scale, int64_t n) {
  fill_backward_reference(dx, dy, scale, n);
}

void accumulate_scaled(double* acc, const float* x, double weight) { *acc += static_cast<double>(*x) * weight; }

}  // namespace dc::kernels::cpu
