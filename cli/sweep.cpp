// `deepchrome sweep CONFIG`: trains every (cell type x model) of a sweep config (see
// io/sweep.h), each run a `deepchrome train` child process with its own log, up to
// sweep.parallel_runs at once with the threads split between them, and keeps
// summary.csv / summary.md / auroc_vs_paper.svg (and, with explain on, the mark importance
// across cell types, io/experiment/sweep_explain.h) up to date in the output dir.
//
// Resumable: finished runs (metrics.json present) are skipped, a folder without one is an
// interrupted run and continues from its last finished epoch (each child is `train --resume`:
// its train_state.safetensors, or from scratch when it has none). Children die with the sweep, so after
// kill -9 nothing keeps writing: Linux's PR_SET_PDEATHSIG, and, where a sandbox does not
// deliver that, a lifeline pipe whose write end only the sweep holds: `train` watches the
// read end (DEEPCHROME_SWEEP_LIFELINE) and kills itself at end-of-file. A lock file keeps
// two sweeps off one output dir.
//
// Under mpirun / srun with several tasks (cli/sweep_mpi.h) rank 0 does all of the above except
// starting runs: it hands them to the other ranks, which start them the same way.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/sweep_mpi.h"
#include "cli/sweep_run.h"
#include "kernels/base/error.h"
#include "engine/parallel.h"
#include "io/formats/atomic_file.h"
#include "io/experiment/config.h"
#include "io/formats/dataset.h"
#include "io/formats/simulate.h"
#include "io/experiment/sweep.h"
#include "io/experiment/sweep_explain.h"
#include "io/experiment/train_state.h"

namespace dc::cli {


namespace {

namespace fs = std::filesystem;

const char* kHelp = R"(usage: deepchrome sweep CONFIG [--set KEY=VALUE]... [--status]

Trains every (cell type x model) of the sweep config CONFIG and writes, in its output_dir:
  <cell>/<model>/...   each run's outputs, as `deepchrome train` writes them, plus train.log
  summary.csv          cell, cell name, model, best epoch, valid/test AUROC, test AUPR, the
                       DeepChrome paper's AUROC for the cell and the difference; mean and median rows
  summary.md           the same with the models side by side, and the published summaries
  auroc_vs_paper.svg   our test AUROC against the paper's, one point per cell type and model
  sweep_config.json    the resolved sweep
With explain on (the config's "explain" section: each run's best model is explained into
<cell>/<model>/explain/), also the DeepChrome paper's cell type x mark picture:
  mark_importance_cells.csv  model,method,class,cell,<marks>: each explained run's mark importance
  mark_importance_<model>_<method>_<high|low>.svg   cell types x marks heatmaps (0..1)
The summary is rewritten after every finished run, and by --status. With simulated data
(cells written by `deepchrome simulate`) the paper columns are left empty.

Interrupted sweeps (Ctrl-C, kill -9, power loss) resume when the same command is run again:
finished runs are skipped and interrupted ones continue from their last finished epoch
(each run saves its state after every epoch), with the same results as an uninterrupted sweep.

A sweep config is an experiment config (see `deepchrome train --help`) with a "sweep" section:
  "sweep": {"parallel_runs": 1,
            "models": [{"model": {...}, "train": {...}}, ...]}
Each models entry replaces the top-level "model" and "train" sections for its runs; with no
entries the top-level model is swept. Optional axes repeat every run:
  "seeds": [1, 2, 3]                       once per seed (replacing train.seed)
  "grid": {"train.lr": [1e-4, 3e-4], ...}  once per combination of the values ("model." and
                                           "train." keys), the runs then in
                                           <variant>/<cell>/<model>/, variant e.g. grid1-seed3
The summary then shows per cell type and model the mean ± sample sd over the seeds at the
grid point with the best mean valid AUROC (summary.csv keeps one row per run).
"parallel_runs" runs that many at once (longest first), splitting "threads" between them
(or sharing the GPU with "device": "cuda").

Across nodes with MPI (a build with DEEPCHROME_MPI): `mpirun -np N deepchrome sweep CONFIG`
or `srun -n N deepchrome sweep CONFIG`. Rank 0 plans, writes the summary and hands the runs
out; ranks 1..N-1 train one run at a time each, with "threads" (0: the node's CPUs) split
between a node's training ranks, or with "device": "cuda" a GPU each (parallel_runs is not
used). A rank that dies loses only its run in progress with `mpirun --enable-recovery`
(rank 0 counts a rank silent for DEEPCHROME_SWEEP_RANK_TIMEOUT seconds, default 60, as dead);
without it mpirun ends the whole sweep. Either way the same command, with or without MPI,
resumes it.

  --set KEY=VALUE  override a config key (as for train), e.g. --set sweep.parallel_runs=2
                   or --set sweep.seeds='[1,2,3]'
  --status         list each run's state (finished / interrupted / to do), refresh the
                   summary from the finished runs and exit
)";

volatile sig_atomic_t g_interrupted = 0;
void on_interrupt(int) { g_interrupted = 1; }

std::string duration_text(double s) {
  char buf[64];
  const long long t = static_cast<long long>(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", t / 3600, t / 60 % 60);
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

// Holds <out>/.sweep/lock for the life of the sweep and its children (they inherit it).
int take_lock(const std::string& dir) {
  const std::string path = dir + "/lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
  if (fd < 0) throw Error(path + ": cannot open the lock file: " + std::strerror(errno));
  // Children of a sweep killed a moment ago may take a few milliseconds to die.
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::close(fd);
  throw InputError("another `deepchrome sweep` is running on " + fs::path(dir).parent_path().string() + " (lock " + path + ")");
}

struct Running {
  pid_t pid;
  size_t job;
  std::chrono::steady_clock::time_point start;
};

// A rank other than 0 of a sweep under MPI: trains the runs rank 0 hands out, each with its
// share of the node's threads (or its GPU), until rank 0 says stop. With --status rank 0 does
// everything.
int sweep_worker(SweepRanks& ranks, const io::SweepConfig& s, bool status_only) {
  if (status_only) return 0;
  SweepWorkerSetup setup;
  setup.exe = self_exe();
  setup.state_dir = s.output_dir + "/.sweep";
  setup.interrupted = [] { return g_interrupted != 0; };
  std::vector<io::SweepJob> jobs = s.jobs;
  const int threads = ranks.threads_per_run(s.threads_total);
  for (auto& job : jobs) job.config["threads"] = threads;
  if (s.device == "cuda") {
    const std::string gpu = ranks.gpu();
    if (!gpu.empty()) setup.extra_env.push_back("CUDA_VISIBLE_DEVICES=" + gpu);
  }
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {}, old_term {};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  const int code = ranks.work(jobs, setup);
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  return code;
}

}  // namespace

int cmd_sweep(const Args& args) {
  ArgParser p("sweep", args, {"set"}, {"help", "status"});
  if (p.flag("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (p.positionals().size() != 1) throw InputError("sweep: expected one CONFIG file (see deepchrome sweep --help)");
  const std::string config_path = p.positionals()[0];
  // Started by mpirun / srun as several tasks: join them (a build without MPI refuses).
  // Otherwise MPI is never initialised.
  const MpiLaunch launch = mpi_launch_from_env();
  std::unique_ptr<SweepRanks> ranks;
  if (launch.size > 1) ranks = join_sweep_ranks(launch);
  const io::SweepConfig s = io::load_sweep_config(config_path, p.all("set"), ranks ? ranks->node_cpus() : num_threads());
  if (ranks && ranks->rank() != 0) return sweep_worker(*ranks, s, p.flag("status"));

  // Everything a run needs is checked before the first one starts.
  apply_device_and_threads(io::resolve_config(s.jobs.front().config, config_path));
  std::vector<std::string> missing;
  for (const auto& cell : s.cells)
    for (const char* split : {"train", "valid", "test"}) {
      const std::string path = io::cell_dir(s.data_root, cell) + "/classification/" + split + ".csv";
      if (::access(path.c_str(), R_OK) != 0) missing.push_back(path);
    }
  if (!missing.empty()) {
    std::string msg = missing.front() + ": cannot open the file";
    if (missing.size() > 1) msg += " (and " + std::to_string(missing.size() - 1) + " more of the sweep's data files)";
    msg += "; data.root is \"" + s.data_root + "\". Get the real data with `scripts/download_data.sh " + s.data_root +
           "`, or simulate stand-ins with `deepchrome simulate --out " + s.data_root + " --cells " +
           std::to_string(s.cells.size()) + "`";
    throw InputError(msg);
  }

  const std::string state_dir = s.output_dir + "/.sweep";
  io::ensure_directory(state_dir);
  const int lock_fd = take_lock(state_dir);
  // Temp files of summaries (or run configs) a killed sweep was writing: never renamed, now litter.
  io::remove_stale_temp_files(s.output_dir);
  io::remove_stale_temp_files(state_dir);
  io::write_file_atomic(s.output_dir + "/sweep_config.json", s.resolved.dump(2) + "\n");

  io::SweepSummary summary;
  summary.cells = s.cells;
  summary.models = s.models;
  summary.axes = s.axes;
  summary.source = config_path;
  summary.data_root = s.data_root;
  for (const auto& cell : s.cells) summary.simulated.push_back(io::is_simulated_cell(s.data_root, cell));
  std::vector<size_t> to_run;
  size_t finished_before = 0, interrupted = 0;
  for (size_t i = 0; i < s.jobs.size(); ++i) {
    const io::SweepJob& job = s.jobs[i];
    const io::RunState st = io::run_state(job);
    io::RunResult r;
    r.cell = job.cell;
    r.model = job.model;
    if (st == io::RunState::Finished) {
      r = io::read_run_result(job);
      ++finished_before;
    } else {
      if (st == io::RunState::Partial) ++interrupted;
      to_run.push_back(i);
    }
    summary.results.push_back(r);
  }
  to_run = io::plan_order(s, to_run, io::train_file_sizes(s));  // longest first

  // Everything in it is a pure function of the finished runs' files (see io/experiment/sweep.h).
  io::MarkImportanceSweep importance;
  auto write_summary = [&] {
    importance = io::gather_mark_importance(s);
    io::write_file_atomic(s.output_dir + "/summary.csv", io::summary_csv(summary));
    io::write_file_atomic(s.output_dir + "/summary.md", io::summary_md(summary) + io::mark_importance_md(importance));
    io::write_file_atomic(s.output_dir + "/auroc_vs_paper.svg", io::auroc_vs_paper_svg(summary));
    io::write_mark_importance_outputs(s.output_dir, importance);
  };

  if (p.flag("status")) {
    if (s.axes.any())
      std::printf("%-12s %-16s %-16s %s\n", "cell", "model", "variant", "state");
    else
      std::printf("%-12s %-16s %s\n", "cell", "model", "state");
    for (size_t i = 0; i < s.jobs.size(); ++i) {
      const io::RunState st = io::run_state(s.jobs[i]);
      const char* state = st == io::RunState::Finished ? "finished" : st == io::RunState::Partial ? "interrupted (resumes)" : "to do";
      if (s.axes.any())
        std::printf("%-12s %-16s %-16s %s\n", s.jobs[i].cell.c_str(), s.jobs[i].model.c_str(), s.jobs[i].variant.c_str(), state);
      else
        std::printf("%-12s %-16s %s\n", s.jobs[i].cell.c_str(), s.jobs[i].model.c_str(), state);
    }
    std::printf("%zu of %zu runs finished\n", finished_before, s.jobs.size());
    write_summary();
    if (importance.enabled) std::printf("%s\n", io::mark_importance_status(importance).c_str());
    ::close(lock_fd);
    return 0;
  }

  size_t n_sim = 0;
  for (bool b : summary.simulated) n_sim += b;
  const std::string axes_text =
      (s.axes.grid_points.empty() ? "" : " x " + std::to_string(s.axes.grid_points.size()) + " grid points") +
      (s.axes.seeds.empty() ? "" : " x " + std::to_string(s.axes.seeds.size()) + " seeds");
  std::printf("sweep %s: %zu runs (%zu cell types x %zu models%s) into %s\n", config_path.c_str(), s.jobs.size(), s.cells.size(),
              s.models.size(), axes_text.c_str(), s.output_dir.c_str());
  // Under MPI the other ranks say how many run at once and with how many threads (the line below).
  const std::string at_once = ranks ? "" : "; " + std::to_string(s.parallel_runs) + " at a time, " + std::to_string(s.threads_per_run) +
                                               (s.threads_per_run == 1 ? " thread" : " threads") + " each";
  std::printf("  %zu finished earlier, %zu to run%s%s%s\n", finished_before, to_run.size(),
              interrupted ? (" (" + std::to_string(interrupted) + " interrupted, resuming)").c_str() : "", at_once.c_str(),
              n_sim == s.cells.size() ? "; data are simulated" : "");
  std::fflush(stdout);
  write_summary();

  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: waitpid returns on a signal
  struct sigaction old_int {}, old_term {};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Running> running;
  std::vector<std::string> failures, lost;
  size_t next = 0, done_now = 0;
  const size_t total = s.jobs.size();
  auto progress_prefix = [&] {
    char buf[32];
    std::snprintf(buf, sizeof buf, "[%*zu/%zu]", static_cast<int>(std::to_string(total).size()), finished_before + done_now, total);
    return std::string(buf);
  };
  // A run ended (here, or on another rank under MPI) with waitpid's `status`.
  auto run_ended = [&](size_t j, int status, double wall, const std::string& where) {
    const io::SweepJob& job = s.jobs[j];
    ++done_now;
    io::RunResult& r = summary.results[j];
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && io::run_state(job) == io::RunState::Finished;
    if (ok) {
      r = io::read_run_result(job);
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const size_t left = to_run.size() - done_now;
      const double eta = left == 0 ? 0 : elapsed / static_cast<double>(done_now) * static_cast<double>(left);
      std::printf("%s %s %s: test AUROC %.4f (best epoch %d) in %s%s\n", progress_prefix().c_str(), job.cell.c_str(),
                  job.label.c_str(), r.test_auroc, r.best_epoch, duration_text(wall).c_str(),
                  left ? (", about " + duration_text(eta) + " left").c_str() : "");
    } else {
      if (g_interrupted) {
        --done_now;  // killed by the interrupt: not a failure, it continues on resume
        return;
      }
      r.status = "failed";
      const std::string why = run_status_text(status) + where;
      failures.push_back(job.cell + " " + job.label + " (" + why + ", log " + job.run_dir + "/train.log)");
      std::printf("%s %s %s: FAILED (%s); last lines of %s/train.log:\n%s\n", progress_prefix().c_str(), job.cell.c_str(),
                  job.label.c_str(), why.c_str(), job.run_dir.c_str(), tail(job.run_dir + "/train.log", 3).c_str());
    }
    std::fflush(stdout);
    write_summary();
  };

  if (ranks) {
    // Under MPI: the other ranks train, this one hands out the runs and keeps the summary.
    std::printf("  under MPI: %d ranks, rank 0 hands the runs to the other %d (threads split between a node's training ranks)\n",
                ranks->size(), ranks->size() - 1);
    std::fflush(stdout);
    SweepCoordination c;
    c.to_run = to_run;
    c.interrupted = [] { return g_interrupted != 0; };
    c.on_start = [&](size_t j, int rank) {
      const io::SweepJob& job = s.jobs[j];
      std::printf("%s %s %s: started on rank %d (log %s/train.log)\n", progress_prefix().c_str(), job.cell.c_str(), job.label.c_str(),
                  rank, job.run_dir.c_str());
      std::fflush(stdout);
    };
    c.on_end = [&](size_t j, int rank, int status, double wall) { run_ended(j, status, wall, " on rank " + std::to_string(rank)); };
    c.on_lost = [&](size_t j, int rank) {
      const io::SweepJob& job = s.jobs[j];
      ++done_now;
      summary.results[j].status = "failed";
      lost.push_back(job.cell + " " + job.label + " (rank " + std::to_string(rank) + " died or went silent; log " + job.run_dir +
                     "/train.log)");
      std::printf("%s %s %s: LOST: rank %d died or went silent for %.0f s; the run resumes with the next sweep\n",
                  progress_prefix().c_str(), job.cell.c_str(), job.label.c_str(), rank, rank_timeout_seconds());
      std::fflush(stdout);
      write_summary();
    };
    ranks->coordinate(c);
    if (g_interrupted) ranks->abandon();
  } else {
    const std::string exe = self_exe();
    const Lifeline lifeline;  // closed when this sweep returns or throws (and by the kernel on kill -9)
    while ((next < to_run.size() || !running.empty()) && !g_interrupted) {
      while (running.size() < static_cast<size_t>(s.parallel_runs) && next < to_run.size() && !g_interrupted) {
        const size_t j = to_run[next++];
        const io::SweepJob& job = s.jobs[j];
        const pid_t pid = start_run(exe, job, job_file(state_dir, job), lifeline.read_end());
        running.push_back({pid, j, std::chrono::steady_clock::now()});
        std::printf("%s %s %s: started (log %s/train.log)\n", progress_prefix().c_str(), job.cell.c_str(), job.label.c_str(),
                    job.run_dir.c_str());
        std::fflush(stdout);
      }
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, 0);
      if (pid < 0) {
        if (errno == EINTR) continue;
        throw Error(std::string("sweep: waitpid failed: ") + std::strerror(errno));
      }
      size_t k = 0;
      while (k < running.size() && running[k].pid != pid) ++k;
      if (k == running.size()) continue;
      const Running run = running[k];
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(k));
      run_ended(run.job, status, std::chrono::duration<double>(std::chrono::steady_clock::now() - run.start).count(), "");
    }
  }

  if (g_interrupted) {
    for (const auto& run : running) ::kill(run.pid, SIGTERM);
    for (const auto& run : running) {
      int st = 0;
      while (::waitpid(run.pid, &st, 0) < 0 && errno == EINTR) {
      }
    }
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
    std::printf("\nsweep interrupted: %zu of %zu runs finished; run the same command again to resume\n", finished_before + done_now,
                total);
    ::close(lock_fd);
    return 130;
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  write_summary();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("\nsweep finished in %s: %s/{summary.csv,summary.md,auroc_vs_paper.svg}\n", duration_text(wall).c_str(),
              s.output_dir.c_str());
  std::fputs(io::summary_brief(summary).c_str(), stdout);
  if (importance.enabled) std::printf("  %s\n", io::mark_importance_status(importance).c_str());
  ::close(lock_fd);
  if (!failures.empty() || !lost.empty()) {
    std::string msg;
    if (!failures.empty()) msg += std::to_string(failures.size()) + " run(s) failed:";
    for (const auto& f : failures) msg += "\n  " + f;
    if (!lost.empty()) msg += std::string(failures.empty() ? "" : "\n") + std::to_string(lost.size()) + " run(s) lost with their rank:";
    for (const auto& f : lost) msg += "\n  " + f;
    msg += "\nfix the cause and run the same command again: finished runs are kept";
    throw Error(msg);
  }
  return 0;
}

}  // namespace dc::cli
