// `deepchrome sweep` under mpirun as a user runs it, on a small two-model sweep over simulated
// stand-ins of three cell types: it ends with byte-for-byte the summary of the same sweep
// without MPI; a worker rank killed with SIGKILL loses only its run in progress, which a
// rerun completes to the same summary; an interrupt to mpirun ends every rank and run, and the
// sweep resumes. Built without MPI, a sweep under an MPI launcher's environment refuses.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "command_util.h"

namespace fs = std::filesystem;

using namespace dc::test::command;

namespace {

const fs::path kDir = fs::path(DC_BINARY_DIR) / "test_mpi_work";

Result sh(const std::string& cmd) { return sh_in(kDir, cmd); }

// mpirun as this suite needs it: more ranks than cores (--oversubscribe) sharing them
// (--bind-to none), root allowed (containers), a dead rank noticed after 5 s of silence
// instead of 60, and with `recovery` a killed rank not ending the job (--enable-recovery;
// mpirun then exits 0 whatever the ranks return, so only the other cases check its exit code).
std::string mpirun(int np, bool recovery = false) {
  return "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 DEEPCHROME_SWEEP_RANK_TIMEOUT=5 mpirun --oversubscribe "
         "--bind-to none " +
         std::string(recovery ? "--enable-recovery " : "") + "-np " + std::to_string(np) + " ";
}

const char* kCells[] = {"E003", "E004", "E005"};
const char* kModels[] = {"deepchrome", "attentivechrome"};

const char* kConfig = R"({
  "data": {"root": "sim", "cells": ["E003", "E004", "E005"]},
  "model": {"name": "deepchrome"},
  "train": {"optimizer": "sgd", "lr": 0.01, "batch_size": 8, "epochs": 3, "seed": 3},
  "sweep": {"parallel_runs": 2,
            "models": [{},
                       {"model": {"name": "attentivechrome"},
                        "train": {"optimizer": "adam", "lr": 0.001, "batch_size": 16, "epochs": 2,
                                  "clip_grad_norm": 1.0, "seed": 3}}]},
  "threads": 2,
  "output_dir": "out"
})";

// Simulated data, and the sweep without MPI (the reference summary), shared by the cases.
void setup() {
  static bool done = false;
  if (done) return;
  fs::remove_all(kDir);
  fs::create_directories(kDir);
  const Result sim = sh(kBin + " simulate --out sim --cells 3 --genes 400 --seed 5");
  REQUIRE_MESSAGE(sim.code == 0, sim.out);
  std::ofstream(kDir / "sweep.json") << kConfig;
  const Result plain = sh(kBin + " sweep sweep.json --set output_dir=out_plain");
  REQUIRE_MESSAGE(plain.code == 0, plain.out);
  done = true;
}

void check_same_summary(const std::string& out, const std::string& reference = "out_plain") {
  for (const std::string f : {"summary.csv", "summary.md", "auroc_vs_paper.svg"})
    CHECK_MESSAGE(slurp(kDir / reference / f) == slurp(kDir / out / f), out, "/", f, " differs from the sweep without MPI");
}

int count_finished(const std::string& out) {
  int n = 0;
  for (const char* cell : kCells)
    for (const char* model : kModels) n += fs::exists(kDir / out / cell / model / "metrics.json");
  return n;
}

// A process's NUL-separated /proc file (cmdline, environ) as strings.
std::vector<std::string> proc_strings(pid_t pid, const char* file) {
  const std::string text = slurp(fs::path("/proc") / std::to_string(pid) / file);
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (c == '\0') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

// The sweep's ranks under the mpirun with pid `mpirun_pid`: their pids by rank (-1: not seen).
std::vector<pid_t> ranks_of(pid_t mpirun_pid, int np) {
  std::vector<pid_t> ranks(static_cast<size_t>(np), -1);
  for (const pid_t pid : children_of(mpirun_pid))
    for (const std::string& var : proc_strings(pid, "environ"))
      if (var.rfind("OMPI_COMM_WORLD_RANK=", 0) == 0) {
        const int r = std::atoi(var.c_str() + 21);
        if (r >= 0 && r < np) ranks[static_cast<size_t>(r)] = pid;
      }
  return ranks;
}

// The run a rank trains: its `train` child's pid and "<cell>/<model>" (from the job file
// <cell>.<model>.json on its command line); {-1, ""} when it has none.
std::pair<pid_t, std::string> run_of(pid_t rank_pid) {
  for (const pid_t child : children_of(rank_pid)) {
    const std::vector<std::string> argv = proc_strings(child, "cmdline");
    if (argv.size() < 3 || argv[1] != "train") continue;
    std::string job = fs::path(argv[2]).stem().string();  // <cell>.<model>
    const size_t dot = job.find('.');
    if (dot == std::string::npos) continue;
    job[dot] = '/';
    return {child, job};
  }
  return {-1, ""};
}

// Starts `mpirun -np N deepchrome sweep ... --set output_dir=OUT` in its own process group,
// output to `log`.
pid_t start_mpi_sweep(int np, bool recovery, const std::string& sets, const std::string& log) {
  const std::string cmd = "cd '" + kDir.string() + "' && exec " + mpirun(np, recovery) + kBin + " sweep sweep.json --set " + sets + " > " + log +
                          " 2>&1";
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::setpgid(0, 0);
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ::setpgid(pid, pid);
  return pid;
}

// Waits for `pid` (our child) up to `limit`; its exit status, or -1 (then it is killed).
int wait_for(pid_t pid, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(-pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

}  // namespace

TEST_SUITE("mpi") {
TEST_CASE("sweep under mpirun -np 3 ends with byte-for-byte the summary of the sweep without MPI") {
  setup();
  const Result m = sh(mpirun(3) + kBin + " sweep sweep.json --set output_dir=out_mpi");
  REQUIRE_MESSAGE(m.code == 0, m.out);
  CHECK_MESSAGE(has(m.out, "under MPI: 3 ranks"), m.out);
  CHECK_MESSAGE(has(m.out, "started on rank 1"), m.out);
  CHECK_MESSAGE(has(m.out, "started on rank 2"), m.out);
  CHECK_MESSAGE(!has(m.out, "started on rank 0"), m.out);  // rank 0 only hands out runs
  CHECK(count_finished("out_mpi") == 6);
  check_same_summary("out_mpi");
  // Each run got its share of the node's threads: "threads": 2 over two training ranks.
  CHECK(has(slurp(kDir / "out_mpi/.sweep/E004.attentivechrome.json"), "\"threads\": 1"));

  // Run again under MPI, with another number of ranks: nothing to do.
  const Result again = sh(mpirun(2) + kBin + " sweep sweep.json --set output_dir=out_mpi");
  CHECK_MESSAGE(again.code == 0, again.out);
  CHECK_MESSAGE(has(again.out, "6 finished earlier, 0 to run"), again.out);
}

TEST_CASE("sweep with seeds under mpirun -np 3 (3 cells x 2 models x 2 seeds): the summary of the sweep without MPI") {
  setup();
  const std::string seeds = " --set 'sweep.seeds=[1,2]' --set train.epochs=1";
  const Result plain = sh(kBin + " sweep sweep.json --set output_dir=out_seeds_plain" + seeds);
  REQUIRE_MESSAGE(plain.code == 0, plain.out);
  CHECK_MESSAGE(has(plain.out, "12 runs (3 cell types x 2 models x 2 seeds)"), plain.out);
  const Result m = sh(mpirun(3) + kBin + " sweep sweep.json --set output_dir=out_seeds_mpi" + seeds);
  REQUIRE_MESSAGE(m.code == 0, m.out);
  CHECK_MESSAGE(has(m.out, "started on rank 2"), m.out);
  check_same_summary("out_seeds_mpi", "out_seeds_plain");
  CHECK(has(slurp(kDir / "out_seeds_mpi/summary.md"), " ± "));
  for (const char* seed : {"seed1", "seed2"})
    for (const char* cell : kCells)
      for (const char* model : kModels)
        CHECK_MESSAGE(fs::exists(kDir / "out_seeds_mpi" / seed / cell / model / "metrics.json"), seed, "/", cell, "/", model);
}

TEST_CASE("sweep under mpirun: a worker rank killed with SIGKILL loses only its run; a rerun completes it") {
  setup();
  REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);  // the killed rank's run is handed to us, not init
  const pid_t mpirun_pid = start_mpi_sweep(3, true, "output_dir=out_kill", "kill.log");
  // Once a run has finished and a worker rank trains another, that run is frozen (SIGSTOP:
  // it cannot finish between the check and the kill), checked unfinished, and its rank is
  // killed; the frozen run must then die with its rank (parent-death signal).
  pid_t killed_rank = -1, killed_run = -1;
  std::string lost_job;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  while (killed_rank < 0 && std::chrono::steady_clock::now() < deadline) {
    if (count_finished("out_kill") >= 1) {
      const std::vector<pid_t> ranks = ranks_of(mpirun_pid, 3);
      for (int r = 1; r < 3 && killed_rank < 0; ++r) {
        if (ranks[static_cast<size_t>(r)] < 0) continue;
        const auto [run_pid, job] = run_of(ranks[static_cast<size_t>(r)]);
        if (run_pid < 0) continue;
        ::kill(run_pid, SIGSTOP);
        if (fs::exists(kDir / "out_kill" / job / "metrics.json")) {  // it finished just then: try again
          ::kill(run_pid, SIGCONT);
          continue;
        }
        ::kill(ranks[static_cast<size_t>(r)], SIGKILL);
        killed_rank = ranks[static_cast<size_t>(r)];
        killed_run = run_pid;
        lost_job = job;
      }
    }
    int status = 0;
    if (waitpid(mpirun_pid, &status, WNOHANG) == mpirun_pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE_MESSAGE(killed_rank > 0, "the sweep finished before a worker rank could be killed:\n", slurp(kDir / "kill.log"));
  CHECK_MESSAGE(ends_within(killed_run, std::chrono::seconds(10)), "the killed rank's run outlived it");
  ::kill(killed_run, SIGCONT);
  waitpid(killed_run, nullptr, WNOHANG);
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);

  // The sweep goes on without it and finishes every other run.
  const int status = wait_for(mpirun_pid, std::chrono::seconds(240));
  const std::string log = slurp(kDir / "kill.log");
  REQUIRE_MESSAGE(status != -1, "mpirun did not end after a rank was killed:\n", log);
  const std::string cell = lost_job.substr(0, lost_job.find('/')), model = lost_job.substr(lost_job.find('/') + 1);
  CHECK_MESSAGE(has(log, cell + " " + model + ": LOST"), log);
  CHECK_MESSAGE(has(log, "1 run(s) lost with their rank:\n  " + cell + " " + model), log);
  CHECK(count_finished("out_kill") == 5);
  CHECK(!fs::exists(kDir / "out_kill" / lost_job / "metrics.json"));

  // A rerun without MPI completes it, to the same summary.
  const Result rerun = sh(kBin + " sweep sweep.json --set output_dir=out_kill");
  REQUIRE_MESSAGE(rerun.code == 0, rerun.out);
  CHECK_MESSAGE(has(rerun.out, "5 finished earlier, 1 to run"), rerun.out);
  CHECK(count_finished("out_kill") == 6);
  check_same_summary("out_kill");
}

TEST_CASE("sweep under mpirun: SIGINT to mpirun ends every rank and run; the sweep resumes under MPI") {
  setup();
  // The deepchrome runs train 30 epochs here (about 2 s each): mpirun takes about a second to
  // pass the interrupt on, longer than the whole sweep above takes.
  const std::string slow = "train.epochs=30 --set output_dir=";
  const Result plain = sh(kBin + " sweep sweep.json --set " + slow + "out_plain30");
  REQUIRE_MESSAGE(plain.code == 0, plain.out);
  REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);  // ranks or runs left behind are handed to us
  const pid_t mpirun_pid = start_mpi_sweep(3, false, slow + "out_int", "int.log");
  std::vector<pid_t> processes;  // the ranks and their runs at the interrupt
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  bool interrupted = false;
  while (!interrupted && std::chrono::steady_clock::now() < deadline) {
    {
      const std::vector<pid_t> ranks = ranks_of(mpirun_pid, 3);
      for (const pid_t r : ranks)
        if (r > 0 && run_of(r).first > 0) interrupted = true;
      if (interrupted) {
        for (const pid_t r : ranks) {
          if (r < 0) continue;
          processes.push_back(r);
          for (const pid_t c : children_of(r)) processes.push_back(c);
        }
        ::kill(mpirun_pid, SIGINT);  // as Ctrl-C would
      }
    }
    int status = 0;
    if (waitpid(mpirun_pid, &status, WNOHANG) == mpirun_pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE_MESSAGE(interrupted, "the sweep finished before it could be interrupted:\n", slurp(kDir / "int.log"));
  const int status = wait_for(mpirun_pid, std::chrono::seconds(60));
  CHECK_MESSAGE(status != -1, "mpirun did not end after SIGINT:\n", slurp(kDir / "int.log"));
  for (const pid_t pid : processes) CHECK_MESSAGE(ends_within(pid, std::chrono::seconds(20)), "pid ", pid, " outlived the interrupt");
  for (const pid_t pid : processes) waitpid(pid, nullptr, WNOHANG);
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  CHECK(count_finished("out_int") < 6);

  // Two ranks: one training rank, two threads for new runs; the interrupted ones keep their one.
  const Result resumed = sh(mpirun(2) + kBin + " sweep sweep.json --set " + slow + "out_int");
  REQUIRE_MESSAGE(resumed.code == 0, resumed.out);
  CHECK_MESSAGE(has(resumed.out, "interrupted, resuming"), resumed.out);
  CHECK(count_finished("out_int") == 6);
  check_same_summary("out_int", "out_plain30");
}
}

TEST_CASE("sweep under an MPI launcher, built without MPI: refuses and says why" * doctest::test_suite("no_mpi")) {
  fs::create_directories(kDir);
  for (const char* var : {"OMPI_COMM_WORLD_SIZE=3", "PMI_SIZE=4", "PMIX_RANK=0 SLURM_STEP_NUM_TASKS=2"}) {
    const Result o = sh(std::string("env ") + var + " " + kBin + " sweep no_such_config.json");
    CHECK_MESSAGE(o.code == 2, var, ": ", o.out);
    CHECK_MESSAGE(has(o.out, "built without MPI"), var, ": ", o.out);
    CHECK_MESSAGE(has(o.out, std::string(var).substr(std::string(var).rfind(' ') + 1)), var, ": ", o.out);
  }
  // SLURM_NTASKS alone is the batch script itself (one process): the sweep runs as usual
  // (here: a missing config, not a refusal).
  const Result batch = sh("env SLURM_NTASKS=8 " + kBin + " sweep no_such_config.json");
  CHECK(batch.code == 2);
  CHECK_MESSAGE(!has(batch.out, "MPI"), batch.out);
}

TEST_CASE("sweep under an MPI launcher's environment that MPI does not see: an input error, not N sweeps" *
          doctest::test_suite("mpi")) {
  fs::create_directories(kDir);
  // PMI_SIZE says 3 tasks (as MPICH's or Slurm's launcher would), but this process was not
  // started by the launcher of the MPI it was built with: MPI sees one.
  const Result o = sh("env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 PMI_SIZE=3 " + kBin + " sweep no_such_config.json");
  CHECK_MESSAGE(o.code == 2, o.out);
  CHECK_MESSAGE(has(o.out, "the launcher started 3 tasks (PMI_SIZE=3) but MPI sees 1"), o.out);
}
