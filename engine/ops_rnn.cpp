#include "engine/ops_rnn.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "kernels/base/error.h"
#include "kernels/contract/layout.h"
#include "kernels/contract/lstm.h"

namespace dc {
namespace {

namespace k = kernels;

constexpr const char* kKinds[4] = {"w_ih", "w_hh", "b_ih", "b_hh"};

// The four weight vectors in a fixed order (w_ih, w_hh, b_ih, b_hh).
std::vector<const std::vector<Tensor>*> weight_lists(const LstmWeights& w) { return {&w.w_ih, &w.w_hh, &w.b_ih, &w.b_hh}; }

k::LstmParams<float> params_of(const LstmWeights& w) {
  k::LstmParams<float> p;
  for (const Tensor& t : w.w_ih) p.w_ih.push_back(t.data());
  for (const Tensor& t : w.w_hh) p.w_hh.push_back(t.data());
  for (const Tensor& t : w.b_ih) p.b_ih.push_back(t.data());
  for (const Tensor& t : w.b_hh) p.b_hh.push_back(t.data());
  return p;
}

// Workspaces are large (6H floats per sequence step: 196 MB for the bin-level LSTM at batch
// 256) and freshly mapped memory costs a page fault per 4 KiB on first touch (measured: 3x
// the kernel's own time at that size). Nodes hand theirs back here when they are destroyed
// and the next forward reuses it; at most kKeep buffers are kept.
class WorkspacePool {
 public:
  static WorkspacePool& instance() {
    static auto* pool = new WorkspacePool;  // never destroyed: nodes may outlive static destruction
    return *pool;
  }

  std::shared_ptr<float> get(size_t n) {
    float* p = nullptr;
    size_t cap = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      size_t best = free_.size();
      for (size_t i = 0; i < free_.size(); ++i)
        if (free_[i].second >= n && (best == free_.size() || free_[i].second < free_[best].second)) best = i;
      if (best < free_.size()) {
        p = free_[best].first;
        cap = free_[best].second;
        free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(best));
      }
    }
    if (!p) {
      cap = std::max<size_t>(n, 1);
      p = static_cast<float*>(std::aligned_alloc(64, (cap * sizeof(float) + 63) / 64 * 64));
      if (!p) throw std::bad_alloc();
    }
    return std::shared_ptr<float>(p, [cap](float* q) { instance().put(q, cap); });
  }

 private:
  static constexpr size_t kKeep = 2;

  void put(float* p, size_t cap) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.emplace_back(p, cap);
    if (free_.size() > kKeep) {  // drop the smallest
      size_t smallest = 0;
      for (size_t i = 1; i < free_.size(); ++i)
        if (free_[i].second < free_[smallest].second) smallest = i;
      std::free(free_[smallest].first);
      free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(smallest));
    }
  }

  std::mutex mutex_;
  std::vector<std::pair<float*, size_t>> free_;
};

// The forward's workspace for a backward to follow: from the pool on the CPU, from the
// caching allocator on CUDA.
std::shared_ptr<float> workspace(Device device, int64_t n) {
  if (device == Device::CPU) return WorkspacePool::instance().get(static_cast<size_t>(n));
  auto storage = std::make_shared<Storage>(n, device);
  return std::shared_ptr<float>(storage, storage->data());  // keeps the storage alive
}

struct LstmNode : Node {
  Tensor x;
  LstmWeights w;
  std::shared_ptr<Storage> y;  // the output's data (not the output tensor: no cycle)
  std::shared_ptr<float> ws;   // the forward's workspace (gates, c, tanh c of every step)
  k::LstmShape s;
  const char* name() const override { return "lstm"; }

  void backward(TensorImpl& out) override {
    const int P = s.P();
    const auto lists = weight_lists(w);
    // A tensor passed in more than one slot (shared weights) gets each slot's gradient in a
    // private buffer (on the tensor's device) first, summed into its gradient after the
    // kernel in slot order.
    std::unordered_map<TensorImpl*, int> uses;
    for (const auto* list : lists)
      for (const Tensor& t : *list)
        if (t.requires_grad()) ++uses[t.impl()];
    k::LstmParamGrads<float> g;
    std::vector<GradOut<float>>* outs[4] = {&g.w_ih, &g.w_hh, &g.b_ih, &g.b_hh};
    std::vector<Tensor> priv(static_cast<size_t>(4 * P));
    for (int kind = 0; kind < 4; ++kind) {
      outs[kind]->resize(P);
      for (int p = 0; p < P; ++p) {
        const Tensor& t = (*lists[kind])[p];
        if (!t.requires_grad()) continue;
        if (uses[t.impl()] == 1) {
          const GradOut<float> sink = grad_sink(t.impl());
          (*outs[kind])[p] = {sink.data, sink.mode};
        } else {
          Tensor& buf = priv[static_cast<size_t>(kind * P + p)];
          buf = Tensor::empty(t.shape(), x.device());
          (*outs[kind])[p] = {buf.data(), GradMode::Overwrite};
        }
      }
    }
    const Device dev = x.device();
    DC_KERNEL(dev, lstm_backward)(grad_sink(x.impl()), g, out.grad->storage->data(), x.data(), y->data(), params_of(w),
                                  ws.get(), s);
    for (auto& [impl, n] : uses) {
      if (n == 1) continue;
      const GradOut<float> sink = grad_sink(impl);
      bool first = true;
      for (int kind = 0; kind < 4; ++kind)
        for (int p = 0; p < P; ++p) {
          if ((*lists[kind])[p].impl() != impl) continue;
          const Tensor& buf = priv[static_cast<size_t>(kind * P + p)];
          DC_KERNEL(dev, copy_grad)({sink.data, first ? sink.mode : GradMode::Accumulate}, buf.data(), buf.numel());
          first = false;
        }
    }
  }
};

std::string slot_name(const char* kind, int p, int D) {
  std::string s = std::string("weights.") + kind + "[" + std::to_string(p) + "] (group " + std::to_string(p / D);
  if (D == 2) s += p % D == 0 ? ", forward" : ", reverse";
  return s + ")";
}

}  // namespace

Tensor lstm(const Tensor& x, const LstmWeights& weights, int hidden, bool bidirectional) {
  if (!x.defined()) throw ShapeError("lstm: input is an undefined tensor");
  check_shape(x.dim() == 4, "lstm: expected x (G, B, T, I) (groups, batch, time, features), got " + shape_str(x.shape()));
  check_shape(hidden >= 1, "lstm: hidden size must be >= 1, got " + std::to_string(hidden));
  for (int i = 0; i < 4; ++i)
    check_shape(x.size(i) >= 1 && x.size(i) <= (1 << 30),
                "lstm: every dimension of x (G, B, T, I) must be >= 1, got " + shape_str(x.shape()));
  check_shape(x.size(1) * x.size(2) <= (int64_t{1} << 30),
              "lstm: batch * time is too large (" + shape_str(x.shape()) + ")");
  const int G = static_cast<int>(x.size(0)), B = static_cast<int>(x.size(1)), T = static_cast<int>(x.size(2)),
            I = static_cast<int>(x.size(3)), H = hidden, D = bidirectional ? 2 : 1, P = G * D;
  const auto lists = weight_lists(weights);
  for (int kind = 0; kind < 4; ++kind)
    check_shape(static_cast<int>(lists[kind]->size()) == P,
                std::string("lstm: weights.") + kKinds[kind] + " must hold G*D = " + std::to_string(G) + "*" +
                    std::to_string(D) + " = " + std::to_string(P) +
                    " tensors (one per group and direction, index g*D + d) for x " + shape_str(x.shape()) +
                    (bidirectional ? ", bidirectional" : ", unidirectional") + "; got " +
                    std::to_string(lists[kind]->size()));
  const Shape expected[4] = {{4 * H, I}, {4 * H, H}, {4 * H}, {4 * H}};
  const char* expected_str[4] = {"(4*hidden, I)", "(4*hidden, hidden)", "(4*hidden)", "(4*hidden)"};
  for (int kind = 0; kind < 4; ++kind)
    for (int p = 0; p < P; ++p) {
      const Tensor& t = (*lists[kind])[p];
      if (!t.defined()) throw ShapeError("lstm: " + slot_name(kKinds[kind], p, D) + " is an undefined tensor");
      check_shape(t.shape() == expected[kind], "lstm: " + slot_name(kKinds[kind], p, D) + " must be " +
                                                   expected_str[kind] + " = " + shape_str(expected[kind]) +
                                                   " for hidden " + std::to_string(H) + " and x " +
                                                   shape_str(x.shape()) + ", got " + shape_str(t.shape()));
    }
  const Device dev = x.device();
  for (const auto* list : lists) check_devices("lstm", *list, dev);

  const k::LstmShape s{G, B, T, I, H, D};
  Tensor y = Tensor::empty({G, B, T, static_cast<int64_t>(D) * H}, dev);
  const k::LstmParams<float> params = params_of(weights);
  bool needs_grad = x.requires_grad();
  for (const auto* list : lists)
    for (const Tensor& t : *list) needs_grad = needs_grad || t.requires_grad();
  const bool record_graph = grad_enabled() && needs_grad;
  std::shared_ptr<float> ws = record_graph ? workspace(dev, k::lstm_workspace_size(s)) : nullptr;
  DC_KERNEL(dev, lstm_forward)(y.data(), ws.get(), x.data(), params, s);
  if (!record_graph) return y;
  auto node = std::make_shared<LstmNode>();
  node->x = x;
  node->w = weights;
  node->y = y.impl()->storage;
  node->ws = std::move(ws);
  node->s = s;
  record(y, node, {&x});
  for (const auto* list : lists)
    for (const Tensor& t : *list)
      if (t.requires_grad()) node->inputs.push_back(t.impl_ptr());
  return y;
}

}  // namespace dc
