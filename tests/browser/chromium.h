// Runs headless Chromium for the browser suite: where it is, and one isolated run (fresh
// profile and HOME, no network features, a hard time limit) whose stdout and log come back.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace dc::test::chromium {

// $DEEPCHROME_CHROMIUM, else `chromium` or `chromium-browser` on PATH; "" when none.
inline std::string find() {
  if (const char* env = std::getenv("DEEPCHROME_CHROMIUM"); env && *env) return ::access(env, X_OK) == 0 ? env : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    for (const char* name : {"chromium", "chromium-browser"}) {
      const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  return "";
}

struct Run {
  int code = -1;       // exit status; 124 when the time limit ended it
  std::string out;     // stdout (e.g. --dump-dom)
  std::string log;     // stderr (--enable-logging=stderr)
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// One headless run over file `page` with `args` (e.g. "--dump-dom") in a fresh profile under
// `work`. Chromium is slow to start on a loaded machine: the limit is generous, and a run that
// produced nothing at all (timed out or crashed at start-up) is tried once more.
inline Run run(const std::string& chromium, const std::filesystem::path& work, const std::string& tag, const std::string& args,
               const std::filesystem::path& page) {
  namespace fs = std::filesystem;
  Run r;
  for (int attempt = 1; attempt <= 2; ++attempt) {
    const fs::path dir = work / ("chromium-" + tag + "-" + std::to_string(attempt));
    fs::remove_all(dir);
    fs::create_directories(dir / "home");
    const std::string cmd =
        "cd '" + dir.string() + "' && env HOME='" + (dir / "home").string() + "' XDG_CONFIG_HOME='" + (dir / "home").string() +
        "' XDG_CACHE_HOME='" + (dir / "home").string() + "' timeout -k 15 300 '" + chromium +
        "' --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking"
        " --disable-component-update --disable-sync --disable-dev-shm-usage --disable-extensions --disable-default-apps"
        " --mute-audio --no-default-browser-check --user-data-dir='" + (dir / "profile").string() +
        "' --enable-logging=stderr --v=0 " + args + " 'file://" + fs::absolute(page).string() + "' > out.txt 2> log.txt";
    const int status = std::system(cmd.c_str());
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(dir / "out.txt");
    r.log = slurp(dir / "log.txt");
    const bool nothing = r.out.empty() && r.log.find("bytes written to file") == std::string::npos;
    if (!(nothing && r.code != 0)) break;
  }
  return r;
}

// The page's console messages (and JavaScript errors) as Chromium logs them.
inline std::string console_lines(const std::string& log) {
  std::string out;
  std::stringstream lines(log);
  for (std::string line; std::getline(lines, line);)
    if (line.find(":CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos) out += line + "\n";
  return out;
}

}  // namespace dc::test::chromium
