// The sweep's MPI side (see cli/sweep_mpi.h), built when CMake finds MPI (DEEPCHROME_MPI).
//
// Messages are three ints {job, wait status, 0} on a duplicate of MPI_COMM_WORLD whose errors
// return (MPI_ERRORS_RETURN) instead of aborting:
//   worker -> 0  kAsk   {job just ended or -1, its waitpid status}: "here is my run, give me one"
//   worker -> 0  kBeat  every second: "alive" (a dead rank goes silent; Open MPI 4.1 tells
//                       the others nothing we can rely on)
//   0 -> worker  kJob   {job index, or kStop}
//   0 -> worker  kBeat  every second while coordinating: "rank 0 is alive"
//   0 -> worker  kAbort the sweep was interrupted: kill your run and end
//   0 -> worker  kBye   {1: call MPI_Finalize, 0: don't}, once every rank is stopped or dead
// MPI_Finalize waits for every rank, a dead one too (Open MPI 4.1 then never returns), so after a
// rank died nobody calls it: rank 0 says so in kBye, sent only when it knows.
// Nobody blocks in MPI: Open MPI's blocking receives poll a core at 100%, and on a small
// machine rank 0 and idle ranks would take it from the runs. Every wait is MPI_Iprobe and a
// short sleep.
#include <fcntl.h>
#include <mpi.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "cli/sweep_mpi.h"
#include "cli/sweep_run.h"
#include "kernels/base/error.h"

namespace dc::cli {

namespace {

enum Tag : int { kAsk = 1, kBeat = 2, kJob = 3, kAbort = 4, kBye = 5 };
constexpr int kStop = -1;  // kJob's index when there are no more runs
constexpr auto kPoll = std::chrono::milliseconds(20);
constexpr auto kBeatEvery = std::chrono::seconds(1);
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(std::string("sweep: ") + what + " failed: " + std::string(text, static_cast<size_t>(len)));
}

int cpus_allowed() {
  cpu_set_t set;
  CPU_ZERO(&set);
  return ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
}

// The GPUs this process may use: CUDA_VISIBLE_DEVICES's list when set, else one per
// /proc/driver/nvidia/gpus entry.
std::vector<std::string> visible_gpus() {
  std::vector<std::string> ids;
  if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES")) {
    std::string item;
    for (const char* c = v;; ++c) {
      if (*c == ',' || *c == '\0') {
        if (!item.empty()) ids.push_back(item);
        item.clear();
        if (*c == '\0') break;
      } else {
        item += *c;
      }
    }
    return ids;
  }
  std::error_code ec;
  size_t n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/driver/nvidia/gpus", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec))
    ++n;
  for (size_t i = 0; i < n; ++i) ids.push_back(std::to_string(i));
  return ids;
}

class MpiRanks final : public SweepRanks {
 public:
  explicit MpiRanks(const MpiLaunch& launch) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) check(MPI_Init(nullptr, nullptr), "MPI_Init");
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    if (size_ != launch.size) {
      MPI_Finalize();
      throw InputError("sweep: the launcher started " + std::to_string(launch.size) + " tasks (" + launch.variable + ") but MPI sees " +
                       std::to_string(size_) + ": is mpirun / srun from another MPI than the one deepchrome was built with?");
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    // The training ranks of this node (every rank but 0), in world rank order.
    MPI_Comm node = MPI_COMM_NULL, trainers = MPI_COMM_NULL;
    check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
    check(MPI_Comm_split(node, rank_ == 0 ? MPI_UNDEFINED : 0, rank_, &trainers), "MPI_Comm_split");
    if (trainers != MPI_COMM_NULL) {
      MPI_Comm_rank(trainers, &node_index_);
      MPI_Comm_size(trainers, &node_trainers_);
      MPI_Comm_free(&trainers);
    }
    MPI_Comm_free(&node);
  }

  ~MpiRanks() override {
    if (abandoned_) return;  // interrupted: the launcher is ending every rank, some may be gone
    if (rank_ == 0 && !coordinated_)  // rank 0 failed before handing out runs: the others stop
      for (int r = 1; r < size_; ++r) {
        send(r, kJob, kStop);
        send(r, kBye, 1);
      }
    MPI_Comm_free(&comm_);
    MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int node_cpus() const override { return std::max(1, static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN))); }

  int threads_per_run(int threads_total) const override {
    if (rank_ == 0) return 0;
    int n = std::max(1, threads_total / node_trainers_);
    const int allowed = cpus_allowed();
    if (allowed > 0) n = std::min(n, allowed);
    return n;
  }

  std::string gpu() const override {
    const std::vector<std::string> ids = visible_gpus();
    return ids.empty() ? "" : ids[static_cast<size_t>(node_index_) % ids.size()];
  }

  void abandon() override { abandoned_ = true; }

  void coordinate(const SweepCoordination& c) override {
    struct Worker {
      long job = -1;  // the run it trains
      Clock::time_point heard, started;
      bool done = false;  // stopped, or counted as dead
      bool lost = false;  // counted as dead
    };
    const double timeout = rank_timeout_seconds();
    std::vector<Worker> workers(static_cast<size_t>(size_));
    for (auto& w : workers) w.heard = Clock::now();
    int active = size_ - 1;
    bool any_lost = false;
    size_t next = 0;
    auto beat_sent = Clock::now() - kBeatEvery;
    auto lose = [&](int r) {
      Worker& w = workers[static_cast<size_t>(r)];
      if (w.lost) return;
      if (!w.done) --active;
      w.done = true;
      w.lost = true;
      any_lost = true;
      if (w.job >= 0) c.on_lost(static_cast<size_t>(w.job), r);
      w.job = -1;
    };
    while (active > 0) {
      if (c.interrupted()) {
        for (int r = 1; r < size_; ++r)
          if (!workers[static_cast<size_t>(r)].lost) send(r, kAbort, 0);
        return;
      }
      for (;;) {
        int flag = 0;
        MPI_Status st;
        check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &flag, &st), "MPI_Iprobe");
        if (!flag) break;
        int msg[3] = {0, 0, 0};
        check(MPI_Recv(msg, 3, MPI_INT, st.MPI_SOURCE, st.MPI_TAG, comm_, MPI_STATUS_IGNORE), "MPI_Recv");
        const int r = st.MPI_SOURCE;
        Worker& w = workers[static_cast<size_t>(r)];
        w.heard = Clock::now();
        if (st.MPI_TAG != kAsk) continue;
        if (w.lost) {  // counted as dead but only slow: its run was reported lost, it stops
          send(r, kJob, kStop);
          continue;
        }
        if (w.job >= 0 && msg[0] == w.job) c.on_end(static_cast<size_t>(w.job), r, msg[1], seconds_since(w.started));
        w.job = -1;
        if (next < c.to_run.size() && !c.interrupted()) {
          w.job = static_cast<long>(c.to_run[next++]);
          w.started = Clock::now();
          if (send(r, kJob, static_cast<int>(w.job)))
            c.on_start(static_cast<size_t>(w.job), r);
          else
            lose(r);
        } else {
          send(r, kJob, kStop);
          w.done = true;
          --active;
        }
      }
      for (int r = 1; r < size_; ++r) {
        Worker& w = workers[static_cast<size_t>(r)];
        if (!w.done && seconds_since(w.heard) > timeout) lose(r);
      }
      if (Clock::now() - beat_sent >= kBeatEvery) {
        for (int r = 1; r < size_; ++r)
          if (!workers[static_cast<size_t>(r)].lost && !send(r, kBeat, 0)) lose(r);  // stopped ones wait for kBye
        beat_sent = Clock::now();
      }
      std::this_thread::sleep_for(kPoll);
    }
    for (int r = 1; r < size_; ++r)
      if (!workers[static_cast<size_t>(r)].lost) send(r, kBye, any_lost ? 0 : 1);
    if (any_lost) abandon();
    coordinated_ = true;
  }

  int work(const std::vector<io::SweepJob>& jobs, const SweepWorkerSetup& setup) override {
    const double timeout = rank_timeout_seconds();
    const Lifeline lifeline;  // closed when this rank returns or throws (and by the kernel on kill -9)
    pid_t pid = -1;
    int job = -1;
    auto end_run = [&] {
      if (pid <= 0) return;
      ::kill(pid, SIGTERM);
      int st = 0;
      while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
      }
      pid = -1;
    };
    if (!send(0, kAsk, -1)) throw Error("sweep: rank " + std::to_string(rank_) + " cannot reach rank 0");
    bool heard0 = false;  // rank 0 beats only once it hands out runs (it plans first)
    auto last0 = Clock::now(), beat_sent = Clock::now();
    for (;;) {
      if (setup.interrupted()) {
        end_run();
        abandon();
        return 130;
      }
      for (;;) {
        int flag = 0;
        MPI_Status st;
        check(MPI_Iprobe(0, MPI_ANY_TAG, comm_, &flag, &st), "MPI_Iprobe");
        if (!flag) break;
        int msg[3] = {0, 0, 0};
        check(MPI_Recv(msg, 3, MPI_INT, 0, st.MPI_TAG, comm_, MPI_STATUS_IGNORE), "MPI_Recv");
        heard0 = true;
        last0 = Clock::now();
        if (st.MPI_TAG == kAbort) {
          end_run();
          abandon();
          return 130;
        }
        if (st.MPI_TAG == kBye) {
          end_run();  // (none under way, unless rank 0 failed while runs were)
          if (msg[0] == 0) abandon();  // a rank died: MPI_Finalize would wait for it forever
          return 0;
        }
        if (st.MPI_TAG != kJob || msg[0] == kStop) continue;  // stopped: kBye follows
        if (msg[0] < 0 || static_cast<size_t>(msg[0]) >= jobs.size())
          throw Error("sweep: rank " + std::to_string(rank_) + " got run " + std::to_string(msg[0]) + " of " + std::to_string(jobs.size()) +
                      ": do all ranks read the same config?");
        job = msg[0];
        const io::SweepJob& j = jobs[static_cast<size_t>(job)];
        try {
          pid = start_run(setup.exe, j, job_file(setup.state_dir, j), lifeline.read_end(), setup.extra_env);
        } catch (const std::exception& e) {  // reported to rank 0 as a failed run
          std::fprintf(stderr, "sweep: rank %d: %s %s: %s\n", rank_, j.cell.c_str(), j.model.c_str(), e.what());
          if (!send(0, kAsk, job, 126 << 8)) throw Error("sweep: rank " + std::to_string(rank_) + " cannot reach rank 0");
          job = -1;
        }
      }
      if (pid > 0) {
        int st = 0;
        const pid_t got = ::waitpid(pid, &st, WNOHANG);
        if (got == pid) {
          pid = -1;
          if (!send(0, kAsk, job, st)) throw Error("sweep: rank " + std::to_string(rank_) + " cannot reach rank 0");
          job = -1;
        }
      }
      if (Clock::now() - beat_sent >= kBeatEvery) {
        send(0, kBeat, 0);
        beat_sent = Clock::now();
      }
      if (heard0 && seconds_since(last0) > timeout) {
        std::fprintf(stderr, "sweep: rank %d: nothing from rank 0 for %.0f s; ending (its run resumes with the next sweep)\n", rank_,
                     seconds_since(last0));
        end_run();
        abandon();
        return 1;
      }
      std::this_thread::sleep_for(kPoll);
    }
  }

 private:
  // A small message (sent eagerly: returns at once); false when MPI reports an error.
  bool send(int to, int tag, int job, int status = 0) {
    int msg[3] = {job, status, 0};
    return MPI_Send(msg, 3, MPI_INT, to, tag, comm_) == MPI_SUCCESS;
  }

  int rank_ = 0, size_ = 1;
  int node_index_ = 0, node_trainers_ = 1;
  MPI_Comm comm_ = MPI_COMM_NULL;
  bool abandoned_ = false, coordinated_ = false;
};

}  // namespace

std::unique_ptr<SweepRanks> join_sweep_ranks(const MpiLaunch& launch) { return std::make_unique<MpiRanks>(launch); }

}  // namespace dc::cli
