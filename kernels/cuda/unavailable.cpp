// The CUDA backend of a binary built without it (-DDEEPCHROME_CUDA=OFF, or no nvcc found):
// every kernel and runtime function of kernels/contract/*.h and kernels/cuda/runtime.h
// exists, so the engine dispatches on the tensor's device without a single #if, and
// each says plainly that this build has no CUDA. CMake compiles this file instead of the
// .cu files. available() answers false with the reason, so `--device cuda` is refused
// with a message before anything runs.
#include <string>

#include "kernels/base/error.h"
#include "kernels/contract/attention.h"
#include "kernels/contract/bmm.h"
#include "kernels/contract/broadcast.h"
#include "kernels/contract/conv1d.h"
#include "kernels/contract/dropout.h"
#include "kernels/contract/elementwise.h"
#include "kernels/contract/gemm.h"
#include "kernels/contract/layer_norm.h"
#include "kernels/contract/layout.h"
#include "kernels/contract/linear.h"
#include "kernels/contract/loss.h"
#include "kernels/contract/lstm.h"
#include "kernels/contract/optim.h"
#include "kernels/contract/pool.h"
#include "kernels/contract/reduce.h"
#include "kernels/contract/softmax.h"
#include "kernels/cuda/runtime.h"

namespace dc::kernels::cuda {
namespace {

constexpr const char* kWhy = "this binary was built without the CUDA backend (configure with -DDEEPCHROME_CUDA=ON "
                             "where nvcc is installed)";

[[noreturn]] void unavailable() { throw Error(std::string("CUDA: ") + kWhy); }

}  // namespace

bool available(std::string* why) {
  if (why) *why = kWhy;
  return false;
}
DeviceInfo device_info() { unavailable(); }
void* raw_malloc(size_t) { unavailable(); }
void raw_free(void*) {}
size_t raw_malloc_count() { return 0; }
void copy_to_device(void*, const void*, size_t) { unavailable(); }
void copy_to_host(void*, const void*, size_t) { unavailable(); }
void copy_device(void*, const void*, size_t) { unavailable(); }
void fill_zero(void*, size_t) { unavailable(); }
void fill_float(float*, float, size_t) { unavailable(); }
float* device_scratch(int, size_t) { unavailable(); }
void clear_last_error() {}
void synchronize() { unavailable(); }
void* stream() { unavailable(); }

void linear_forward(float*, const float*, const float*, const float*, LinearShape) { unavailable(); }
void linear_backward(GradOut<float>, GradOut<float>, GradOut<float>, const float*, const float*, const float*, LinearShape) {
  unavailable();
}
void conv1d_forward(float*, float*, const float*, const float*, const float*, Conv1dShape) { unavailable(); }
void conv1d_backward(GradOut<float>, GradOut<float>, GradOut<float>, const float*, const float*, const float*, Conv1dShape) {
  unavailable();
}
void maxpool1d_forward(float*, int32_t*, const float*, Pool1dShape) { unavailable(); }
void maxpool1d_backward(GradOut<float>, const float*, const int32_t*, Pool1dShape) { unavailable(); }
void dropout_forward(float*, const float*, int64_t, float, DropoutKey) { unavailable(); }
void dropout_backward(GradOut<float>, const float*, int64_t, float, DropoutKey) { unavailable(); }
void activation_forward(float*, const float*, int64_t, Activation) { unavailable(); }
void activation_backward(GradOut<float>, const float*, const float*, int64_t, Activation) { unavailable(); }
void binary_forward(float*, const float*, const float*, int64_t, Binary) { unavailable(); }
void binary_backward(GradOut<float>, GradOut<float>, const float*, const float*, const float*, int64_t, Binary) {
  unavailable();
}
void log_softmax_forward(float*, const float*, int, int) { unavailable(); }
void log_softmax_backward(GradOut<float>, const float*, const float*, int, int) { unavailable(); }
void nll_loss_forward(float*, const float*, const float*, int, int) { unavailable(); }
void nll_loss_backward(GradOut<float>, const float*, const float*, int, int) { unavailable(); }
void bce_with_logits_forward(float*, const float*, const float*, int) { unavailable(); }
void bce_with_logits_backward(GradOut<float>, const float*, const float*, const float*, int) { unavailable(); }
void sum_forward(float*, const float*, int64_t, float) { unavailable(); }
void fill_backward(GradOut<float>, const float*, float, int64_t) { unavailable(); }
void accumulate_scaled(double*, const float*, double) { unavailable(); }
void copy_grad(GradOut<float>, const float*, int64_t) { unavailable(); }
void swap_axes(GradOut<float>, const float*, SwapAxesShape) { unavailable(); }
void slice_forward(float*, const float*, AxisView, int64_t, int64_t) { unavailable(); }
void slice_backward(GradOut<float>, const float*, AxisView, int64_t, int64_t) { unavailable(); }
void concat_forward(float*, const float* const*, const int64_t*, int, int64_t, int64_t) { unavailable(); }
void concat_backward(const GradOut<float>*, const float*, const int64_t*, int, int64_t, int64_t) { unavailable(); }
void attention_forward(float*, float*, const float*, const float* const*, AttentionShape) { unavailable(); }
void attention_backward(GradOut<float>, const GradOut<float>*, const float*, const float*, const float*, const float* const*,
                        AttentionShape) {
  unavailable();
}
void lstm_forward(float*, float*, const float*, const LstmParams<float>&, LstmShape) { unavailable(); }
void lstm_backward(GradOut<float>, const LstmParamGrads<float>&, const float*, const float*, const float*,
                   const LstmParams<float>&, const float*, LstmShape) {
  unavailable();
}
void sgd_update(float*, const float*, float*, int64_t, float, float, float, bool) { unavailable(); }
void adam_update(float*, const float*, float*, float*, int64_t, float, float, float, float, float, int64_t) { unavailable(); }
void rmsprop_update(float*, const float*, float*, int64_t, float, float, float) { unavailable(); }
void sum_squares_accumulate(double*, const float*, int64_t) { unavailable(); }
void clip_scale(float*, int64_t, const double*, double) { unavailable(); }
void sgemm(Trans, Trans, int, int, int, float, const float*, int, const float*, int, float, float*, int) { unavailable(); }
void gelu_forward(float*, const float*, int64_t) { unavailable(); }
void gelu_backward(GradOut<float>, const float*, const float*, int64_t) { unavailable(); }
void broadcast_forward(float*, const float*, const float*, const BroadcastShape&, Binary) { unavailable(); }
void broadcast_backward(GradOut<float>, GradOut<float>, const float*, const float*, const float*, const BroadcastShape&,
                        Binary) {
  unavailable();
}
void bmm_forward(float*, const float*, const float*, BmmShape) { unavailable(); }
void bmm_backward(GradOut<float>, GradOut<float>, const float*, const float*, const float*, BmmShape) { unavailable(); }
void softmax_forward(float*, const float*, int64_t, int) { unavailable(); }
void softmax_backward(GradOut<float>, const float*, const float*, int64_t, int) { unavailable(); }
void layer_norm_forward(float*, float*, float*, const float*, const float*, const float*, LayerNormShape) { unavailable(); }
void layer_norm_backward(GradOut<float>, GradOut<float>, GradOut<float>, const float*, const float*, const float*,
                         const float*, const float*, LayerNormShape) {
  unavailable();
}

}  // namespace dc::kernels::cuda
