#include "engine/ops_attention.h"

#include <string>

#include "engine/autograd.h"
#include "engine/error.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/slice.h"

namespace dc {
namespace {

struct AttentionNode : Node {
  Tensor h, alpha;
  std::vector<Tensor> ctx;
  cpu::AttentionShape s;
  const char* name() const override { return "attention_pool"; }
  void backward(TensorImpl& out) override {
    std::vector<const float*> cp;
    for (const Tensor& c : ctx) cp.push_back(c.data());
    // Every context receives a gradient of its own; a context passed for several groups
    // accumulates (the second sink of the same tensor is in Accumulate mode).
    std::vector<float*> dctx(ctx.size(), nullptr);
    GradMode dctx_mode = GradMode::Overwrite;
    bool shared = false;
    for (size_t i = 0; i < ctx.size(); ++i)
      for (size_t j = 0; j < i; ++j) shared = shared || ctx[i].impl() == ctx[j].impl();
    std::vector<float> scratch(static_cast<size_t>(s.G) * s.B * s.T);
    GradSink dh = grad_sink(h.impl());
    if (!shared) {
      bool any = false;
      std::vector<GradMode> modes;
      for (size_t g = 0; g < ctx.size(); ++g) {
        GradSink k = grad_sink(ctx[g].impl());
        dctx[g] = k.data;
        modes.push_back(k.mode);
        any = any || k;
      }
      // Modes can differ per context; run the context part once per mode class.
      bool uniform = true;
      for (auto m : modes) uniform = uniform && m == modes.front();
      if (uniform || !any) {
        if (!modes.empty()) dctx_mode = modes.front();
        cpu::attention_backward(dh.data, dh.mode, any ? dctx.data() : nullptr, dctx_mode, out.grad->storage->data(), h.data(),
                                alpha.data(), cp.data(), scratch.data(), s);
        return;
      }
      // Mixed modes (rare): compute into private buffers, then put with each mode.
      std::vector<std::vector<float>> priv(ctx.size(), std::vector<float>(static_cast<size_t>(s.F)));
      std::vector<float*> pp;
      for (auto& v : priv) pp.push_back(v.data());
      cpu::attention_backward(dh.data, dh.mode, pp.data(), GradMode::Overwrite, out.grad->storage->data(), h.data(), alpha.data(),
                              cp.data(), scratch.data(), s);
      for (size_t g = 0; g < ctx.size(); ++g)
        if (dctx[g])
          for (int f = 0; f < s.F; ++f) cpu::put(dctx[g], f, priv[g][f], modes[g]);
      return;
    }
    // Shared context tensors: private buffers summed into each tensor's gradient in group order.
    std::vector<std::vector<float>> priv(ctx.size(), std::vector<float>(static_cast<size_t>(s.F)));
    std::vector<float*> pp;
    for (auto& v : priv) pp.push_back(v.data());
    cpu::attention_backward(dh.data, dh.mode, pp.data(), GradMode::Overwrite, out.grad->storage->data(), h.data(), alpha.data(),
                            cp.data(), scratch.data(), s);
    for (size_t g = 0; g < ctx.size(); ++g) {
      GradSink k = grad_sink(ctx[g].impl());
      if (k)
        for (int f = 0; f < s.F; ++f) cpu::put(k.data, f, priv[g][f], k.mode);
    }
  }
};

struct SliceNode : Node {
  Tensor x;
  int64_t outer, len, inner, start, end;
  const char* name() const override { return "slice"; }
  void backward(TensorImpl& out) override {
    GradSink dx = grad_sink(x.impl());
    if (!dx) return;
    if (dx.mode == GradMode::Overwrite) cpu::zero_outside(dx.data, outer, len, inner, start, end);
    cpu::slice_place(dx.data, dx.mode, out.grad->storage->data(), outer, len, inner, start, end);
  }
};

struct ConcatNode : Node {
  std::vector<Tensor> xs;
  std::vector<int64_t> starts;  // band of each input along the axis
  int64_t outer, len, inner;
  const char* name() const override { return "concat"; }
  void backward(TensorImpl& out) override {
    for (size_t i = 0; i < xs.size(); ++i) {
      GradSink dx = grad_sink(xs[i].impl());
      if (!dx) continue;
      const int64_t s0 = starts[i], s1 = starts[i] + xs[i].size(dim_index());
      const int64_t w = (s1 - s0) * inner;
      const float* g = out.grad->storage->data();
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t k = 0; k < w; ++k) cpu::put(dx.data, o * w + k, g[(o * len + s0) * inner + k], dx.mode);
    }
  }
  int dim = 0;
  int dim_index() const { return dim; }
};

int normalize_dim(const char* op, int dim, int n, const Shape& shape) {
  const int d = dim < 0 ? dim + n : dim;
  check_shape(d >= 0 && d < n, std::string(op) + ": dim " + std::to_string(dim) + " out of range for shape " + shape_str(shape));
  return d;
}

void outer_inner(const Shape& shape, int d, int64_t& outer, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int i = 0; i < d; ++i) outer *= shape[i];
  for (size_t i = static_cast<size_t>(d) + 1; i < shape.size(); ++i) inner *= shape[i];
}

}  // namespace

AttentionResult attention_pool(const Tensor& h, const std::vector<Tensor>& context) {
  check_shape(h.defined() && h.dim() == 4, "attention_pool: expected h (G, B, T, F), got " + (h.defined() ? shape_str(h.shape()) : "undefined"));
  const int G = static_cast<int>(h.size(0)), B = static_cast<int>(h.size(1)), T = static_cast<int>(h.size(2)),
            F = static_cast<int>(h.size(3));
  check_shape(T >= 1 && F >= 1, "attention_pool: h " + shape_str(h.shape()) + " has no steps or features");
  check_shape(static_cast<int>(context.size()) == G, "attention_pool: h " + shape_str(h.shape()) + " has " + std::to_string(G) +
                                                         " groups but " + std::to_string(context.size()) + " context vectors were given");
  std::vector<const float*> cp;
  for (size_t g = 0; g < context.size(); ++g) {
    check_shape(context[g].defined() && context[g].dim() == 1 && context[g].size(0) == F,
                "attention_pool: context " + std::to_string(g) + " must have shape (" + std::to_string(F) + ",), got " +
                    (context[g].defined() ? shape_str(context[g].shape()) : "undefined"));
    cp.push_back(context[g].data());
  }
  const cpu::AttentionShape s{G, B, T, F};
  AttentionResult r;
  r.pooled = Tensor::empty({G, B, F});
  r.weights = Tensor::empty({G, B, T});
  cpu::attention_forward(r.pooled.data(), r.weights.data(), h.data(), cp.data(), s);
  std::vector<const Tensor*> inputs{&h};
  bool needs = any_requires_grad({&h});
  for (const Tensor& c : context) needs = needs || any_requires_grad({&c});
  if (needs) {
    auto node = std::make_shared<AttentionNode>();
    node->h = h;
    node->alpha = r.weights;
    node->ctx = context;
    node->s = s;
    record(r.pooled, node, {&h});
    for (const Tensor& c : context)
      if (c.requires_grad()) node->inputs.push_back(c.impl_ptr());
  }
  return r;
}

Tensor slice(const Tensor& x, int dim, int64_t start, int64_t end) {
  check_shape(x.defined(), "slice: the input is an undefined tensor");
  const int d = normalize_dim("slice", dim, x.dim(), x.shape());
  const int64_t len = x.size(d);
  check_shape(0 <= start && start < end && end <= len, "slice: range [" + std::to_string(start) + ", " + std::to_string(end) +
                                                           ") invalid for dim " + std::to_string(dim) + " of shape " + shape_str(x.shape()));
  int64_t outer, inner;
  outer_inner(x.shape(), d, outer, inner);
  Shape out = x.shape();
  out[d] = end - start;
  Tensor y = Tensor::empty(out);
  cpu::slice_copy(y.data(), x.data(), outer, len, inner, start, end);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<SliceNode>();
    node->x = x;
    node->outer = outer;
    node->len = len;
    node->inner = inner;
    node->start = start;
    node->end = end;
    record(y, node, {&x});
  }
  return y;
}

Tensor concat(const std::vector<Tensor>& xs, int dim) {
  check_shape(!xs.empty(), "concat: no tensors given");
  for (const Tensor& t : xs) check_shape(t.defined(), "concat: an input is an undefined tensor");
  const int d = normalize_dim("concat", dim, xs[0].dim(), xs[0].shape());
  Shape out = xs[0].shape();
  int64_t len = 0;
  std::vector<int64_t> starts;
  for (const Tensor& t : xs) {
    bool same = t.dim() == xs[0].dim();
    for (int i = 0; same && i < t.dim(); ++i) same = i == d || t.size(i) == xs[0].size(i);
    check_shape(same, "concat: shapes " + shape_str(xs[0].shape()) + " and " + shape_str(t.shape()) + " differ outside dim " +
                          std::to_string(dim));
    starts.push_back(len);
    len += t.size(d);
  }
  out[d] = len;
  int64_t outer, inner;
  outer_inner(out, d, outer, inner);
  Tensor y = Tensor::empty(out);
  for (size_t i = 0; i < xs.size(); ++i)
    cpu::slice_place(y.data(), GradMode::Overwrite, xs[i].data(), outer, len, inner, starts[i], starts[i] + xs[i].size(d));
  bool needs = false;
  for (const Tensor& t : xs) needs = needs || any_requires_grad({&t});
  if (needs) {
    auto node = std::make_shared<ConcatNode>();
    node->xs = xs;
    node->starts = starts;
    node->outer = outer;
    node->len = len;
    node->inner = inner;
    node->dim = d;
    record(y, node, {});
    for (const Tensor& t : xs)
      if (t.requires_grad()) node->inputs.push_back(t.impl_ptr());
  }
  return y;
}

}  // namespace dc
