// What the suites that run programs share (cli, mpi, prepare, browser): running `deepchrome` (or
// any shell command) in a work folder as a user would, with stdout and stderr together, small
// file helpers, and a look at child processes through /proc.
#pragma once

#include <sys/types.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <chrono>

#include <doctest/doctest.h>

namespace dc::test::command {

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

// The processes whose parent is `parent` (from /proc/<pid>/stat).
inline std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = slurp(e.path() / "stat");
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    char state = 0;
    long ppid = 0;
    if (rest >> state >> ppid && ppid == parent) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

// Whether process `pid` is gone (or a zombie) within `limit`; checks at least once.
inline bool ends_within(pid_t pid, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  const fs::path stat_path = fs::path("/proc") / std::to_string(pid) / "stat";
  for (;;) {
    const std::string stat = slurp(stat_path);
    const size_t close = stat.rfind(')');
    if (stat.empty() || close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] == 'Z') return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace dc::test::command
