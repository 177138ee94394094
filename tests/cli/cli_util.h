// What the CLI tests share: running `deepchrome` (or any shell command) in a work folder as a
// user would, with stdout and stderr together, and small file helpers.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <doctest/doctest.h>

namespace dc::test::cli {

namespace fs = std::filesystem;

// The executable under test (the build folder's).
inline const std::string kBin = std::string(DC_BINARY_DIR) + "/deepchrome";

struct Result {
  int code;         // exit status; -1 when killed by a signal
  std::string out;  // stdout and stderr, interleaved as the terminal would show them
};

// Runs `cmd` through the shell in folder `dir`.
inline Result sh_in(const fs::path& dir, const std::string& cmd) {
  const std::string full = "cd '" + dir.string() + "' && " + cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// The whole file; empty when it cannot be read.
inline std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Writes `text` to `p`, creating its folders.
inline void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

inline bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace dc::test::cli
