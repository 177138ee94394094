// AttentiveChrome (Singh et al., NeurIPS 2017), per the official PyTorch code (SPEC.md):
//   for each mark m: bin_lstm.{m} bi-LSTM(1 -> 32) over the 100 bins -> h (100, 64);
//                    bin attention, context bin_attention.{m}.context (64): alpha_m (100),
//                    rep_m = sum_t alpha_t h_t (64)
//   mark_lstm bi-LSTM(64 -> 16) over the 5 reps -> s (5, 32); mark attention with
//   mark_attention.context (32): beta (5), final = sum_m beta_m s_m
//   out Linear(32 -> 1) -> logit; BCE on the logit. All parameters U(-0.1, 0.1).
// The five marks' bin-level LSTMs (both directions) run as one batched LSTM call.
//
// Baselines of the paper's comparison table, from the same ops:
//   lstm      : bi-LSTM(5 -> 32) over the bins (marks as features); [forward h_100,
//               reverse h_1] -> out Linear(64 -> 1)
//   lstm-attn : the same bi-LSTM, one attention over the bins -> out Linear(64 -> 1)
#pragma once

#include "engine/ops_rnn.h"
#include "models/model.h"

namespace dc {

// One (possibly stacked, possibly bidirectional) LSTM over G groups, torch-named.
struct LstmStack {
  int hidden = 0, layers = 1;
  bool bidirectional = true;
  std::vector<LstmWeights> layer;  // per layer: G * D tensors each
  Tensor forward(const Tensor& x) const;  // (G, B, T, I) -> (G, B, T, D*hidden)
  int output_size() const { return hidden * (bidirectional ? 2 : 1); }
};

class AttentiveChrome : public Model {
 public:
  static nlohmann::json defaults();
  AttentiveChrome(const nlohmann::json& config, uint64_t seed);
  ModelOutput forward(const Tensor& x, bool training, uint64_t step) override;

 private:
  LstmStack bins_, marks_;
  std::vector<Tensor> bin_context_;
  Tensor mark_context_, out_w_, out_b_;
};

class LstmBaseline : public Model {
 public:
  static nlohmann::json defaults();
  LstmBaseline(const nlohmann::json& config, uint64_t seed) : LstmBaseline(config, seed, false) {}
  ModelOutput forward(const Tensor& x, bool training, uint64_t step) override;

 protected:
  LstmBaseline(const nlohmann::json& config, uint64_t seed, bool attention);

 private:
  bool attention_pooling_;
  LstmStack lstm_;
  Tensor context_, out_w_, out_b_;
};

class LstmAttnBaseline : public LstmBaseline {
 public:
  static nlohmann::json defaults();
  LstmAttnBaseline(const nlohmann::json& config, uint64_t seed) : LstmBaseline(config, seed, true) {}
};

}  // namespace dc
