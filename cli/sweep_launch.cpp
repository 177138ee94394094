// Whether mpirun / srun started this process as one of several tasks, from the environment
// alone (no MPI call), and the sweep's rank timeout (see cli/sweep_mpi.h).
#include <cstdlib>
#include <string>

#include "cli/sweep_mpi.h"
#include "kernels/base/error.h"

namespace dc::cli {

namespace {
// The variable's value as a task count; 0 when unset or not a number.
int count_from(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return 0;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return (*end == '\0' && n > 0 && n < (1L << 30)) ? static_cast<int>(n) : 0;
}
}  // namespace

MpiLaunch mpi_launch_from_env() {
  MpiLaunch l;
  // Open MPI's mpirun; MPICH / Intel MPI (Hydra) and Slurm's PMI-1 / PMI-2 set PMI_SIZE.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    const int n = count_from(name);
    if (n > 0) {
      l.size = n;
      l.variable = std::string(name) + "=" + std::getenv(name);
      return l;
    }
  }
  // srun with PMIx: the task count is Slurm's. SLURM_NTASKS alone is also set in the batch
  // script itself (one process), so it counts only with a process-management interface.
  if (std::getenv("PMIX_RANK") || std::getenv("PMI_RANK") || std::getenv("PMI_FD")) {
    for (const char* name : {"SLURM_STEP_NUM_TASKS", "SLURM_NTASKS"}) {
      const int n = count_from(name);
      if (n > 0) {
        l.size = n;
        l.variable = std::string(name) + "=" + std::getenv(name);
        return l;
      }
    }
  }
  return l;
}

double rank_timeout_seconds() {
  const char* name = "DEEPCHROME_SWEEP_RANK_TIMEOUT";
  const char* v = std::getenv(name);
  if (!v || !*v) return 60;
  char* end = nullptr;
  const double s = std::strtod(v, &end);
  if (*end != '\0' || !(s > 0) || s > 1e7) throw InputError(std::string(name) + "=" + v + ": expected a positive number of seconds");
  return s;
}

}  // namespace dc::cli
