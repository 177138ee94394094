// CPU kernels of log_softmax, nll_loss and bce_with_logits: the reference loops in float
// (these are a handful of values per example; nothing to gain from more).
#include "kernels/contract/loss.h"

namespace dc::kernels::cpu {

void log_softmax_forward(float* y, const float* x, int R, int C) { log_softmax_forward_reference(y, x, R, C); }

void log_softmax_backward(GradOut<float> dx, const float* dy, const float* y, int R, int C) {
  log_softmax_backward_reference(dx, dy, y, R, C);
}

void nll_loss_forward(float* loss, const float* logp, const float* target, int R, int C) {
  nll_loss_forward_reference(loss, logp, target, R, C);
}

void nll_loss_backward(GradOut<float> dlogp, const float* dloss, const float* target, int R, int C) {
  nll_loss_backward_reference(dlogp, dloss, target, R, C);
}

void bce_with_logits_forward(float* loss, const float* z, const float* t, int R) {
  bce_with_logits_forward_reference(loss, z, t, R);
}

void bce_with_logits_backward(GradOut<float> dz, const float* dloss, const float* z, const float* t, int R) {
  bce_with_logits_backward_reference(dz, dloss, z, t, R);
}

}  // namespace dc::kernels::cpu
