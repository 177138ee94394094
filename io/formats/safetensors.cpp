#include "io/formats/safetensors.h"

#include <algorithm>
#include <limits>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "kernels/base/error.h"
#include "io/formats/atomic_file.h"

namespace dc::io {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxHeader = 100u << 20;  // 100 MB, as the reference implementation

void put_u64_le(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_u64_le(const std::string& s) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

}  // namespace

std::string safetensors_bytes(const std::vector<NamedTensor>& tensors, const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__") throw Error("safetensors: invalid tensor name '" + t.name + "'");
    if (header.contains(t.name)) throw Error("safetensors: duplicate tensor name '" + t.name + "'");
    const uint64_t bytes = static_cast<uint64_t>(t.tensor.numel()) * sizeof(float);
    header[t.name] = {{"dtype", "F32"}, {"shape", t.tensor.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string h = header.dump();
  while (h.size() % 8) h.push_back(' ');
  std::string out;
  out.reserve(8 + h.size() + offset);
  put_u64_le(out, h.size());
  out += h;
  static_assert(sizeof(float) == 4);
  for (const auto& t : tensors) {
    // Little-endian hosts only (x86-64, aarch64): the floats are written as they are in memory.
    out.append(reinterpret_cast<const char*>(t.tensor.data()), static_cast<size_t>(t.tensor.numel()) * sizeof(float));
  }
  return out;
}

void save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, safetensors_bytes(tensors, metadata));
}

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& source) {
  auto fail = [&](const std::string& what) -> InputError {
    return InputError(source + ": not a valid safetensors file: " + what);
  };
  if (bytes.size() < 8) throw fail("file too short (" + std::to_string(bytes.size()) + " bytes)");
  const uint64_t n = get_u64_le(bytes);
  if (n > kMaxHeader || n > bytes.size() - 8)
    throw fail("header length " + std::to_string(n) + " exceeds the file size " + std::to_string(bytes.size()));
  json header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n), nullptr, false);
  if (header.is_discarded() || !header.is_object()) throw fail("the header is not a JSON object");
  const uint64_t data_size = bytes.size() - 8 - n;
  const char* data = bytes.data() + 8 + n;

  SafetensorsFile file;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) throw fail("__metadata__ is not an object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) throw fail("__metadata__." + m.key() + " is not a string");
        file.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (it.key().empty()) throw fail("a tensor has an empty name");  // (nothing could look it up; we never write one)
    const std::string where = "tensor '" + it.key() + "'";
    const json& e = it.value();
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      throw fail(where + ": needs dtype, shape and data_offsets");
    if (!e["dtype"].is_string()) throw fail(where + ": dtype is not a string");
    if (e["dtype"] != "F32") throw fail(where + ": dtype " + e["dtype"].get<std::string>() + " is not supported (only F32)");
    Shape shape;
    if (!e["shape"].is_array()) throw fail(where + ": shape is not a list");
    for (const auto& d : e["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (1ull << 40)) throw fail(where + ": bad shape " + e["shape"].dump());
      shape.push_back(d.get<int64_t>());
    }
    const json& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw fail(where + ": data_offsets must be two non-negative integers");
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end || end > data_size)
      throw fail(where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                 "] outside the data section of " + std::to_string(data_size) + " bytes (truncated file?)");
    // The element count, without overflow: dims are at most 2^40 each, their product is not
    // bounded. A shape whose non-zero dims multiply past 2^64 bytes is refused (a zero dim
    // would make it empty, but no tensor of ours has such a shape, and code that walks the
    // dims, shape_numel included, must not meet one).
    uint64_t numel = 1, nonzero = 1;
    for (const int64_t d : shape) {
      if (d == 0) {
        numel = 0;
        continue;
      }
      if (nonzero > std::numeric_limits<uint64_t>::max() / 4 / static_cast<uint64_t>(d))
        throw fail(where + ": shape " + shape_str(shape) + " has more elements than any file can hold");
      nonzero *= static_cast<uint64_t>(d);
    }
    if (numel) numel = nonzero;
    if (end - begin != numel * 4)
      throw fail(where + ": " + std::to_string(end - begin) + " bytes do not match shape " + shape_str(shape));
    ranges.push_back({begin, end});
    Tensor t = Tensor::empty(shape);
    if (numel) std::memcpy(t.data(), data + begin, numel * 4);
    file.tensors.emplace(it.key(), t);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second) throw fail("two tensors' data overlap");
  return file;
}

SafetensorsFile load_safetensors(const std::string& path) { return parse_safetensors(read_file(path), path); }

void save_model_weights(const std::string& path, const Model& model, std::map<std::string, std::string> metadata) {
  std::vector<NamedTensor> tensors;
  for (const auto& p : model.parameters()) tensors.push_back({p.name, p.tensor});
  metadata["format"] = "pt";
  metadata["deepchrome.model"] = model.config().dump();
  save_safetensors(path, tensors, metadata);
}

void load_model_weights(const std::string& path, Model& model) {
  SafetensorsFile file = load_safetensors(path);
  std::vector<Parameter> found;
  for (const auto& [name, t] : file.tensors) found.push_back({name, t});
  const std::string diff = describe_tensor_mismatch(model.parameters(), found);
  if (!diff.empty())
    throw InputError(path + ": the tensors do not match model '" + model.name() + "' of the config (" + diff + ")");
  for (auto& p : model.parameters()) p.tensor.copy_from(file.tensors.at(p.name));
}

}  // namespace dc::io
