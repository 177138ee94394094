// The sweep's MPI side in a build without MPI (CMake's DEEPCHROME_MPI found none, or OFF):
// launched by mpirun / srun as several tasks, every task would run the whole sweep into one
// output dir, so it refuses and says why.
#include "cli/sweep_mpi.h"
#include "kernels/base/error.h"

namespace dc::cli {

std::unique_ptr<SweepRanks> join_sweep_ranks(const MpiLaunch& launch) {
  throw InputError("sweep: started as one of " + std::to_string(launch.size) + " MPI tasks (" + launch.variable +
                   "), but this deepchrome was built without MPI, so each task would run the whole sweep into the same "
                   "output dir. Run `deepchrome sweep` without mpirun / srun, or rebuild with MPI (apt-get install "
                   "libopenmpi-dev openmpi-bin, then cmake -DDEEPCHROME_MPI=ON)");
}

}  // namespace dc::cli
