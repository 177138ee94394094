// `deepchrome sweep` across nodes with MPI (`mpirun -np N deepchrome sweep CONFIG`, or
// `srun -n N ...`): rank 0 plans the sweep, holds its lock and writes its summary; it hands
// the runs out one at a time to ranks 1..N-1 (a rank asks, trains its run as the same
// `train --resume` child process a sweep on one machine starts, reports, asks again).
//
// Which implementation is built is CMake's choice (DEEPCHROME_MPI): cli/sweep_mpi.cpp with
// MPI, or cli/sweep_no_mpi.cpp, whose join_sweep_ranks says the build has no MPI. Launch
// detection (cli/sweep_launch.cpp) reads only the environment, so a sweep started without
// mpirun / srun never initialises MPI and behaves as it always did.
//
// A rank that dies (kill -9, a lost node) is noticed by rank 0 when its heartbeat stops
// (DEEPCHROME_SWEEP_RANK_TIMEOUT seconds, default 60): its run in progress is reported lost
// and the others go on. Open MPI's mpirun keeps the other ranks alive only with
// --enable-recovery; without it mpirun ends the whole job (every run resumes on the next sweep).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/experiment/sweep.h"

namespace dc::cli {

// How this process was launched: size > 1 when mpirun / srun / mpiexec started it as one of
// `size` tasks; `variable` names the environment variable that said so ("OMPI_COMM_WORLD_SIZE=3").
struct MpiLaunch {
  int size = 1;
  std::string variable;
};
MpiLaunch mpi_launch_from_env();

// Seconds of silence after which rank 0 counts a rank as dead (DEEPCHROME_SWEEP_RANK_TIMEOUT,
// default 60); InputError naming the variable when it is not a positive number.
double rank_timeout_seconds();

// What rank 0 does with the runs the other ranks report (cli/sweep.cpp fills these in).
struct SweepCoordination {
  std::vector<size_t> to_run;                                   // indices into the sweep's jobs, in order
  std::function<void(size_t job, int rank)> on_start;         // handed to `rank`
  std::function<void(size_t job, int rank, int wait_status, double seconds)> on_end;  // the run's exit, as waitpid says
  std::function<void(size_t job, int rank)> on_lost;          // `rank` died (or went silent) with the run
  std::function<bool()> interrupted;                          // Ctrl-C / SIGTERM seen
};

// What a worker rank needs to start runs.
struct SweepWorkerSetup {
  std::string exe;        // the deepchrome executable
  std::string state_dir;  // <output_dir>/.sweep: the runs' job files go there
  std::vector<std::string> extra_env;  // for each run's process ("CUDA_VISIBLE_DEVICES=1")
  std::function<bool()> interrupted;
};

// An MPI world this process joined (MPI_Init); MPI_Finalize when destroyed, unless it ended
// by an interrupt (the launcher is ending every rank then).
class SweepRanks {
 public:
  virtual ~SweepRanks() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // The CPUs of this rank's node (online), for a config with "threads": 0.
  virtual int node_cpus() const = 0;
  // Threads for each run on this rank: `threads_total` (the config's "threads", or the
  // node's CPUs) split between the training ranks of this node, and at most the CPUs this
  // rank may run on (its binding). 0 on rank 0, which only coordinates.
  virtual int threads_per_run(int threads_total) const = 0;
  // The GPU this rank's runs use when the device is cuda: its place among the node's
  // training ranks modulo the node's GPUs (CUDA_VISIBLE_DEVICES, or /proc/driver/nvidia/gpus);
  // empty when no GPU is seen.
  virtual std::string gpu() const = 0;
  // Rank 0: hands out c.to_run until every run is reported or lost (or an interrupt). If rank 0
  // is destroyed without getting here (an error while planning), the others are told to stop.
  virtual void coordinate(const SweepCoordination& c) = 0;
  // Other ranks: trains what rank 0 hands out until told to stop; returns the exit code
  // (130 after an interrupt). `jobs` are the sweep's jobs with this rank's threads / GPU.
  virtual int work(const std::vector<io::SweepJob>& jobs, const SweepWorkerSetup& setup) = 0;
  // Marks the world as ending by an interrupt: no MPI_Finalize (other ranks may be gone).
  virtual void abandon() = 0;
};

// Joins the world the launcher started (MPI_Init). Throws InputError when this build has no
// MPI, or when MPI sees another world size than the launcher's environment.
std::unique_ptr<SweepRanks> join_sweep_ranks(const MpiLaunch& launch);

}  // namespace dc::cli
