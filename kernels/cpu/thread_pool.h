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
// (or during which the spinning thread was preempted) counts as long. Alone, regions follow
// each other within microseconds and only the real pauses (an epoch's end) are long: the
// thread spins up to 200 us. Shared, waits for a member the scheduler parked are long
// every few regions: the thread then spins only 2 us and sleeps, giving its core away at
// once, and a sleeper, unlike a spinner, is run as soon as it is woken. Measuring how long
// the sleeps last brings the full spin back when the machine frees up.
//
// The team is the calling thread (member 0) and team_size() - 1 workers. Work is split
// with thread_range(n) exactly as before (member t of T gets rows [n t / T, n (t+1) / T)),
// so results depend on the team size only where a kernel says so (none of the training
// kernels do), never on timing. A region opened inside a region runs on the calling thread
// alone.
#pragma once

#include <cstdint>
#include <type_traits>

namespace dc::kernels::cpu {

// Threads of the team, the caller included (>= 1). Changing it joins and restarts the
// workers; it must not be called from inside a region.
void set_team_size(int n);
int team_size();

// Inside a region: this thread's member index and the team's size; outside: 0 and 1.
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
//   Adaptive: spin 200 us or, when recent waits were long, 2 us; then sleep
//   Spin:     always spin the full budget before sleeping (OMP_WAIT_POLICY=active-like)
//   Block:    sleep at once (passive)
enum class WaitPolicy { Adaptive, Spin, Block };
void set_wait_policy(WaitPolicy p);
WaitPolicy wait_policy();

// The cores this process may use: the affinity mask, capped by a cgroup CPU quota
// (a container limited to 2 CPUs on a 64-core host gives 2), at least 1.
int available_cores();

// Counters since start (for benchmarks): waits satisfied by spinning and waits that slept.
struct WaitStats {
  uint64_t spun = 0, slept = 0;
};
WaitStats wait_stats();

}  // namespace dc::kernels::cpu
