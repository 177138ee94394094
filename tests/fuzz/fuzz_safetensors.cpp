// Fuzz target: the safetensors reader (io/formats/safetensors.h, parse_safetensors).
// Input: the file's bytes. A parsed file is written back and parsed again: the same names,
// shapes and values must come back (the writer and reader agree on everything they accept).
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "io/formats/safetensors.h"
#include "kernels/base/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(dc::fuzz::as_text(data, size));
  dc::io::SafetensorsFile file;
  try {
    file = dc::io::parse_safetensors(bytes, "fuzz.safetensors");
  } catch (const dc::InputError&) {
    return 0;
  }
  std::vector<dc::io::NamedTensor> named;
  for (const auto& [name, tensor] : file.tensors) named.push_back({name, tensor});
  const dc::io::SafetensorsFile again = dc::io::parse_safetensors(dc::io::safetensors_bytes(named, file.metadata), "again");
  if (again.tensors.size() != file.tensors.size() || again.metadata != file.metadata) std::abort();
  for (const auto& [name, tensor] : file.tensors) {
    const auto it = again.tensors.find(name);
    if (it == again.tensors.end() || it->second.shape() != tensor.shape()) std::abort();
    const std::vector<float> a = tensor.to_vector(), b = it->second.to_vector();
    if (a.size() != b.size() || (!a.empty() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) != 0)) std::abort();
  }
  return 0;
}
