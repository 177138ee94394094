// `deepchrome sweep` as a user runs it: a small two-model sweep over simulated stand-ins of
// three paper cell types, killed with SIGKILL mid-way and resumed, must end with the same
// summary as an uninterrupted run; bad sweep configs and a failing run are reported; with
// explain on, the mark importance across cell types is gathered from the runs.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "xml_check.h"

#include "command_util.h"

namespace fs = std::filesystem;

using namespace dc::test::command;

namespace {

const fs::path kDir = fs::path(DC_BINARY_DIR) / "test_sweep_work";

Result sh(const std::string& cmd) { return sh_in(kDir, cmd); }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> fields_of(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string f; std::getline(in, f, ',');) out.push_back(f);
  return out;
}

const char* kConfig = R"({
  "data": {"root": "sim", "cells": ["E003", "E004", "E005"]},
  "model": {"name": "deepchrome"},
  "train": {"optimizer": "sgd", "lr": 0.01, "batch_size": 8, "epochs": 6, "seed": 3},
  "sweep": {"parallel_runs": 2,
            "models": [{},
                       {"model": {"name": "attentivechrome"},
                        "train": {"optimizer": "adam", "lr": 0.001, "batch_size": 16, "epochs": 2,
                                  "clip_grad_norm": 1.0, "seed": 3}}]},
  "threads": 2,
  "output_dir": "out"
})";

// Simulated stand-ins of the first three paper cell types, shared by the cases below.
void setup() {
  static bool done = false;
  if (done) return;
  fs::remove_all(kDir);
  fs::create_directories(kDir);
  const Result sim = sh(kBin + " simulate --out sim --cells 3 --genes 600 --seed 5");
  REQUIRE_MESSAGE(sim.code == 0, sim.out);
  write(kDir / "sweep.json", kConfig);
  done = true;
}

int count_finished(const fs::path& out) {
  int n = 0;
  for (const char* cell : {"E003", "E004", "E005"})
    for (const char* model : {"deepchrome", "attentivechrome"}) n += fs::exists(out / cell / model / "metrics.json");
  return n;
}

// The run folders with a log but no metrics.json: runs under way (or interrupted).
std::vector<fs::path> runs_in_progress(const fs::path& out) {
  std::vector<fs::path> dirs;
  for (const char* cell : {"E003", "E004", "E005"})
    for (const char* model : {"deepchrome", "attentivechrome"}) {
      const fs::path d = out / cell / model;
      if (fs::exists(d / "train.log") && !fs::exists(d / "metrics.json")) dirs.push_back(d);
    }
  return dirs;
}

bool any_run_in_progress(const fs::path& out) { return !runs_in_progress(out).empty(); }

}  // namespace

TEST_CASE("sweep: killed with SIGKILL mid-way and resumed, it ends with the uninterrupted summary") {
  setup();
  const Result a = sh(kBin + " sweep sweep.json --set output_dir=out_a");
  REQUIRE_MESSAGE(a.code == 0, a.out);
  CHECK(has(a.out, "6 runs (3 cell types x 2 models)"));
  CHECK(count_finished(kDir / "out_a") == 6);
  const std::string csv = slurp(kDir / "out_a/summary.csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 6 + 4);  // header, runs, mean + median per model
  CHECK(has(csv, "E004,H1_BMP4_Derived_Mesendoderm_Cultured_Cells,attentivechrome,done,"));
  CHECK(!has(csv, "pending"));
  CHECK(has(slurp(kDir / "out_a/summary.md"), "The data are simulated"));
  CHECK(has(slurp(kDir / "out_a/auroc_vs_paper.svg"), "simulated data"));
  CHECK(!fs::exists(kDir / "out_a/mark_importance_cells.csv"));  // explain is off

  // The same sweep into out_b, killed (SIGKILL, no chance to clean up) while a run is going.
  // The sweep and its runs form their own process group; once a run is seen in progress the
  // group is frozen (SIGSTOP), checked again, and the sweep is killed while it is still
  // frozen, so no run executes another instruction between the check and the kill (a run
  // caught writing its last file would otherwise finish in the moments the sweep takes to
  // die). This process is made the runs' subreaper: they are handed to it, not to init, so
  // their group is not orphaned and the kernel sends it no SIGHUP, which would end the runs
  // whether or not the sweep's own mechanisms (PR_SET_PDEATHSIG, then the lifeline pipe,
  // which needs the runs thawed) work.
  REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::setpgid(0, 0);
    if (chdir(kDir.c_str()) != 0) _exit(126);
    if (!freopen("/dev/null", "w", stdout)) _exit(126);
    execl(kBin.c_str(), kBin.c_str(), "sweep", "sweep.json", "--set", "output_dir=out_b", static_cast<char*>(nullptr));
    _exit(127);
  }
  ::setpgid(pid, pid);  // (also in the child: whichever runs first)
  bool killed_mid_run = false;
  std::vector<pid_t> runs_at_kill;
  std::vector<fs::path> dirs_at_kill;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  while (std::chrono::steady_clock::now() < deadline) {
    if (count_finished(kDir / "out_b") >= 1 && any_run_in_progress(kDir / "out_b")) {
      ::kill(-pid, SIGSTOP);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (count_finished(kDir / "out_b") >= 1 && any_run_in_progress(kDir / "out_b")) {
        runs_at_kill = children_of(pid);
        dirs_at_kill = runs_in_progress(kDir / "out_b");
        ::kill(pid, SIGKILL);  // the sweep only, as `kill -9 PID` would: its runs must die with it
        killed_mid_run = true;
        break;
      }
      ::kill(-pid, SIGCONT);  // a run finished just then: go on and try again
    }
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) break;  // finished before we could interrupt it
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  int status = 0;
  waitpid(pid, &status, 0);  // the sweep has exited: its runs have their parent-death signal
  REQUIRE_MESSAGE(killed_mid_run, "the sweep finished before it could be interrupted");
  CHECK(!runs_at_kill.empty());
  // Still frozen, the runs end by the parent-death signal alone; where a sandbox does not
  // deliver it, they are thawed and the lifeline pipe must end them.
  bool ended_frozen = true;
  for (const pid_t run_pid : runs_at_kill) ended_frozen = ended_frozen && ends_within(run_pid, std::chrono::seconds(5));
  if (!ended_frozen) MESSAGE("a run outlived the sweep while frozen (no parent-death signal for it: a sandbox that does not deliver it, or a child caught between fork and prctl): thawed for the lifeline pipe");
  ::kill(-pid, SIGCONT);
  for (const pid_t run_pid : runs_at_kill) CHECK_MESSAGE(ends_within(run_pid, std::chrono::seconds(20)), "run pid ", run_pid);
  for (const pid_t run_pid : runs_at_kill) waitpid(run_pid, &status, WNOHANG);  // handed to us: reaped
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  // ... killed, not finished: a run under way at the kill never writes its metrics.json.
  CHECK(!dirs_at_kill.empty());
  for (const fs::path& d : dirs_at_kill) CHECK_MESSAGE(!fs::exists(d / "metrics.json"), d, " finished after its sweep was killed");
  const int finished_at_kill = count_finished(kDir / "out_b");
  CHECK(finished_at_kill < 6);

  const Result st = sh(kBin + " sweep sweep.json --set output_dir=out_b --status");
  REQUIRE_MESSAGE(st.code == 0, st.out);
  CHECK(has(st.out, "interrupted (resumes)"));

  const Result b = sh(kBin + " sweep sweep.json --set output_dir=out_b");
  REQUIRE_MESSAGE(b.code == 0, b.out);
  CHECK(has(b.out, "interrupted, resuming"));
  CHECK(count_finished(kDir / "out_b") == 6);
  for (const char* f : {"summary.csv", "summary.md", "auroc_vs_paper.svg"})
    CHECK_MESSAGE(slurp(kDir / "out_a" / f) == slurp(kDir / "out_b" / f), f);
  // No temporary files anywhere in the resumed output.
  for (const auto& e : fs::recursive_directory_iterator(kDir / "out_b"))
    CHECK_MESSAGE(!has(e.path().filename().string(), ".tmp"), e.path());

  // A finished sweep run again has nothing to do.
  const Result again = sh(kBin + " sweep sweep.json --set output_dir=out_b");
  CHECK(again.code == 0);
  CHECK(has(again.out, "6 finished earlier, 0 to run"));
}

TEST_CASE("sweep: bad configs and missing data are input errors naming the key or file") {
  setup();
  Result r = sh(kBin + " sweep sweep.json --set sweep.parallel_runs=0");
  CHECK(r.code == 2);
  CHECK(has(r.out, "sweep.parallel_runs"));
  r = sh(kBin + " sweep sweep.json --set 'sweep.models=[{\"model\": {\"name\": \"mlp\"}, \"optim\": {}}]'");
  CHECK(r.code == 2);
  CHECK(has(r.out, "sweep.models[0].optim: unknown key"));
  r = sh(kBin + " sweep sweep.json --set 'sweep.models=[{}, {}]'");
  CHECK(r.code == 2);
  CHECK(has(r.out, "listed twice"));
  r = sh(kBin + " sweep sweep.json --set 'sweep.models=[{\"train\": {\"lr\": -1}}]'");
  CHECK(r.code == 2);
  CHECK(has(r.out, "sweep.models[0]: train.lr"));
  r = sh(kBin + " sweep sweep.json --set 'data.cells=[\"E003\", \"E999\"]'");
  CHECK(r.code == 2);
  CHECK(has(r.out, "sim/E999/classification/train.csv"));
  CHECK(has(r.out, "download_data.sh"));
}

TEST_CASE("sweep with seeds and a grid: a run per (cell, grid point, seed), mean ± sd, the same summary after a resume") {
  setup();
  // 2 cells x 1 model x 2 grid points x 2 seeds = 8 one-epoch runs.
  const std::string set = " --set 'data.cells=[\"E003\",\"E004\"]' --set 'sweep.models=[]' --set train.epochs=1"
                          " --set sweep.seeds='[4,9]' --set 'sweep.grid={\"train.lr\": [0.01, 0.002]}' --set output_dir=out_axes";
  const Result a = sh(kBin + " sweep sweep.json" + set);
  REQUIRE_MESSAGE(a.code == 0, a.out);
  CHECK(has(a.out, "8 runs (2 cell types x 1 models x 2 grid points x 2 seeds)"));
  CHECK(has(a.out, "E004 deepchrome grid1 seed9: test AUROC"));
  for (const char* variant : {"grid0-seed4", "grid0-seed9", "grid1-seed4", "grid1-seed9"})
    for (const char* cell : {"E003", "E004"})
      CHECK_MESSAGE(fs::exists(kDir / "out_axes" / variant / cell / "deepchrome/metrics.json"), variant, " ", cell);
  CHECK(has(slurp(kDir / "out_axes/grid1-seed9/E003/deepchrome/config.json"), "\"seed\": 9"));
  CHECK(has(slurp(kDir / "out_axes/grid1-seed9/E003/deepchrome/config.json"), "\"lr\": 0.002"));
  const std::string csv = slurp(kDir / "out_axes/summary.csv");
  const auto rows = lines_of(csv);
  REQUIRE(rows.size() == 1 + 8 + 2);
  CHECK(rows[0] == "cell,cell_name,model,grid_point,train.lr,chosen,seed,status,best_epoch,valid_auroc,test_auroc,test_aupr,"
                   "paper_auroc,diff_vs_paper");
  CHECK(rows[4].rfind("E003,H1_Cell_Line,deepchrome,1,0.002,", 0) == 0);
  CHECK(fields_of(rows[4])[6] == "9");
  CHECK(has(rows[9], "mean,,deepchrome,,,,,2/2,"));
  // Each (cell, model) has its two runs of one grid point chosen.
  for (size_t c = 0; c < 2; ++c) {
    int chosen = 0;
    for (size_t r = 1 + 4 * c; r < 5 + 4 * c; ++r) chosen += fields_of(rows[r])[5] == "yes";
    CHECK(chosen == 2);
  }
  const std::string md = slurp(kDir / "out_axes/summary.md");
  CHECK(has(md, "2 seeds (4, 9)"));
  CHECK(has(md, "## Grid points"));
  CHECK(has(md, " ± "));

  const Result st = sh(kBin + " sweep sweep.json" + set + " --status");
  REQUIRE_MESSAGE(st.code == 0, st.out);
  CHECK(has(st.out, "grid1-seed9"));
  CHECK(has(st.out, "8 of 8 runs finished"));

  // An interrupted run (no metrics.json) reruns; the summary ends with the same bytes.
  const std::string md_before = md, svg_before = slurp(kDir / "out_axes/auroc_vs_paper.svg");
  fs::remove(kDir / "out_axes/grid0-seed9/E004/deepchrome/metrics.json");
  const Result b = sh(kBin + " sweep sweep.json" + set);
  REQUIRE_MESSAGE(b.code == 0, b.out);
  CHECK(has(b.out, "7 finished earlier, 1 to run (1 interrupted, resuming)"));
  CHECK(slurp(kDir / "out_axes/summary.csv") == csv);
  CHECK(slurp(kDir / "out_axes/summary.md") == md_before);
  CHECK(slurp(kDir / "out_axes/auroc_vs_paper.svg") == svg_before);

  // Bad axes: exit 2, the key named.
  const std::pair<const char*, const char*> bad[] = {
      {"sweep.seeds='[]'", "sweep.seeds: the list is empty"},
      {"sweep.seeds='[1, \"x\"]'", "sweep.seeds[1]: expected an integer seed"},
      {"sweep.seeds='[3, 3]'", "sweep.seeds[1]: seed 3 is listed twice"},
      {"'sweep.grid={\"train.lrate\": [0.1]}'", "sweep.grid[\"train.lrate\"]: not a config key"},
      // (the config has two models: the message also names the one the value was tried with)
      {"'sweep.grid={\"train.batch_size\": [8, 0.5]}'",
       "sweep.grid[\"train.batch_size\"][1] (model \"deepchrome\"): train.batch_size: expected an integer, got a number 0.5"},
      {"'sweep.grid={\"train.lr\": []}'", "sweep.grid[\"train.lr\"]: the list is empty"},
  };
  for (const auto& entry : bad) {  // (not a structured binding: clang 14 cannot capture one in doctest's lambdas)
    const std::string assignment = entry.first, message = entry.second;
    const Result r = sh(kBin + " sweep sweep.json --set output_dir=out_axes_bad --set " + assignment);
    CHECK_MESSAGE(r.code == 2, assignment, ": ", r.out);
    CHECK_MESSAGE(has(r.out, message), assignment, ": ", r.out);
  }
}

TEST_CASE("sweep: a run that fails is reported, the others finish, and it reruns on resume") {
  setup();
  fs::remove_all(kDir / "sim_bad");
  fs::create_directories(kDir / "sim_bad");
  fs::copy(kDir / "sim/E003", kDir / "sim_bad/E003", fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  fs::copy(kDir / "sim/E004", kDir / "sim_bad/E004", fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  write(kDir / "sim_bad/E004/classification/valid.csv", "000001,1,0,0,0,0,0,1\nnot,a,row\n");
  const std::string set = " --set data.root=sim_bad --set 'data.cells=[\"E003\",\"E004\"]' --set output_dir=out_bad";
  const Result r = sh(kBin + " sweep sweep.json" + set);
  CHECK(r.code == 1);
  CHECK(has(r.out, "E004 deepchrome: FAILED"));
  CHECK(has(r.out, "valid.csv"));  // the run's own error, from its log
  CHECK(count_finished(kDir / "out_bad") == 2);
  CHECK(has(slurp(kDir / "out_bad/summary.csv"), "E004,H1_BMP4_Derived_Mesendoderm_Cultured_Cells,deepchrome,failed"));
  // Same output dir, different recipe: refused rather than mixing two experiments.
  const Result other = sh(kBin + " sweep sweep.json" + set + " --set train.lr=0.5");
  CHECK(other.code == 2);
  CHECK(has(other.out, "different \"train\" section"));
}

TEST_CASE("sweep: a run ends itself when the sweep's lifeline closes, without the parent-death signal") {
  // A stand-in for the sweep: an intermediate process holds the write end of a pipe and
  // starts `deepchrome train` (a long run) with the read end in DEEPCHROME_SWEEP_LIFELINE,
  // but without PR_SET_PDEATHSIG. Killing the intermediate must end the run all the same.
  setup();
  write(kDir / "long.json", R"({"data": {"root": "sim", "cells": ["E003"]}, "model": {"name": "deepchrome"},
    "train": {"optimizer": "sgd", "lr": 0.001, "batch_size": 1, "epochs": 100000, "seed": 1},
    "threads": 1, "output_dir": "out_lifeline"})");
  int report[2];
  REQUIRE(::pipe(report) == 0);
  const pid_t mid = fork();
  REQUIRE(mid >= 0);
  if (mid == 0) {
    ::close(report[0]);
    if (chdir(kDir.c_str()) != 0) _exit(126);
    int life[2];
    if (::pipe2(life, O_CLOEXEC) != 0) _exit(126);
    const pid_t run_pid = fork();
    if (run_pid == 0) {
      ::fcntl(life[0], F_SETFD, 0);
      const std::string var = std::to_string(life[0]);
      ::setenv("DEEPCHROME_SWEEP_LIFELINE", var.c_str(), 1);
      if (!freopen("lifeline.log", "w", stdout)) _exit(126);
      execl(kBin.c_str(), kBin.c_str(), "train", "long.json", static_cast<char*>(nullptr));
      _exit(127);
    }
    if (::write(report[1], &run_pid, sizeof run_pid) != static_cast<ssize_t>(sizeof run_pid)) _exit(126);
    for (;;) ::pause();
  }
  ::close(report[1]);
  pid_t run_pid = 0;
  REQUIRE(::read(report[0], &run_pid, sizeof run_pid) == static_cast<ssize_t>(sizeof run_pid));
  ::close(report[0]);
  REQUIRE(run_pid > 0);
  // Let the run get going (its first epoch is done), then kill its parent.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!has(slurp(kDir / "lifeline.log"), "epoch   1/") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(has(slurp(kDir / "lifeline.log"), "epoch   1/"));
  CHECK_FALSE(ends_within(run_pid, std::chrono::seconds(0)));  // still running: 100000 epochs
  ::kill(mid, SIGKILL);
  int status = 0;
  waitpid(mid, &status, 0);
  const bool ended = ends_within(run_pid, std::chrono::seconds(20));
  CHECK_MESSAGE(ended, "the run outlived its sweep");
  if (!ended) ::kill(run_pid, SIGKILL);
  CHECK_FALSE(fs::exists(kDir / "out_lifeline/E003/deepchrome/metrics.json"));
}

TEST_CASE("sweep with explain on: mark importance across cell types, gathered from the runs, refreshed by --status and resume") {
  setup();
  write(kDir / "explain.json", R"({"data": {"root": "sim", "cells": ["E003", "E004"]},
    "model": {"name": "deepchrome"},
    "train": {"optimizer": "sgd", "lr": 0.01, "batch_size": 8, "epochs": 1, "seed": 3},
    "explain": {"enabled": true, "restarts": 1, "iterations": 20, "ig_steps": 4},
    "sweep": {"parallel_runs": 2}, "threads": 2, "output_dir": "out_explain"})");
  const fs::path out = kDir / "out_explain";
  const Result r = sh(kBin + " sweep explain.json");
  REQUIRE_MESSAGE(r.code == 0, r.out);
  CHECK(has(r.out, "mark importance across cell types: mark_importance_cells.csv and 6 figures (deepchrome: 2 of 2 cell types explained)"));
  // summary.md links every figure the sweep wrote (and each link's file is there).
  const std::string md = slurp(out / "summary.md");
  CHECK(has(md, "## Mark importance across cell types"));
  size_t links = 0;
  for (size_t at = md.find("](mark_importance_"); at != std::string::npos; at = md.find("](mark_importance_", at + 1)) {
    const std::string file = md.substr(at + 2, md.find(')', at) - at - 2);
    CHECK_MESSAGE(fs::exists(out / file), file);
    ++links;
  }
  CHECK(links == 6);

  const std::string csv = slurp(out / "mark_importance_cells.csv");
  const std::vector<std::string> rows = lines_of(csv);
  REQUIRE(!rows.empty());
  CHECK(rows[0] == "model,method,class,cell,H3K27me3,H3K36me3,H3K4me1,H3K4me3,H3K9me3");
  // Each cell's own figures, keyed by (method, class); the gathered rows must be exactly these.
  const std::vector<std::string> cells = {"E003", "E004"};
  std::map<std::string, std::string> own;  // "cell,method,class" -> the five values
  std::vector<std::string> methods;        // in the runs' order
  for (const auto& cell : cells) {
    const std::vector<std::string> lines = lines_of(slurp(out / cell / "deepchrome/explain/mark_importance.csv"));
    REQUIRE(lines.size() > 1);
    for (size_t i = 1; i < lines.size(); ++i) {
      const std::vector<std::string> f = fields_of(lines[i]);
      REQUIRE(f.size() == 7);
      if (std::find(methods.begin(), methods.end(), f[0]) == methods.end()) methods.push_back(f[0]);
      own[cell + "," + f[0] + "," + f[1]] = lines[i].substr(f[0].size() + f[1].size() + 2);
    }
  }
  CHECK(methods == std::vector<std::string>{"class-map", "grad-input", "integrated-gradients"});
  REQUIRE(rows.size() == 1 + methods.size() * 2 * cells.size());  // one per (model, method, class, cell)
  size_t i = 1;
  for (const auto& method : methods)
    for (const char* cls : {"high", "low"})
      for (const auto& cell : cells) {
        const std::vector<std::string> f = fields_of(rows[i]);
        REQUIRE(f.size() == 9);
        const std::string key = cell + "," + method + "," + cls;
        CHECK_MESSAGE(rows[i] == "deepchrome," + method + "," + cls + "," + cell + "," + own[key], "row ", i, ", expected ", key);
        double sum = 0;
        for (size_t j = 4; j < 9; ++j) {
          const double v = std::stod(f[j]);
          CHECK(v >= 0);
          sum += v;
        }
        CHECK_MESSAGE((std::fabs(sum - 1) < 1e-4 || sum == 0), rows[i]);
        ++i;
      }

  std::map<std::string, std::string> figures;
  for (const auto& method : methods)
    for (const char* cls : {"high", "low"}) {
      const std::string name = "mark_importance_deepchrome_" + method + "_" + cls + ".svg";
      const std::string svg = slurp(out / name);
      figures[name] = svg;
      CHECK_MESSAGE(svg.rfind("<svg", 0) == 0, name);
      const dc::test::xml::Document d = dc::test::xml::parse(svg);
      REQUIRE_MESSAGE(d.ok(), name, ": ", d.error);
      CHECK(has(d.root->all_text(), "deepchrome, " + method + ", class " + cls));
      for (const auto& cell : cells) {
        int labels = 0;
        for (const auto* t : dc::test::xml::elements(*d.root, "text")) labels += t->all_text().rfind(cell + " ", 0) == 0;
        CHECK_MESSAGE(labels == 1, name, ": row labels of ", cell);
      }
    }

  // --status recomputes them from the runs: E004's explain is undone (its run is then
  // unfinished) and the gathered files lost.
  fs::remove(out / "mark_importance_cells.csv");
  fs::remove(out / "mark_importance_deepchrome_grad-input_low.svg");
  fs::remove(out / "E004/deepchrome/explain/explain.json");
  const Result st = sh(kBin + " sweep explain.json --status");
  REQUIRE_MESSAGE(st.code == 0, st.out);
  CHECK(has(st.out, "(deepchrome: 1 of 2 cell types explained)"));
  const std::vector<std::string> partial = lines_of(slurp(out / "mark_importance_cells.csv"));
  CHECK(partial.size() == 1 + methods.size() * 2);
  for (size_t k = 1; k < partial.size(); ++k) CHECK(fields_of(partial[k]).at(3) == "E003");
  CHECK(has(slurp(out / "mark_importance_deepchrome_grad-input_low.svg"), "(1 of 2 cell types not explained yet)"));

  // Resumed, E004 runs again and the gathered files come back byte for byte.
  const Result again = sh(kBin + " sweep explain.json");
  REQUIRE_MESSAGE(again.code == 0, again.out);
  CHECK(has(again.out, "1 finished earlier, 1 to run"));
  CHECK(slurp(out / "mark_importance_cells.csv") == csv);
  for (const auto& [name, svg] : figures) {
    const auto file = name;  // a copy: clang 14 cannot capture a structured binding (CHECK_MESSAGE)
    CHECK_MESSAGE(slurp(out / file) == svg, file);
  }
}
