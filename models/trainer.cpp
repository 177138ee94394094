#include "models/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <numeric>
#include <string>

#include "engine/autograd.h"
#include "engine/running_sum.h"
#include "kernels/base/error.h"
#include "kernels/base/philox.h"
#include "models/metrics.h"

namespace dc {
namespace {

constexpr int64_t kExample = int64_t{kInputMarks} * kInputBins;
constexpr uint64_t kShuffleStream = 0x5348554646ull;  // "SHUFF": per-epoch permutations

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::unique_ptr<Optimizer> make_optimizer(const std::vector<Parameter>& params, const TrainOptions& o) {
  if (o.optimizer == "sgd") {
    // Nothing reads the gradients between backward() and step() unless they are clipped.
    return std::make_unique<Sgd>(params, SgdOptions{o.lr, o.lr_decay, o.momentum, o.weight_decay, o.clip_grad_norm <= 0});
  }
  if (o.optimizer == "adam")
    return std::make_unique<Adam>(params, AdamOptions{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay});
  throw InputError("train.optimizer: unknown optimizer '" + o.optimizer + "' (known: sgd, adam)");
}

// Fisher-Yates with the counter-based RNG: the permutation depends only on (seed, epoch).
std::vector<size_t> epoch_order(size_t n, uint64_t seed, int epoch) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  CounterRng rng(seed, kShuffleStream + static_cast<uint64_t>(epoch));
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  return order;
}

std::vector<int8_t> labels_of(const DataView& d) { return std::vector<int8_t>(d.labels, d.labels + d.n); }

// The model's input for a host batch: the batch itself on the CPU, else one copy.
Tensor on_device(const Tensor& host, Device device) { return device == Device::CPU ? host : host.to(device); }

// "conv.weight (gradient, element 12 of 2500: nan)" for the first parameter whose weights
// (or gradients) hold a non-finite value, "" when all are finite. Runs only once a run has
// diverged, so it may copy each tensor to the host.
std::string first_non_finite(const std::vector<Parameter>& params, bool gradients) {
  for (const auto& p : params) {
    const Tensor t = gradients ? p.tensor.grad() : p.tensor;
    if (!t.defined()) continue;
    const std::vector<float> v = t.to_vector();
    for (size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i]))
        return p.name + " (" + (gradients ? "gradient" : "weights") + ", element " + std::to_string(i) + " of " +
               std::to_string(v.size()) + ": " + (std::isnan(v[i]) ? "nan" : v[i] > 0 ? "inf" : "-inf") + ")";
  }
  return "";
}

// The diverged run's message: where (epoch, batch), what (loss or gradient norm), and the
// first parameter holding a non-finite value. `loss` is the batch's graph when the loss is
// what went wrong and the weights are all finite: its backward then shows which gradient
// is non-finite.
[[noreturn]] void throw_diverged(const std::string& what, int epoch, const std::string& batches, Model& model,
                                 Tensor* loss, int64_t updates) {
  std::string culprit = first_non_finite(model.parameters(), false), when;
  if (!culprit.empty()) {
    when = updates > 0 ? ", made non-finite by an earlier update" : ", before any update";
  } else {
    if (loss) {
      try {
        loss->backward();
      } catch (const std::exception&) {  // the diagnosis must not hide the divergence
      }
    }
    culprit = first_non_finite(model.parameters(), true);
  }
  throw Error("training diverged at epoch " + std::to_string(epoch) + ", " + batches + ": " + what + "; " +
              (culprit.empty() ? std::string("every weight and gradient is finite")
                               : "the first parameter holding a non-finite value is " + culprit + when) +
              " (try a smaller train.lr, or train.clip_grad_norm)");
}

std::string value_text(double v) { return std::isnan(v) ? "NaN" : "infinite"; }

// Host copies (on the CPU: the tensors themselves) of named tensors, for a checkpoint.
std::vector<Parameter> host_view(const std::vector<Parameter>& params) {
  std::vector<Parameter> out;
  out.reserve(params.size());
  for (const auto& p : params) out.push_back({p.name, p.tensor.to(Device::CPU)});
  return out;
}

// Copies `from` into `into` by name; both sets must have the same names and shapes.
void restore(const std::vector<Parameter>& into, const std::vector<Parameter>& from, const char* what) {
  const std::string diff = describe_tensor_mismatch(into, from);
  if (!diff.empty()) throw InputError(std::string("the checkpoint's ") + what + " do not fit this run: " + diff);
  std::map<std::string, const Tensor*> by_name;
  for (const auto& f : from) by_name[f.name] = &f.tensor;
  for (const auto& p : into) {
    Tensor target = p.tensor;  // a handle to the live tensor
    target.copy_from(*by_name.at(p.name));
  }
}

}  // namespace

void gather_batch(const DataView& data, const size_t* index, size_t count, Tensor& x, Tensor& labels) {
  if (!x.defined() || x.size(0) != static_cast<int64_t>(count)) {
    x = Tensor::empty({static_cast<int64_t>(count), kInputMarks, kInputBins});
    labels = Tensor::empty({static_cast<int64_t>(count)});
  }
  for (size_t i = 0; i < count; ++i) {
    std::memcpy(x.data() + i * kExample, data.x + index[i] * kExample, kExample * sizeof(float));
    labels.data()[i] = data.labels ? static_cast<float>(data.labels[index[i]]) : 0.0f;
  }
}

std::vector<float> predict(Model& model, const DataView& data, int batch_size) {
  NoGradGuard no_grad;
  std::vector<float> out;
  out.reserve(data.n);
  std::vector<size_t> index(data.n);
  std::iota(index.begin(), index.end(), size_t{0});
  Tensor x, labels;
  const Device device = model.device();
  for (size_t b = 0; b < data.n; b += static_cast<size_t>(batch_size)) {
    const size_t count = std::min(static_cast<size_t>(batch_size), data.n - b);
    gather_batch(data, index.data() + b, count, x, labels);
    const std::vector<float> p = model.prob_high(model.forward(on_device(x, device), false, 0).output);
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

AttentionExport collect_attention(Model& model, const DataView& data, int batch_size) {
  NoGradGuard no_grad;
  AttentionExport out;
  std::vector<size_t> index(data.n);
  std::iota(index.begin(), index.end(), size_t{0});
  Tensor x, labels;
  const Device device = model.device();
  for (size_t b = 0; b < data.n; b += static_cast<size_t>(batch_size)) {
    const size_t count = std::min(static_cast<size_t>(batch_size), data.n - b);
    gather_batch(data, index.data() + b, count, x, labels);
    const ModelOutput o = model.forward(on_device(x, device), false, 0);
    if (!o.bin_attention.defined()) return {};
    out.available = true;
    out.rows = static_cast<int>(o.bin_attention.size(1));
    const std::vector<float> bins = o.bin_attention.to_vector();  // on CUDA: the batch's one copy back per map
    out.bins.insert(out.bins.end(), bins.begin(), bins.end());
    if (o.mark_attention.defined()) {
      const std::vector<float> marks = o.mark_attention.to_vector();
      out.marks.insert(out.marks.end(), marks.begin(), marks.end());
    }
  }
  return out;
}

TrainResult train_model(Model& model, const DataView& train, const DataView& valid, const DataView& test,
                        const TrainOptions& o, const TrainCallbacks& callbacks, const TrainCheckpoint* resume) {
  if (train.n == 0) throw InputError("training split is empty");
  if (o.batch_size < 1 || o.epochs < 1) throw InputError("train.batch_size and train.epochs must be >= 1");
  const Device device = o.device;
  if (model.device() != device) model.to(device);  // before the optimizer: its state follows
  std::unique_ptr<Optimizer> opt = make_optimizer(model.parameters(), o);
  const std::vector<int8_t> valid_labels = labels_of(valid), test_labels = labels_of(test);

  TrainResult result;
  std::vector<Tensor> best;  // snapshot of the best epoch's parameters
  double best_valid = -1;
  int since_best = 0;
  uint64_t step = 0;
  int first_epoch = 1;
  if (resume) {
    restore(model.parameters(), resume->weights, "weights");
    restore(opt->state(), resume->optimizer_state, "optimizer state");
    if (!resume->best.empty()) {
      const std::string diff = describe_tensor_mismatch(model.parameters(), resume->best);
      if (!diff.empty()) throw InputError("the checkpoint's best-epoch weights do not fit this run: " + diff);
      for (const auto& p : model.parameters())
        for (const auto& r : resume->best)
          if (r.name == p.name) best.push_back(r.tensor.to(device).clone());
    }
    opt->set_steps(resume->optimizer_steps);
    step = resume->forward_steps;
    best_valid = resume->best_valid;
    since_best = resume->since_best;
    result = resume->result;
    first_epoch = resume->epochs_done + 1;
  }
  const size_t bs = static_cast<size_t>(o.batch_size);
  const int batches = static_cast<int>((train.n + bs - 1) / bs);
  Tensor x, labels;
  // The loss stays on the device; it is read back (which waits for the device) every
  // `read_interval` batches: every batch on the CPU, where reading costs nothing.
  RunningSum loss_sum(device);
  const int read_interval = device == Device::CPU ? 1 : kLossReadInterval;

  for (int epoch = first_epoch; epoch <= o.epochs && !(o.patience > 0 && since_best >= o.patience); ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<size_t> order = epoch_order(train.n, o.seed, epoch);
    loss_sum.reset();
    double epoch_loss = 0;
    int last_read = 0;  // batches whose loss was read back so far
    for (int b = 0; b < batches; ++b) {
      const size_t start = static_cast<size_t>(b) * bs, count = std::min(bs, train.n - start);
      gather_batch(train, order.data() + start, count, x, labels);
      opt->zero_grad();
      Tensor loss = model.loss(model.forward(on_device(x, device), true, step++).output, on_device(labels, device));
      loss_sum.add(loss, static_cast<double>(count));
      if ((b + 1) % read_interval == 0 || b + 1 == batches) {  // checked before the step can spread a NaN
        epoch_loss = loss_sum.read();
        if (!std::isfinite(epoch_loss))
          throw_diverged("the loss is " + value_text(epoch_loss), epoch,
                         b == last_read ? "batch " + std::to_string(b + 1)
                                        : "batches " + std::to_string(last_read + 1) + "-" + std::to_string(b + 1),
                         model, b == last_read ? &loss : nullptr, opt->steps());
        last_read = b + 1;
        if (callbacks.on_batch) callbacks.on_batch(epoch, b + 1, batches, epoch_loss / static_cast<double>(start + count));
      }
      loss.backward();
      if (o.clip_grad_norm > 0) {
        if (device == Device::CPU) {  // the norm is on the host anyway: a non-finite one stops here
          double norm = 0;
          try {
            norm = clip_grad_norm(model.parameters(), o.clip_grad_norm);
          } catch (const Error&) {
            norm = std::nan("");
          }
          if (!std::isfinite(norm))
            throw_diverged("the gradient norm is not finite", epoch, "batch " + std::to_string(b + 1), model, nullptr,
                           opt->steps());
        } else {
          clip_grad_norm_no_sync(model.parameters(), o.clip_grad_norm);
        }
      }
      opt->step();
    }
    EpochRecord rec;
    rec.epoch = epoch;
    rec.seconds = seconds_since(t0);
    rec.train_loss = epoch_loss / static_cast<double>(train.n);
    result.train_seconds += rec.seconds;

    const std::vector<float> pv = predict(model, valid), pt = predict(model, test);
    rec.valid_auroc = auroc(pv, valid_labels);
    rec.valid_aupr = aupr(pv, valid_labels);
    rec.test_auroc = auroc(pt, test_labels);
    rec.test_aupr = aupr(pt, test_labels);
    result.epochs.push_back(rec);

    if (rec.valid_auroc > best_valid) {
      best_valid = rec.valid_auroc;
      since_best = 0;
      best.clear();
      for (const auto& p : model.parameters()) best.push_back(p.tensor.clone());
      result.best_epoch = epoch;
      result.valid_auroc = rec.valid_auroc;
      result.valid_aupr = rec.valid_aupr;
      result.test_auroc = rec.test_auroc;
      result.test_aupr = rec.test_aupr;
      result.test_prob_high = pt;
    } else {
      ++since_best;
    }
    if (callbacks.on_epoch) callbacks.on_epoch(rec);
    if (callbacks.on_checkpoint) {
      TrainCheckpoint c;
      c.epochs_done = epoch;
      c.forward_steps = step;
      c.optimizer_steps = opt->steps();
      c.best_valid = best_valid;
      c.since_best = since_best;
      c.result = result;
      c.weights = host_view(model.parameters());
      for (size_t i = 0; i < best.size(); ++i) c.best.push_back({model.parameters()[i].name, best[i].to(Device::CPU)});
      c.optimizer_state = host_view(opt->state());
      callbacks.on_checkpoint(c);
    }
  }
  for (size_t i = 0; i < best.size(); ++i) model.parameters()[i].tensor.copy_from(best[i]);
  return result;
}

}  // namespace dc
