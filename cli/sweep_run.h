// One run of a sweep as a child process: `deepchrome train JOB --resume`, with its output in
// <run_dir>/train.log. Used by the sweep on one machine (cli/sweep.cpp) and by each worker
// rank of a sweep under MPI (cli/sweep_mpi.cpp), so a run behaves the same either way: it dies
// with the process that started it (PR_SET_PDEATHSIG and the lifeline pipe) and an interrupted
// run resumes from its last finished epoch.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "io/experiment/sweep.h"

namespace dc::cli {

// The file a run's config is written to: <state_dir>/<io::job_file_name(job)>.
std::string job_file(const std::string& state_dir, const io::SweepJob& job);

// The running deepchrome executable (/proc/self/exe).
std::string self_exe();

// Starts `exe train job_file --resume` for `job` (the job's config is written to job_file
// first; what an interrupted run left, other than its training state, is removed, and it
// keeps the thread count its training state was made with, so it ends with the same bytes). The child
// reads the lifeline's read end `lifeline_fd` and gets `extra_env` ("NAME=value", replacing
// variables of the same name) on top of this process's environment. Returns its pid.
// The pipe whose read end every run watches (DEEPCHROME_SWEEP_LIFELINE): only the process that
// starts runs holds the write end, so it closes when that process returns, throws, or is
// killed, and the runs end themselves. Both ends are close-on-exec; start_run passes the read end.
class Lifeline {
 public:
  Lifeline();  // throws dc::Error when the pipe cannot be made
  ~Lifeline();
  Lifeline(const Lifeline&) = delete;
  Lifeline& operator=(const Lifeline&) = delete;
  int read_end() const { return fd_[0]; }

 private:
  int fd_[2] = {-1, -1};
};

pid_t start_run(const std::string& exe, const io::SweepJob& job, const std::string& job_file, int lifeline_fd,
                const std::vector<std::string>& extra_env = {});

// A run's waitpid status in words: "exit code 3", "signal Killed".
std::string run_status_text(int wait_status);

// The last `lines` lines of a file (for a failed run's message); empty when unreadable.
std::string tail(const std::string& path, int lines);

}  // namespace dc::cli
