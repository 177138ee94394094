// safetensors: round trip, the byte layout, compatibility with the Python writer's files,
// and clear errors for every kind of corrupt checkpoint.
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "kernels/base/error.h"
#include "io/formats/safetensors.h"
#include "models/model.h"
#include "models/registry.h"

using namespace dc;

namespace {

std::string error_of(const std::string& bytes) {
  try {
    io::parse_safetensors(bytes, "ck.safetensors");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

std::string with_header(const std::string& header, size_t data_bytes) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + std::string(data_bytes, '\0');
}

}  // namespace

TEST_CASE("round trip keeps names, shapes, values and metadata") {
  Tensor a = Tensor::from_vector({2, 3}, {1, -2, 3.5f, 4, 5, 6e-8f});
  Tensor b = Tensor::from_vector({4}, {0, 1, 2, 3});
  Tensor s = Tensor::from_vector({}, {7});
  const std::string bytes = io::safetensors_bytes({{"a", a}, {"b.c", b}, {"s", s}}, {{"k", "v"}});
  CHECK((bytes.size() - 11 * 4) % 8 == 0);  // 8-byte length + header padded to 8, then 11 floats
  const io::SafetensorsFile f = io::parse_safetensors(bytes, "mem");
  REQUIRE(f.tensors.size() == 3);
  CHECK(f.tensors.at("a").shape() == Shape{2, 3});
  CHECK(f.tensors.at("a").to_vector() == a.to_vector());
  CHECK(f.tensors.at("b.c").to_vector() == b.to_vector());
  CHECK(f.tensors.at("s").shape().empty());
  CHECK(f.metadata.at("k") == "v");
}

TEST_CASE("reads files written by tools/safetensors_io.py") {
  const io::SafetensorsFile f = io::load_safetensors(std::string(DC_TEST_DATA_DIR) + "/fixtures/linear.safetensors");
  CHECK(f.tensors.at("param.fc.weight").shape() == Shape{2, 500});
  CHECK(f.tensors.at("input.x").shape() == Shape{4, 5, 100});
  CHECK(f.metadata.at("model") == "linear");
}

namespace {
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
std::string error_of_load(const std::string& path, Model& model) {
  try {
    io::load_model_weights(path, model);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST_CASE("model weights: save, load, and mismatches named") {
  const std::string path = std::string(DC_BINARY_DIR) + "/test_weights.safetensors";
  auto a = create_model(model_defaults("mlp"), 1), b = create_model(model_defaults("mlp"), 2);
  io::save_model_weights(path, *a);
  io::load_model_weights(path, *b);
  for (size_t i = 0; i < a->parameters().size(); ++i)
    CHECK(a->parameters()[i].tensor.to_vector() == b->parameters()[i].tensor.to_vector());
  const io::SafetensorsFile f = io::load_safetensors(path);
  CHECK(f.metadata.count("deepchrome.model") == 1);
  auto other = create_model(model_defaults("linear"), 1);
  // Every difference is named, with shapes: missing, unexpected, and mis-shaped tensors.
  const std::string wrong_model = error_of_load(path, *other);
  CHECK(contains(wrong_model, path + ": the tensors do not match model 'linear' of the config"));
  CHECK(contains(wrong_model, "missing fc.weight (2, 500)"));
  CHECK(contains(wrong_model, "missing fc.bias (2,)"));
  CHECK(contains(wrong_model, "unexpected fc1.weight (250, 500)"));
  CHECK(contains(wrong_model, "unexpected out.bias (2,)"));
  nlohmann::json cfg = model_defaults("mlp");
  cfg["hidden"] = {100};
  auto smaller = create_model(cfg, 1);
  const std::string wrong_size = error_of_load(path, *smaller);
  CHECK(contains(wrong_size, "fc1.weight has shape (250, 500) in the checkpoint, (100, 500) in the model"));
  CHECK(contains(wrong_size, "fc1.bias has shape (250,) in the checkpoint, (100,) in the model"));
  CHECK(contains(wrong_size, "out.weight has shape (2, 250) in the checkpoint, (2, 100) in the model"));
  CHECK(!contains(wrong_size, "out.bias"));  // it fits
  // The model is untouched by a refused load.
  CHECK(smaller->parameters()[0].tensor.to_vector() == create_model(cfg, 1)->parameters()[0].tensor.to_vector());
}

TEST_CASE("corrupt files are InputErrors naming the file and the problem") {
  CHECK(error_of("").find("ck.safetensors: not a valid safetensors file: file too short") != std::string::npos);
  CHECK(error_of(std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}").find("header length") != std::string::npos);
  CHECK(error_of(with_header("{not json}", 0)).find("not a JSON object") != std::string::npos);
  CHECK(error_of(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4)).find("truncated") != std::string::npos);
  CHECK(error_of(with_header(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)).find("do not match shape (3,)") !=
        std::string::npos);
  CHECK(error_of(with_header(R"({"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", 8)).find("F16 is not supported") !=
        std::string::npos);
  CHECK(error_of(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12))
            .find("overlap") != std::string::npos);
  CHECK(error_of(with_header(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8)).find("bad shape") != std::string::npos);
  CHECK(error_of(with_header(R"({"a":{"shape":[2]}})", 8)).find("needs dtype") != std::string::npos);
  // A truncated copy of a real checkpoint.
  auto m = create_model(model_defaults("linear"), 1);
  std::vector<io::NamedTensor> t;
  for (const auto& p : m->parameters()) t.push_back({p.name, p.tensor});
  const std::string good = io::safetensors_bytes(t, {});
  CHECK(error_of(good.substr(0, good.size() - 10)).find("outside the data section") != std::string::npos);
  CHECK_THROWS_WITH_AS(io::load_safetensors("/nonexistent/model.safetensors"), doctest::Contains("/nonexistent/model.safetensors"),
                       InputError);
}
