// Inputs the fuzz targets of tests/fuzz/ found to crash a parser (or to make it throw something
// other than dc::InputError), kept as regular test cases once fixed. The inputs themselves
// are tests/data/fuzz/<target>/crash-<sha1>, fed exactly as the fuzz target lays them out
// (see its opening comment); each case also spells the problem out by hand. Every one must
// now get the clear error bad input gets.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kernels/base/error.h"
#include "io/experiment/config.h"
#include "io/formats/safetensors.h"

using namespace dc;

namespace {

std::string scratch_file(const std::string& name, const std::string& bytes) {
  const std::string dir = std::string(DC_BINARY_DIR) + "/test_tmp/io_fuzz_findings";
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  REQUIRE(out.good());
  return path;
}

// The bytes of a crash input the fuzzer found, tests/data/fuzz/<target>/<name>.
std::string fuzz_input(const std::string& target, const std::string& name) {
  const std::string path = std::string(DC_TEST_DATA_DIR) + "/fuzz/" + target + "/" + name;
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// fuzz_config's layout: the JSON file, then `--set` assignments each after a NUL byte.
// Returns the InputError's message, or "" when the config loaded.
std::string config_error(const std::string& input) {
  const size_t nul = input.find('\0');
  const std::string path = scratch_file("config.json", input.substr(0, nul));
  std::vector<std::string> overrides;
  for (size_t at = nul; at != std::string::npos;) {
    const size_t next = input.find('\0', at + 1);
    overrides.push_back(input.substr(at + 1, next == std::string::npos ? next : next - at - 1));
    at = next;
  }
  try {
    io::load_config(path, overrides);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("fuzz_config: a --set value that is not UTF-8 is an input error, not a JSON serialiser exception") {
  // crash-a05f664f: nlohmann::json threw type_error 316 while quoting the value in the
  // "expected a number" message (and would have again writing config.json).
  using namespace std::string_literals;
  const std::string crash = fuzz_input("config", "crash-a05f664f665bc8c28233be5642ce54f2b0386701");
  CHECK(crash == "{}\0model.name=mlKp\0model.hidden=[16,8]\0train.lr=\xff\xff\xff|0.5\0device=cuda"s);
  CHECK(config_error(crash).find("not valid UTF-8") != std::string::npos);
  CHECK(config_error("{}\0train.lr=\xff"s).find("train.lr") != std::string::npos);
  CHECK(config_error("{}\0output_dir=runs/\xc3"s).find("not valid UTF-8") != std::string::npos);
  CHECK(config_error("{}\0\xfe=1"s).find("not valid UTF-8") != std::string::npos);
  CHECK(config_error("{}\0output_dir=runs/\xc3\xa9t\xc3\xa9"s) == "");  // valid UTF-8 is fine
}

TEST_CASE("fuzz_config: a number too large for a double is an input error naming the file") {
  // crash-ad6156ee: nlohmann::json throws out_of_range 406 (not parse_error) for it, which
  // load_json_file did not catch.
  const std::string crash = fuzz_input("config", "crash-ad6156ee390be2c3ef64fcc97e634d05f707f6fe");
  const std::string error = config_error(crash);
  CHECK(error.find("config.json: invalid JSON: number overflow") != std::string::npos);
  CHECK(config_error("{\"train\": {\"lr\": 1e999}}").find("number overflow parsing '1e999'") != std::string::npos);
}

TEST_CASE("fuzz_safetensors: a tensor with an empty name is refused when read, as it is when written") {
  // crash-da89b93c: the reader accepted a tensor named "", which no parameter can match and
  // the writer refuses (a dc::Error, so the fuzz target's write-back threw).
  const std::string crash = fuzz_input("safetensors", "crash-da89b93c5ff209dd8eff8402533d64263259f4eb");
  CHECK_THROWS_WITH_AS(io::parse_safetensors(crash, "ck.safetensors"),
                       "ck.safetensors: not a valid safetensors file: a tensor has an empty name", InputError);
}

TEST_CASE("fuzz_safetensors: a shape whose element count overflows is refused before it is multiplied out") {
  // crash-8395852c (found by a 30-minute run): shape [1844674407, 7095516150, 4], each dim
  // under the 2^40 bound, overflowed int64 in shape_numel (UBSan: signed multiplication).
  const std::string crash = fuzz_input("safetensors", "crash-8395852c914c91749c704085e996822d45bf0749");
  try {
    io::parse_safetensors(crash, "ck.safetensors");
    FAIL("accepted");
  } catch (const InputError& e) {
    const std::string what = e.what();
    CHECK(what.find("ck.safetensors: not a valid safetensors file: tensor 's': shape ") == 0);
    CHECK(what.find("has more elements than any file can hold") != std::string::npos);
  }
  // crash-aa9e36c0 (the 30-minute rerun after that fix): shape [93630, 511, 563743445165, 0] is empty
  // but its other dims overflow as they are multiplied out (Tensor::empty, shape_numel): a
  // shape whose non-zero dims pass the bound is refused too.
  const std::string crash2 = fuzz_input("safetensors", "crash-aa9e36c0f2f1d20f5280febf44808c0a45256894");
  CHECK_THROWS_WITH_AS(io::parse_safetensors(crash2, "ck.safetensors"),
                       doctest::Contains("has more elements than any file can hold"), InputError);
  auto file_with = [](const std::string& shape) {
    const std::string header = R"({"e":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":[0,0]}})";
    std::string file(8, '\0');
    const uint64_t n = header.size();
    std::memcpy(file.data(), &n, 8);
    return file + header;
  };
  CHECK_THROWS_AS(io::parse_safetensors(file_with("[1099511627776,0,1099511627776]"), "e.safetensors"), InputError);
  // An ordinary empty tensor is still read.
  const io::SafetensorsFile f = io::parse_safetensors(file_with("[3,0,5]"), "empty.safetensors");
  CHECK(f.tensors.at("e").numel() == 0);
  CHECK(f.tensors.at("e").shape() == Shape{3, 0, 5});
}
