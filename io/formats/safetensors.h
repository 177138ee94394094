// The safetensors checkpoint format (what `safetensors.torch.load_file` reads):
//   8-byte little-endian header length N | N bytes of JSON header | raw tensor data.
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the data section) plus an optional "__metadata__" string map.
// We write and read F32 tensors. Every inconsistency in a file we read (truncated,
// header not JSON, offsets out of range or overlapping, size not matching the shape,
// unsupported dtype) is a dc::InputError naming the file and the tensor.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "models/model.h"

namespace dc::io {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Serialises to bytes (tensors in the given order) / writes atomically.
std::string safetensors_bytes(const std::vector<NamedTensor>& tensors, const std::map<std::string, std::string>& metadata);
void save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& source);
SafetensorsFile load_safetensors(const std::string& path);

// A model's parameters under their names; metadata records the model config.
void save_model_weights(const std::string& path, const Model& model, std::map<std::string, std::string> metadata = {});
// Copies the file's tensors into the model's parameters: every parameter must be present
// with its exact shape, and the file must hold no other tensors.
void load_model_weights(const std::string& path, Model& model);

}  // namespace dc::io
