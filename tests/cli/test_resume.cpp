// Resumable training, as a user meets it: `deepchrome train` killed with SIGKILL at random
// moments (mid-epoch, mid-write of its state), resumed with --resume again and again, must
// end with the same model.safetensors, predictions.csv (and attention) bytes as a run that
// was never interrupted, and the same metrics.json apart from its timings; a state written
// under another config is refused. Also: unwritable outputs (exit 2, path and reason,
// nothing half-written) and a diverging run (exit 1, epoch, batch and parameter named).
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "command_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

using namespace dc::test::command;

namespace {

const fs::path kDir = fs::path(DC_BINARY_DIR) / "test_resume_work";

Result sh(const std::string& cmd) { return sh_in(kDir, cmd); }

// Starts `deepchrome train ...` in kDir with stdout+stderr appended to `log`.
pid_t spawn_train(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<std::string> argv_s = {kBin, "train"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::chdir(kDir.c_str()) != 0) ::_exit(126);
    FILE* f = std::fopen(log.c_str(), "ab");
    if (!f) ::_exit(126);
    ::dup2(fileno(f), STDOUT_FILENO);
    ::dup2(fileno(f), STDERR_FILENO);
    ::execv(kBin.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

bool has_temp_file(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (has(e.path().filename().string(), ".tmp.")) return true;
  return false;
}

// metrics.json without its timing fields.
json without_timings(json m) {
  m.erase("train_seconds");
  for (auto& e : m["epochs"]) e.erase("seconds");
  return m;
}

struct KillStats {
  int kills = 0, at_temp_file = 0, after_a_saved_epoch = 0, resumed = 0, ended = 0;
};

// The inode of the saved state (each save renames a new file into place), 0 when none.
ino_t state_inode(const fs::path& run_dir) {
  struct stat st {};
  return ::stat((run_dir / "train_state.safetensors").c_str(), &st) == 0 ? st.st_ino : 0;
}

// Runs `train CONFIG --resume` into out_dir and kills it with SIGKILL `kills` times, each
// time after it has saved 0 or 1 more epochs (at random): odd attempts then at a random
// moment within an epoch's time (mid-epoch, or mid-evaluation), even ones the moment a
// temp file (the next state, or an output, being written) appears in the run folder.
// Then lets it finish.
KillStats interrupted_run(const std::string& config, const std::string& out_dir, const fs::path& run_dir, int kills,
                          std::chrono::microseconds epoch_time, std::mt19937& rng) {
  KillStats st;
  const fs::path log = kDir / (out_dir + ".log");
  const std::vector<std::string> args = {config, "--resume", "--set", "output_dir=" + out_dir};
  for (int k = 0; k < kills; ++k) {
    const bool at_temp = k % 2 == 1;
    const int saves_to_wait = std::uniform_int_distribution<int>(0, 1)(rng);
    const auto delay = std::chrono::microseconds(std::uniform_int_distribution<long>(0, epoch_time.count())(rng));
    ino_t last = state_inode(run_dir);
    if (last != 0) ++st.resumed;  // started with --resume beside a saved state: continues from it
    const pid_t pid = spawn_train(args, log);
    const auto start = std::chrono::steady_clock::now();
    int saves = 0;
    auto phase2 = start;
    bool exited = false, saw_temp = false;
    int status = 0;
    for (;;) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        break;
      }
      const auto now = std::chrono::steady_clock::now();
      if (saves < saves_to_wait) {
        const ino_t ino = state_inode(run_dir);
        if (ino != last && ino != 0) {
          last = ino;
          if (++saves == saves_to_wait) phase2 = now;
        }
      } else if (at_temp) {
        if ((saw_temp = has_temp_file(run_dir))) break;
      } else if (now - phase2 >= delay) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    if (exited) {  // finished before the kill: its outputs are complete; start over for more kill points
      INFO("attempt ", k, " ended by itself: ", slurp(log));
      REQUIRE(WIFEXITED(status));
      REQUIRE(WEXITSTATUS(status) == 0);
      ++st.ended;
      fs::remove_all(kDir / out_dir);
      continue;
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    ++st.kills;
    if (saw_temp) ++st.at_temp_file;
    if (state_inode(run_dir) != 0) ++st.after_a_saved_epoch;
  }
  // (The killed runs' own "resuming after epoch" lines may die in their stdout buffers; the
  // last run's may not.)
  const bool state_before_last = state_inode(run_dir) != 0;
  if (state_before_last) ++st.resumed;
  const Result last = sh(kBin + " train " + config + " --resume --set output_dir=" + out_dir);
  REQUIRE_MESSAGE(last.code == 0, last.out);
  if (state_before_last) CHECK_MESSAGE(last.out.find("resuming after epoch") != std::string::npos, last.out);
  return st;
}

void compare_runs(const fs::path& a, const fs::path& b, bool attention) {
  std::vector<std::string> files = {"model.safetensors", "predictions.csv"};
  if (attention) files.insert(files.end(), {"attention_bins.csv", "attention_marks.csv"});
  for (const auto& f : files) {
    REQUIRE_MESSAGE(fs::exists(b / f), (b / f).string());
    CHECK_MESSAGE(slurp(a / f) == slurp(b / f), f, " differs from the uninterrupted run's");
  }
  const json ma = json::parse(slurp(a / "metrics.json")), mb = json::parse(slurp(b / "metrics.json"));
  CHECK(without_timings(ma) == without_timings(mb));
  CHECK(ma["epochs"].size() == mb["epochs"].size());
  CHECK(!fs::exists(b / "train_state.safetensors"));  // removed once the run is complete
  CHECK(!has_temp_file(b));
}

void setup() {
  static bool done = false;
  if (done) return;
  fs::remove_all(kDir);
  fs::create_directories(kDir);
  const Result r = sh(kBin + " simulate --out sim --cells R1 --genes 120 --seed 5");
  REQUIRE_MESSAGE(r.code == 0, r.out);
  // Dropout, momentum and a decaying rate (DeepChrome), Adam with clipping (AttentiveChrome):
  // every piece of state a resume must restore changes the numbers.
  write(kDir / "dc.json", R"({"data": {"root": "sim", "cells": ["R1"]},
    "model": {"name": "deepchrome", "conv_channels": 16, "hidden": [64, 32], "dropout": 0.5},
    "train": {"optimizer": "sgd", "lr": 0.01, "lr_decay": 1e-3, "momentum": 0.9, "batch_size": 4, "epochs": 8, "seed": 3},
    "threads": 2})");
  write(kDir / "ac.json", R"({"data": {"root": "sim", "cells": ["R1"]},
    "model": {"name": "attentivechrome", "bin_hidden": 6, "mark_hidden": 4},
    "train": {"optimizer": "adam", "lr": 0.003, "clip_grad_norm": 1.0, "batch_size": 8, "epochs": 8, "seed": 4},
    "threads": 2})");
  done = true;
}

void resume_case(const std::string& config, const std::string& model, bool attention, unsigned seed) {
  setup();
  const auto t0 = std::chrono::steady_clock::now();
  const Result ref = sh(kBin + " train " + config + " --quiet --set output_dir=ref_" + model);
  REQUIRE_MESSAGE(ref.code == 0, ref.out);
  const auto span = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  const fs::path ref_dir = kDir / ("ref_" + model) / "R1" / model, run_dir = kDir / ("int_" + model) / "R1" / model;
  CHECK(!fs::exists(ref_dir / "train_state.safetensors"));

  std::mt19937 rng(seed);
  const KillStats st = interrupted_run(config, "int_" + model, run_dir, 8, span / 8, rng);
  MESSAGE(model, ": uninterrupted run ", span.count() / 1000, " ms; ", st.kills, " kills (", st.at_temp_file,
          " while a file was being written, ", st.after_a_saved_epoch, " with a saved epoch to resume from), ",
          st.resumed, " resumed starts, ", st.ended, " attempts that finished before their kill");
  CHECK(st.kills >= 5);
  CHECK(st.at_temp_file >= 2);
  CHECK(st.resumed >= 2);  // the runs did continue from saved epochs, not from scratch
  compare_runs(ref_dir, run_dir, attention);
}

}  // namespace

TEST_CASE("resume: DeepChrome killed with SIGKILL again and again ends with the uninterrupted run's bytes") {
  resume_case("dc.json", "deepchrome", false, 11);
}

TEST_CASE("resume: AttentiveChrome killed with SIGKILL again and again ends with the uninterrupted run's bytes") {
  resume_case("ac.json", "attentivechrome", true, 12);
}

TEST_CASE("resume: a state saved under another config is refused, naming what differs") {
  setup();
  const fs::path run_dir = kDir / "mismatch" / "R1" / "deepchrome";
  const pid_t pid = spawn_train({"dc.json", "--quiet", "--set", "output_dir=mismatch"}, kDir / "mismatch.log");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(run_dir / "train_state.safetensors") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(fs::exists(run_dir / "train_state.safetensors"));
  const std::string state = slurp(run_dir / "train_state.safetensors");

  Result r = sh(kBin + " train dc.json --resume --quiet --set output_dir=mismatch --set train.lr=0.02 --set model.dropout=0.25");
  CHECK(r.code == 2);
  CHECK(has(r.out, "mismatch/R1/deepchrome/train_state.safetensors: this training state belongs to a different run"));
  CHECK(has(r.out, "train.lr: 0.01 in the checkpoint, 0.02 now"));
  CHECK(has(r.out, "model.dropout: 0.5 in the checkpoint, 0.25 now"));
  CHECK(has(r.out, "without --resume"));
  CHECK(slurp(run_dir / "train_state.safetensors") == state);  // left as it was
  CHECK(!fs::exists(run_dir / "metrics.json"));

  // Other threads: refused too (the numbers could differ).
  r = sh(kBin + " train dc.json --resume --quiet --set output_dir=mismatch --set threads=1");
  CHECK(r.code == 2);
  CHECK(has(r.out, "threads: 2 in the checkpoint, 1 now"));

  // A damaged state is an input error naming the file, not a crash.
  write(run_dir / "train_state.safetensors", state.substr(0, state.size() / 2));
  r = sh(kBin + " train dc.json --resume --quiet --set output_dir=mismatch");
  CHECK(r.code == 2);
  CHECK(has(r.out, "train_state.safetensors"));

  // Without --resume the run starts over (and finishes, removing its state).
  r = sh(kBin + " train dc.json --quiet --set output_dir=mismatch");
  CHECK(r.code == 0);
  CHECK(fs::exists(run_dir / "metrics.json"));
  CHECK(!fs::exists(run_dir / "train_state.safetensors"));
  // --resume on a finished run keeps it as it is.
  const std::string weights = slurp(run_dir / "model.safetensors");
  r = sh(kBin + " train dc.json --resume --set output_dir=mismatch");
  CHECK(r.code == 0);
  CHECK(has(r.out, "finished earlier, kept"));
  CHECK(slurp(run_dir / "model.safetensors") == weights);
}

TEST_CASE("unwritable output: exit 2 naming the path and the reason, nothing half-written") {
  setup();
  // A file where the run's folder should go.
  write(kDir / "blocked", "a file, not a folder\n");
  Result r = sh(kBin + " train dc.json --quiet --set output_dir=blocked");
  CHECK(r.code == 2);
  CHECK(has(r.out, "cannot create directory blocked/R1/deepchrome"));
  CHECK(has(r.out, "Not a directory"));
  CHECK(slurp(kDir / "blocked") == "a file, not a folder\n");

  // A file size limit (as a full disk: write() fails, here with EFBIG): the first state
  // written (about 260 kB) is over it.
  const fs::path limited = kDir / "limited" / "R1" / "deepchrome";
  r = sh("sh -c 'ulimit -f 64; exec " + kBin + " train dc.json --quiet --set output_dir=limited'");
  INFO(r.out);
  CHECK(r.code == 2);
  CHECK(has(r.out, "cannot write limited/R1/deepchrome/train_state.safetensors: write failed (File too large)"));
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(limited)) left.push_back(e.path().filename().string());
  CHECK_MESSAGE(left.empty(), "left behind: ", left.size() ? left.front() : "");

  // A read-only folder: root writes there anyway, so the case needs another user.
  if (::geteuid() == 0) {
    MESSAGE("SKIPPED the read-only-folder case: running as root, for whom permissions do not stop writes "
            "(the file-in-the-way and file-size-limit cases above cover the same code)");
  } else {
    fs::create_directories(kDir / "readonly");
    fs::permissions(kDir / "readonly", fs::perms::owner_read | fs::perms::owner_exec);
    r = sh(kBin + " train dc.json --quiet --set output_dir=readonly");
    fs::permissions(kDir / "readonly", fs::perms::owner_all);
    CHECK(r.code == 2);
    CHECK(has(r.out, "readonly/R1"));
    CHECK(has(r.out, "Permission denied"));
    CHECK(fs::is_empty(kDir / "readonly"));
  }
}

TEST_CASE("a diverging run names the epoch, the batch and the first non-finite parameter, and writes no outputs") {
  setup();
  // Raw counts times a huge step overflow the linear model's weights at the first update.
  const Result r = sh(kBin + " train dc.json --quiet --set 'model={\"name\":\"linear\"}' --set train.lr=1e38 --set output_dir=nan");
  CHECK(r.code == 1);
  CHECK(has(r.out, "training diverged at epoch 1, batch 2: the loss is NaN; "));
  CHECK(has(r.out, "the first parameter holding a non-finite value is fc.weight (weights, element "));
  const fs::path dir = kDir / "nan" / "R1" / "linear";
  for (const char* f : {"metrics.json", "model.safetensors", "predictions.csv", "config.json"}) CHECK_MESSAGE(!fs::exists(dir / f), f);
  CHECK(!has_temp_file(dir));
}
