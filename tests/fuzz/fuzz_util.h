// What the fuzz targets share: a private scratch folder per process (the parsers under test
// read paths, so each input is written to a file there first) and the rule that decides
// what is a finding.
//
// The rule: a parser given bad input throws dc::InputError, and that is the correct answer.
// Any other exception escapes LLVMFuzzerTestOneInput and libFuzzer reports it as a crash
// ("deadly signal" from std::terminate), as it does a sanitizer report or a hang.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace dc::fuzz {

// <TMPDIR>/deepchrome-fuzz-<pid>/, created on first use and removed at exit.
inline const std::string& scratch_dir() {
  // Never destroyed: the atexit cleanup below runs after static destructors would have.
  static const std::string& dir = *new std::string([] {
    const char* tmp = std::getenv("TMPDIR");
    std::filesystem::path p = std::filesystem::path(tmp && *tmp ? tmp : "/tmp") /
                              ("deepchrome-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(p);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return p.string();
  }());
  return dir;
}

// Writes `bytes` to <scratch>/<name> (replacing it) and returns the path. Plain stdio, not
// the atomic writer: the fuzzers run it millions of times and need no fsync.
inline std::string write_scratch(const std::string& name, std::string_view bytes) {
  const std::string path = scratch_dir() + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) std::abort();
  if (std::fclose(f) != 0) std::abort();
  return path;
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace dc::fuzz
