// The CPU kernels' team of threads: our own pool instead of OpenMP's parallel regions, so
// that how a waiting thread waits is ours to decide.
//
// A batch-of-one training step opens a dozen short parallel regions a few microseconds
// apart, so waiting threads must spin (waking a sleeping thread costs more than the work).
// But a spinning thread holds its core: when more threads want to run than there are cores
// (two training runs on one machine, a compiler beside us), a team that spins waits for a
// member the scheduler has parked, while burning the time slice that member needs, and a
// run slows down 3-6x. OpenMP's answer is one global policy (OMP_WAIT_POLICY): active
// collapses when shared, passive costs 60% alone.
//
// Every wait here (workers waiting for the next region, the leader waiting for the team to
// finish, the barrier inside a region) spins, then sleeps on a futex. How long it spins
// adapts per thread: each wait is timed, and one that a 200 us spin would not have caught
// (or during which the spinning thread was preempted) counts as long; when recent waits
// were long the thread spins only 2 us and sleeps.
//
// But no way of waiting makes a team of 2 fast on 2 cores that other threads want too:
// each region waits for its slowest member, and a member the scheduler parked holds up the
// whole team for a time slice. So the adaptive policy also narrows the team: the leader
// reads the kernel's count of runnable threads (/proc/loadavg, every 2 ms, a 2 us read),
// subtracts its own awake members, and while other processes' threads want the cores the
// team would use (averaged over ~16 ms), regions run on as many fewer members, down to the
// leader alone; the parked workers sleep, so each run gets a core of its own and the
// scheduler shares the cores fairly between runs. When the load is gone the team widens
// again within ~25 ms. Measured on 2 cores, DeepChrome batch 1 (bench --only
// oversubscription): two runs at once take 0.9-1.2 x one run alone each (a fair share is
// 2 x), three 1.5-1.7 x (3 x), one beside two busy loops 1.5 x (2 x); with the team
// spinning whole: 7-9 x and 2.7 x.
//
// The team is the calling thread (member 0) and team_size() - 1 workers. Work is split
// with thread_range(n) exactly as before (member t of T gets rows [n t / T, n (t+1) / T)).
// How many members a region gets depends on the machine's load, so no kernel's result may
// depend on it: every kernel keeps its sums in one order whatever the split (the kernels'
// and models' tests check the bits across team sizes, policies and narrowing). A region
// opened inside a region runs on the calling thread alone.
#pragma once

#include <cstdint>
#include <type_traits>

namespace dc::kernels::cpu {

// Threads of the team, the caller included (>= 1). Changing it joins and restarts the
// workers; it must not be called from inside a region.
void set_team_size(int n);
int team_size();

// Inside a region: this thread's member index and the region's members (the team's size, or
// fewer when the adaptive policy narrowed it); outside: 0 and 1.
int team_member();
int team_members();

// Runs fn(ctx) on every member of the team (the caller is member 0) and returns when all
// have returned. Inside a region, or with a team of one, runs it on the caller alone.
// An exception thrown by a worker ends the process (the kernels do not throw).
void run_team(void (*fn)(void*), void* ctx);

template <class F>
void run_team(F&& f) {
  run_team([](void* c) { (*static_cast<std::remove_reference_t<F>*>(c))(); }, static_cast<void*>(&f));
}

// Waits until every member of the current team has reached it (a no-op outside a region).
void team_barrier();

// How waiting threads behave (for tests and benchmarks; the default is adaptive):
//   Adaptive: spin 200 us or, when recent waits were long, 2 us; then sleep; and narrow the
//             team while other processes want the cores
//   Spin:     always spin the full budget before sleeping (OMP_WAIT_POLICY=active-like);
//             the whole team always
//   Block:    sleep at once (passive); the whole team always
enum class WaitPolicy { Adaptive, Spin, Block };
void set_wait_policy(WaitPolicy p);
WaitPolicy wait_policy();

// The cores this process may use: the affinity mask, capped by a cgroup CPU quota
// (a container limited to 2 CPUs on a 64-core host gives 2), at least 1.
int available_cores();

// Counters since start (for benchmarks): waits satisfied by spinning, waits that slept, and
// regions the adaptive policy ran on fewer members than the team (the machine was shared).
struct WaitStats {
  uint64_t spun = 0, slept = 0, narrowed = 0;
};
WaitStats wait_stats();

// The adaptive policy's probe of the machine: the number of threads, all processes, that
// are running or waiting for a core (this team's awake members included), or -1 when
// unknown. The default reads /proc/loadavg where its count is about this process's cores
// (no cgroup CPU quota, affinity to every online CPU), else says -1. Tests substitute
// their own (nullptr restores the default) and how often it is read (default 2 ms).
using RunnableProbe = int (*)();
void set_runnable_probe(RunnableProbe probe, int64_t every_ns = 2'000'000);
int system_runnable_threads();  // the default probe

}  // namespace dc::kernels::cpu
