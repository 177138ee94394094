#include "engine/ops_attention.h"

#include <memory>
#include <string>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "kernels/base/error.h"
#include "kernels/contract/attention.h"
#include "kernels/contract/layout.h"

namespace dc {
namespace {

namespace k = kernels;

std::string shape_or_undefined(const Tensor& t) { return t.defined() ? shape_str(t.shape()) : std::string("undefined"); }

// Python-style axis: -1 is the last one.
int normalize_dim(const char* op, int dim, const Shape& shape) {
  const int n = static_cast<int>(shape.size());
  const int d = dim < 0 ? dim + n : dim;
  check_shape(d >= 0 && d < n, std::string(op) + ": dim " + std::to_string(dim) + " is out of range for shape " + shape_str(shape));
  return d;
}

k::AxisView axis_view(const Shape& shape, int d) {
  k::AxisView v{1, shape[static_cast<size_t>(d)], 1};
  for (int i = 0; i < d; ++i) v.outer *= shape[static_cast<size_t>(i)];
  for (size_t i = static_cast<size_t>(d) + 1; i < shape.size(); ++i) v.inner *= shape[i];
  return v;
}

// ---- attention_pool ---------------------------------------------------------------------
struct AttentionNode : Node {
  Tensor h;
  std::vector<Tensor> ctx;
  std::shared_ptr<Storage> alpha;  // the weights output's data (not the tensor)
  k::AttentionShape s;
  const char* name() const override { return "attention_pool"; }
  void backward(TensorImpl& out) override {
    const size_t G = ctx.size();
    std::vector<const float*> cp(G);  // host arrays of device pointers on CUDA, as on the CPU
    std::vector<GradOut<float>> dctx(G);
    bool any = false;
    // In group order: a context tensor passed for several groups gets Overwrite for its
    // first group and Accumulate for the later ones (the kernel writes groups in order).
    for (size_t g = 0; g < G; ++g) {
      cp[g] = ctx[g].data();
      dctx[g] = grad_sink(ctx[g].impl());
      any = any || static_cast<bool>(dctx[g]);
    }
    DC_KERNEL(h.device(), attention_backward)(grad_sink(h.impl()), any ? dctx.data() : nullptr, out.grad->storage->data(),
                                              h.data(), alpha->data(), cp.data(), s);
  }
};

// ---- slice / concat ---------------------------------------------------------------------
struct SliceNode : Node {
  Tensor x;
  k::AxisView v;
  int64_t start, end;
  const char* name() const override { return "slice"; }
  void backward(TensorImpl& out) override {
    const GradOut<float> dx = grad_sink(x.impl());
    if (dx) DC_KERNEL(x.device(), slice_backward)(dx, out.grad->storage->data(), v, start, end);
  }
};

struct ConcatNode : Node {
  std::vector<Tensor> xs;
  std::vector<int64_t> lens;
  int64_t outer, inner;
  const char* name() const override { return "concat"; }
  void backward(TensorImpl& out) override {
    const size_t n = xs.size();
    std::vector<GradOut<float>> dxs(n);
    for (size_t i = 0; i < n; ++i) dxs[i] = grad_sink(xs[i].impl());  // in order (see concat_backward)
    DC_KERNEL(xs[0].device(), concat_backward)(dxs.data(), out.grad->storage->data(), lens.data(), static_cast<int>(n), outer,
                                               inner);
  }
};

}  // namespace

AttentionResult attention_pool(const Tensor& h, const std::vector<Tensor>& context) {
  check_shape(h.defined() && h.dim() == 4, "attention_pool: expected h (G, B, T, F), got h " + shape_or_undefined(h));
  const Shape& hs = h.shape();
  check_shape(hs[0] >= 1 && hs[1] >= 1 && hs[2] >= 1 && hs[3] >= 1,
              "attention_pool: h " + shape_str(hs) + " has an empty dimension");
  check_shape(static_cast<int64_t>(context.size()) == hs[0],
              "attention_pool: h " + shape_str(hs) + " has " + std::to_string(hs[0]) + " groups but " +
                  std::to_string(context.size()) + " context vectors were given");
  for (size_t g = 0; g < context.size(); ++g)
    check_shape(context[g].defined() && context[g].dim() == 1 && context[g].size(0) == hs[3],
                "attention_pool: context " + std::to_string(g) + " must have shape (" + std::to_string(hs[3]) + ",) for h " +
                    shape_str(hs) + ", got " + shape_or_undefined(context[g]));
  const Device dev = h.device();
  check_devices("attention_pool", context, dev);

  const k::AttentionShape s{static_cast<int>(hs[0]), static_cast<int>(hs[1]), static_cast<int>(hs[2]), static_cast<int>(hs[3])};
  std::vector<const float*> cp;
  for (const Tensor& c : context) cp.push_back(c.data());
  AttentionResult r;
  r.pooled = Tensor::empty({s.G, s.B, s.F}, dev);
  r.weights = Tensor::empty({s.G, s.B, s.T}, dev);
  DC_KERNEL(dev, attention_forward)(r.pooled.data(), r.weights.data(), h.data(), cp.data(), s);

  bool needs = any_requires_grad({&h});
  for (const Tensor& c : context) needs = needs || any_requires_grad({&c});
  if (needs) {
    auto node = std::make_shared<AttentionNode>();
    node->h = h;
    node->ctx = context;
    node->alpha = r.weights.impl()->storage;
    node->s = s;
    record(r.pooled, node, {&h});
    for (const Tensor& c : context)
      if (c.requires_grad()) node->inputs.push_back(c.impl_ptr());
  }
  return r;
}

Tensor slice(const Tensor& x, int dim, int64_t start, int64_t end) {
  check_shape(x.defined(), "slice: the input is an undefined tensor");
  const int d = normalize_dim("slice", dim, x.shape());
  const int64_t len = x.size(d);
  check_shape(0 <= start && start < end && end <= len, "slice: range [" + std::to_string(start) + ", " + std::to_string(end) +
                                                           ") is not a non-empty part of dim " + std::to_string(dim) +
                                                           " (size " + std::to_string(len) + ") of shape " + shape_str(x.shape()));
  const k::AxisView v = axis_view(x.shape(), d);
  Shape out = x.shape();
  out[static_cast<size_t>(d)] = end - start;
  Tensor y = Tensor::empty(out, x.device());
  DC_KERNEL(x.device(), slice_forward)(y.data(), x.data(), v, start, end);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<SliceNode>();
    node->x = x;
    node->v = v;
    node->start = start;
    node->end = end;
    record(y, node, {&x});
  }
  return y;
}

Tensor concat(const std::vector<Tensor>& xs, int dim) {
  check_shape(!xs.empty(), "concat: no tensors given");
  for (size_t i = 0; i < xs.size(); ++i)
    check_shape(xs[i].defined(), "concat: input " + std::to_string(i) + " is an undefined tensor");
  const Shape& first = xs[0].shape();
  const int d = normalize_dim("concat", dim, first);
  std::vector<int64_t> lens;
  Shape out = first;
  out[static_cast<size_t>(d)] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Shape& si = xs[i].shape();
    bool same = si.size() == first.size();
    for (size_t k = 0; same && k < si.size(); ++k) same = static_cast<int>(k) == d || si[k] == first[k];
    check_shape(same, "concat: input " + std::to_string(i) + " has shape " + shape_str(si) + ", input 0 has " + shape_str(first) +
                          "; they must agree outside dim " + std::to_string(dim));
    check_device("concat", xs[i], xs[0].device());
    lens.push_back(si[static_cast<size_t>(d)]);
    out[static_cast<size_t>(d)] += si[static_cast<size_t>(d)];
  }
  const k::AxisView v = axis_view(out, d);
  std::vector<const float*> ptrs;
  for (const Tensor& t : xs) ptrs.push_back(t.data());
  Tensor y = Tensor::empty(out, xs[0].device());
  DC_KERNEL(xs[0].device(), concat_forward)(y.data(), ptrs.data(), lens.data(), static_cast<int>(xs.size()), v.outer, v.inner);

  bool needs = false;
  for (const Tensor& t : xs) needs = needs || any_requires_grad({&t});
  if (needs) {
    auto node = std::make_shared<ConcatNode>();
    node->xs = xs;
    node->lens = lens;
    node->outer = v.outer;
    node->inner = v.inner;
    record(y, node, {});
    for (const Tensor& t : xs)
      if (t.requires_grad()) node->inputs.push_back(t.impl_ptr());
  }
  return y;
}

}  // namespace dc
