#include "models/attentivechrome.h"

#include <functional>
#include <string>

#include "engine/autograd.h"
#include "kernels/base/error.h"
#include "engine/ops.h"
#include "engine/ops_attention.h"

namespace dc {
namespace {

// The one-logit head; "bce_after_sigmoid" is the official code's double sigmoid.
Head read_head(const nlohmann::json& config) {
  const std::string loss = config.at("loss").get<std::string>();
  if (loss == "bce") return {Head::Logit, false};
  if (loss == "bce_after_sigmoid") return {Head::Logit, true};
  throw InputError("model.loss: expected \"bce\" or \"bce_after_sigmoid\" (the official code's double sigmoid), got \"" + loss + "\"");
}

int positive(const nlohmann::json& config, const char* key) {
  const int v = config.at(key).get<int>();
  if (v < 1) throw InputError(std::string("model.") + key + ": must be >= 1, got " + std::to_string(v));
  return v;
}

float init_range(const nlohmann::json& config) {
  const float r = config.at("init_range").get<float>();
  if (!(r > 0)) throw InputError("model.init_range: must be > 0");
  return r;
}

// Registers the torch.nn.LSTM parameters of `groups` LSTMs named prefix(g) with
// `layers` layers: <prefix>.weight_ih_l<k>[_reverse], weight_hh, bias_ih, bias_hh.
using AddParameter = std::function<Tensor(const std::string&, const Shape&)>;

LstmStack make_lstm(const AddParameter& add, const std::vector<std::string>& prefixes, int input, int hidden, int layers,
                    bool bidirectional) {
  LstmStack s;
  s.hidden = hidden;
  s.layers = layers;
  s.bidirectional = bidirectional;
  const int D = bidirectional ? 2 : 1;
  for (int l = 0; l < layers; ++l) {
    LstmWeights w;
    const int in = l == 0 ? input : hidden * D;
    for (const auto& prefix : prefixes)
      for (int d = 0; d < D; ++d) {
        const std::string suffix = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
        w.w_ih.push_back(add(prefix + ".weight_ih" + suffix, {4 * hidden, in}));
        w.w_hh.push_back(add(prefix + ".weight_hh" + suffix, {4 * hidden, hidden}));
        w.b_ih.push_back(add(prefix + ".bias_ih" + suffix, {4 * hidden}));
        w.b_hh.push_back(add(prefix + ".bias_hh" + suffix, {4 * hidden}));
      }
    s.layer.push_back(std::move(w));
  }
  return s;
}

}  // namespace

Tensor LstmStack::forward(const Tensor& x) const {
  Tensor h = x;
  for (const auto& w : layer) h = lstm(h, w, hidden, bidirectional);
  return h;
}

// ---- AttentiveChrome -------------------------------------------------------------------

nlohmann::json AttentiveChrome::defaults() {
  return {{"name", "attentivechrome"}, {"bin_hidden", 32},      {"mark_hidden", 16}, {"bidirectional", true},
          {"layers", 1},               {"init_range", 0.1},     {"loss", "bce"}};
}

AttentiveChrome::AttentiveChrome(const nlohmann::json& config, uint64_t seed)
    : Model("attentivechrome", config, read_head(config)) {
  const int bin_hidden = positive(config, "bin_hidden"), mark_hidden = positive(config, "mark_hidden");
  const int layers = positive(config, "layers");
  const bool bidirectional = config.at("bidirectional").get<bool>();
  const float range = init_range(config);
  const int D = bidirectional ? 2 : 1;
  const AddParameter add = [&](const std::string& name, const Shape& shape) {
    return add_parameter(name, shape, -range, range, seed);
  };
  std::vector<std::string> bin_prefixes;
  for (int m = 0; m < kInputMarks; ++m) bin_prefixes.push_back("bin_lstm." + std::to_string(m));
  bins_ = make_lstm(add, bin_prefixes, 1, bin_hidden, layers, bidirectional);
  for (int m = 0; m < kInputMarks; ++m)
    bin_context_.push_back(add_parameter("bin_attention." + std::to_string(m) + ".context", {bin_hidden * D}, -range, range, seed));
  marks_ = make_lstm(add, {"mark_lstm"}, bin_hidden * D, mark_hidden, layers, bidirectional);
  mark_context_ = add_parameter("mark_attention.context", {mark_hidden * D}, -range, range, seed);
  out_w_ = add_parameter("out.weight", {1, mark_hidden * D}, -range, range, seed);
  out_b_ = add_parameter("out.bias", {1}, -range, range, seed);
}

ModelOutput AttentiveChrome::forward(const Tensor& x, bool, uint64_t) {
  const int64_t B = x.size(0);
  // (B, 5, 100) -> (5, B, 100, 1): one sequence per (mark, gene), input size 1.
  const Tensor xb = reshape(transpose(x, 0, 1), {kInputMarks, B, kInputBins, 1});
  const Tensor h = bins_.forward(xb);                               // (5, B, 100, 2H)
  const AttentionResult bin_att = attention_pool(h, bin_context_);  // (5, B, 2H), alpha (5, B, 100)
  const Tensor reps = reshape(transpose(bin_att.pooled, 0, 1), {1, B, kInputMarks, h.size(3)});
  const Tensor s = marks_.forward(reps);                            // (1, B, 5, 2H')
  const AttentionResult mark_att = attention_pool(s, {mark_context_});
  const Tensor final_rep = reshape(mark_att.pooled, {B, s.size(3)});
  ModelOutput out(linear(final_rep, out_w_, out_b_));  // (B, 1)
  NoGradGuard no_grad;
  out.bin_attention = transpose(bin_att.weights, 0, 1);              // (B, 5, 100)
  out.mark_attention = reshape(mark_att.weights, {B, kInputMarks});  // (B, 5)
  return out;
}

// ---- lstm / lstm-attn baselines --------------------------------------------------------

nlohmann::json LstmBaseline::defaults() {
  return {{"name", "lstm"}, {"hidden", 32}, {"bidirectional", true}, {"layers", 1}, {"init_range", 0.1}, {"loss", "bce"}};
}

nlohmann::json LstmAttnBaseline::defaults() {
  nlohmann::json d = LstmBaseline::defaults();
  d["name"] = "lstm-attn";
  return d;
}

LstmBaseline::LstmBaseline(const nlohmann::json& config, uint64_t seed, bool attention)
    : Model(attention ? "lstm-attn" : "lstm", config, read_head(config)), attention_pooling_(attention) {
  const int hidden = positive(config, "hidden"), layers = positive(config, "layers");
  const bool bidirectional = config.at("bidirectional").get<bool>();
  const float range = init_range(config);
  const int D = bidirectional ? 2 : 1;
  const AddParameter add = [&](const std::string& name, const Shape& shape) {
    return add_parameter(name, shape, -range, range, seed);
  };
  lstm_ = make_lstm(add, {"lstm"}, kInputMarks, hidden, layers, bidirectional);
  if (attention_pooling_) context_ = add_parameter("attention.context", {hidden * D}, -range, range, seed);
  out_w_ = add_parameter("out.weight", {1, hidden * D}, -range, range, seed);
  out_b_ = add_parameter("out.bias", {1}, -range, range, seed);
}

ModelOutput LstmBaseline::forward(const Tensor& x, bool, uint64_t) {
  const int64_t B = x.size(0);
  // (B, 5, 100) -> (1, B, 100, 5): the 5 marks are the features of each bin.
  const Tensor xs = reshape(transpose(x, 1, 2), {1, B, kInputBins, kInputMarks});
  const Tensor h = lstm_.forward(xs);  // (1, B, 100, D*H)
  const int64_t F = h.size(3), H = lstm_.hidden;
  Tensor rep, bins;
  if (attention_pooling_) {
    const AttentionResult att = attention_pool(h, {context_});
    rep = reshape(att.pooled, {B, F});
    NoGradGuard no_grad;
    bins = reshape(att.weights, {B, 1, kInputBins});
  } else {
    // The final states: forward after the last bin, reverse after the first.
    const Tensor fwd = slice(slice(h, 2, kInputBins - 1, kInputBins), 3, 0, H);
    rep = fwd;
    if (lstm_.bidirectional) rep = concat({fwd, slice(slice(h, 2, 0, 1), 3, H, 2 * H)}, 3);
    rep = reshape(rep, {B, F});
  }
  return ModelOutput(linear(rep, out_w_, out_b_), bins);
}

}  // namespace dc
