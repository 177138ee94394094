// A training run's resumable state: <run>/train_state.safetensors, written atomically after
// every finished epoch by `deepchrome train` and read back by `train --resume` (and by the
// sweep for its interrupted runs), so a run killed at any point continues from its last
// finished epoch and ends with the same bytes as an uninterrupted run.
//
// One safetensors file, so that one rename publishes it whole:
//   weights.<param>      the parameters after the last finished epoch
//   best.<param>         the best-validation epoch's parameters
//   optimizer.<state>    the optimizer's state (Optimizer::state(): momentum, Adam moments)
//   best_test_prob_high  the best epoch's P(high) per test gene
// and in its metadata, "deepchrome.train_state": the counters (epochs done, forward and
// optimizer steps), the best-so-far metric, the epoch log, and the run's identity (its
// resolved config, thread count, device and a fingerprint of its data). Doubles are kept
// as JSON numbers, which round-trip exactly.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "io/formats/dataset.h"
#include "models/trainer.h"

namespace dc::io {

inline constexpr const char* kTrainStateFile = "train_state.safetensors";

// What must be the same for a checkpoint to continue a run: the run's resolved config
// (without the keys that cannot change its numbers: output_dir, data.root, data.cache,
// data.cache_dir, explain), the threads and device it trains with, and its data.
nlohmann::json run_identity(const nlohmann::json& resolved_config, int threads, const std::string& device,
                            const CellData& data);

// The differences between two identities as "train.lr: 0.01 in the checkpoint, 0.1 now"
// clauses, "; "-separated (empty when equal).
std::string describe_identity_mismatch(const nlohmann::json& saved, const nlohmann::json& now);

// The "threads" of the run that wrote the training state at `path` (from its identity), which
// a resumed run must train with; 0 when the file is missing, damaged or has none.
int train_state_threads(const std::string& path);

void save_train_state(const std::string& path, const TrainCheckpoint& state, const nlohmann::json& identity);

// Loads a state written by save_train_state. Throws dc::InputError naming the file when it
// is damaged or when its identity differs from `identity` (naming the keys that differ).
// Whether its tensors fit the model is checked by train_model (names and shapes).
TrainCheckpoint load_train_state(const std::string& path, const nlohmann::json& identity);

}  // namespace dc::io
