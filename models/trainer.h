// The training loop: shuffled mini-batches each epoch, an optimizer step per batch,
// valid/test AUROC and AUPR after every epoch, the best-validation epoch's weights kept.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/data_view.h"
#include "engine/optim.h"
#include "models/model.h"

namespace dc {

struct TrainOptions {
  std::string optimizer = "sgd";  // "sgd" | "adam"
  double lr = 1e-3, lr_decay = 0, momentum = 0, weight_decay = 0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double clip_grad_norm = 0;  // 0: off
  int batch_size = 1, epochs = 1, patience = 0;  // patience 0: never stop early
  uint64_t seed = 1;
  // Where the model trains: train_model moves it there first (and leaves it there). On
  // CUDA each batch is gathered on the host and copied in once (x and labels); forward,
  // backward, clipping and the optimizer step stay on the device, and the loss is read
  // back every kLossReadInterval batches and at the end of the epoch.
  Device device = Device::CPU;
};

// On CUDA, how many batches pass between reads of the running training loss (each read
// waits for the device); on_batch is called at those reads only.
inline constexpr int kLossReadInterval = 64;

struct EpochRecord {
  int epoch = 0;  // 1-based
  double train_loss = 0, valid_auroc = 0, valid_aupr = 0, test_auroc = 0, test_aupr = 0;
  double seconds = 0;  // training time of this epoch (evaluation excluded)
};

struct TrainResult {
  std::vector<EpochRecord> epochs;
  int best_epoch = 0;
  double valid_auroc = 0, valid_aupr = 0, test_auroc = 0, test_aupr = 0;
  double train_seconds = 0;
  std::vector<float> test_prob_high;  // the best epoch's P(high) per test gene
};

// Everything a run needs to continue after a finished epoch exactly as if it had never
// stopped: written by the CLI after every epoch (io/experiment/train_state.h) and handed
// back to train_model to resume. The counter-based RNGs make the "RNG position" two
// counters: the shuffle depends on (seed, epoch) and dropout on (seed, forward step).
// Tensors are host tensors, in model.parameters() order where they are per parameter.
struct TrainCheckpoint {
  int epochs_done = 0;         // finished epochs (1-based epoch numbers run 1..epochs_done)
  uint64_t forward_steps = 0;  // training forward passes so far (dropout's RNG position)
  int64_t optimizer_steps = 0;
  double best_valid = -1;      // best validation AUROC so far (-1: none yet)
  int since_best = 0;          // epochs since the best one (patience)
  TrainResult result;          // the epoch log, the best epoch's metrics and test P(high)
  std::vector<Parameter> weights;          // the parameters after the last finished epoch
  std::vector<Parameter> best;             // the best epoch's parameters
  std::vector<Parameter> optimizer_state;  // Optimizer::state(), same names
};

struct TrainCallbacks {
  // After each batch (on CUDA: after each read of the loss, see kLossReadInterval):
  // epoch (1-based), batches done, batches in the epoch, mean loss so far.
  std::function<void(int, int, int, double)> on_batch;
  std::function<void(const EpochRecord&)> on_epoch;
  // After each finished epoch (after on_epoch): the state to save for a resume. When set,
  // the trainer copies its state to the host once per epoch to make it.
  std::function<void(const TrainCheckpoint&)> on_checkpoint;
};

// Trains `model` in place on options.device; on return its parameters hold the
// best-validation epoch's weights and stay on that device. With `resume` (a checkpoint of
// the same model, data and options) it continues after resume->epochs_done and returns
// what the uninterrupted run would have, bit for bit (timings aside); a checkpoint whose
// tensors do not fit the model or optimizer throws dc::InputError naming them.
//
// NaN/Inf guard: the loss is checked every batch (on CUDA at every read, see
// kLossReadInterval). When it is not finite, the parameters are scanned (weights first;
// when all are finite, the batch's gradients) and dc::Error names the epoch, the batch and
// the first parameter holding a non-finite value. With clip_grad_norm on the CPU a
// non-finite gradient norm is caught the same way before the step spreads it.
TrainResult train_model(Model& model, const DataView& train, const DataView& valid, const DataView& test,
                        const TrainOptions& options, const TrainCallbacks& callbacks = {},
                        const TrainCheckpoint* resume = nullptr);

// P(high) for every example, in batches, without recording a graph, on the model's
// device (each batch copied in, its probabilities copied back).
std::vector<float> predict(Model& model, const DataView& data, int batch_size = 256);

// The attention a model pays on each example of `data` (eval mode, no graph), for models
// that have attention (ModelOutput's maps); `available` is false otherwise.
//   bins : n * rows * 100 values — rows = 5 (one distribution per mark) or 1
//   marks: n * 5 values, empty when the model has no mark-level attention
struct AttentionExport {
  bool available = false;
  int rows = 0;
  std::vector<float> bins, marks;
};
AttentionExport collect_attention(Model& model, const DataView& data, int batch_size = 256);

// Copies examples `index[0..count)` of `data` into x (count, 5, 100) and labels (count),
// host tensors (reallocated when count changes).
void gather_batch(const DataView& data, const size_t* index, size_t count, Tensor& x, Tensor& labels);

}  // namespace dc
