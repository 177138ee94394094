// The kernels' team of threads with adaptive spin-then-sleep waits (see thread_pool.h).
#include "kernels/cpu/thread_pool.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DC_CPU_RELAX() _mm_pause()
#else
#define DC_CPU_RELAX() ((void)0)
#endif

namespace dc::kernels::cpu {
namespace {

// Longest spin before sleeping, the shortest (adaptive, on a shared machine), and the gap
// between two checks of a spin that means the thread was preempted.
constexpr int64_t kMaxSpinNs = 200'000;
constexpr int64_t kMinSpinNs = 2'000;
constexpr int64_t kPreemptedNs = 30'000;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::atomic<int> g_policy{static_cast<int>(WaitPolicy::Adaptive)};
std::atomic<bool> g_alone{false};  // the load probe's last word: no other process wants this team's cores
std::atomic<uint64_t> g_spun{0}, g_slept{0};

// Adaptive: this thread's recent share of long waits (a moving average over about
// kLongWaitMemory waits). Alone, a wait is long only where the leader really paused (an
// epoch's end, I/O): a few in a thousand. Sharing the cores, waits for a member the
// scheduler parked are long every few regions, and spinning through them would burn the
// time that member needs: above kLongWaitsToBlock the thread spins only kMinSpinNs.
thread_local float t_long_waits = 0;
constexpr float kLongWaitMemory = 64, kLongWaitsToBlock = 0.03f;
thread_local int t_member = 0, t_members = 1;
thread_local bool t_in_region = false;

// A 32-bit word that waiters watch and wakers change, with a count of sleepers so that a
// waker makes the futex call only when someone sleeps. Its own cache line.
struct alignas(64) Signal {
  std::atomic<uint32_t> word{0};
  std::atomic<uint32_t> sleepers{0};

  // Wakes the sleepers; call after changing `word`.
  void wake() {
    if (sleepers.load(std::memory_order_seq_cst) != 0)
      syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
  }

  // Returns once word != old: spins within this thread's budget, then sleeps.
  uint32_t wait_change(uint32_t old) {
    uint32_t v = word.load(std::memory_order_acquire);
    if (v != old) return v;
    const auto policy = static_cast<WaitPolicy>(g_policy.load(std::memory_order_relaxed));
    const bool adaptive = policy == WaitPolicy::Adaptive;
    // Adaptive: the full spin while the load probe sees this team alone on its cores (then
    // a long wait is the leader's own serial work, and a sleeper would only add its wake-up
    // to the next region); else by the share of recent long waits.
    const int64_t budget = policy == WaitPolicy::Block ? 0
                           : policy == WaitPolicy::Spin ? kMaxSpinNs
                           : g_alone.load(std::memory_order_relaxed) || t_long_waits < kLongWaitsToBlock ? kMaxSpinNs
                                                                                                   : kMinSpinNs;
    const int64_t start = now_ns();
    bool preempted = false;
    if (budget > 0) {
      int64_t last = start;
      for (;;) {
        for (int i = 0; i < 32; ++i) {
          DC_CPU_RELAX();
          v = word.load(std::memory_order_acquire);
          if (v != old) {
            if (adaptive) t_long_waits -= t_long_waits / kLongWaitMemory;  // a short wait
            g_spun.fetch_add(1, std::memory_order_relaxed);
            return v;
          }
        }
        const int64_t t = now_ns();
        // 32 pauses take about a microsecond: a longer gap means the scheduler took the
        // core away from this thread, so others want it: stop spinning and sleep (a
        // sleeper, unlike a spinner, is run at once when woken).
        if (t - last > kPreemptedNs) {
          preempted = true;
          break;
        }
        last = t;
        if (t - start > budget) break;
      }
    }
    g_slept.fetch_add(1, std::memory_order_relaxed);
    for (;;) {
      sleepers.fetch_add(1, std::memory_order_seq_cst);
      v = word.load(std::memory_order_seq_cst);
      if (v == old)
        syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, old, nullptr, nullptr, 0);
      sleepers.fetch_sub(1, std::memory_order_seq_cst);
      v = word.load(std::memory_order_acquire);
      if (v != old) break;
    }
    if (adaptive) {
      // Long: the full spin budget would not have caught it, or the spin was preempted.
      const bool long_wait = preempted || now_ns() - start > kMaxSpinNs;
      t_long_waits += ((long_wait ? 1.0f : 0.0f) - t_long_waits) / kLongWaitMemory;
    }
    return v;
  }
};

int env_threads() {
  const char* v = std::getenv("OMP_NUM_THREADS");
  if (!v) return 0;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return end != v && n > 0 && n < 4096 ? static_cast<int>(n) : 0;
}

// The cgroup's CPU quota in cores, rounded up (0: none). cgroup v2, then v1.
int cgroup_quota_cores() {
  {
    std::ifstream in("/sys/fs/cgroup/cpu.max");
    std::string quota;
    long long period = 0;
    if (in >> quota >> period && quota != "max" && period > 0) {
      const long long q = std::atoll(quota.c_str());
      if (q > 0) return static_cast<int>((q + period - 1) / period);
    }
  }
  std::ifstream q("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), p("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  long long quota = 0, period = 0;
  if (q >> quota && p >> period && quota > 0 && period > 0) return static_cast<int>((quota + period - 1) / period);
  return 0;
}

// The adaptive policy's view of the machine: how many threads of other processes want a
// core. The kernel's count of runnable threads (the fourth field of /proc/loadavg, "R/N")
// minus this team's awake members, averaged over the last ~16 samples; the leader takes a
// sample every kSampleNs at the start of a region (a 2 us read). Only where that count is
// about the cores we may use: no cgroup CPU quota, and an affinity mask of every online CPU
// (else the probe says "unknown" and the team keeps its size).
constexpr int64_t kSampleNs = 2'000'000;
constexpr double kBusyMemory = 8;

int loadavg_runnable() {
  static const int fd = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) != online || cgroup_quota_cores() > 0) return -1;
    return open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  }();
  if (fd < 0) return -1;
  char buf[128];
  const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char* p = buf;
  for (int field = 0; field < 3; ++field) {
    while (*p && *p != ' ') ++p;
    while (*p == ' ') ++p;
  }
  if (*p < '0' || *p > '9') return -1;
  return std::atoi(p);
}

std::atomic<RunnableProbe> g_probe{&loadavg_runnable};
std::atomic<int64_t> g_sample_ns{kSampleNs};
std::atomic<uint64_t> g_narrowed{0};

struct Pool {
  int size = 1;  // members, the leader included
  std::vector<std::thread> workers;
  std::unique_ptr<Signal[]> go;  // go[m].word: regions handed to worker m, cumulative
  Signal finished;               // word: workers' finished regions, cumulative
  Signal barrier;                // word: the barrier's generation
  alignas(64) std::atomic<uint32_t> arrived{0};
  alignas(64) void (*fn)(void*) = nullptr;
  void* ctx = nullptr;
  int members = 1;  // of the region in flight: the leader and workers 1 .. members - 1
  bool stop = false;
  // The adaptive team width (leader only): members of the next region, and the load seen.
  int width = 1;
  int64_t next_sample_ns = 0;
  double others_busy = 0;
  int cores = 1;  // available_cores() when the team was made

  // `seen`: go[member]'s count when the worker was made (read by start(), not by the
  // worker, which may first run after the leader has already handed it a region).
  void worker(int member, uint32_t seen) {
    Signal& mine = go[member];
    for (;;) {
      seen = mine.wait_change(seen);
      if (stop) return;
      t_member = member;
      t_members = members;
      t_in_region = true;
      try {
        fn(ctx);
      } catch (...) {
        std::fputs("deepchrome: internal error: a kernel threw on a worker thread\n", stderr);
        std::terminate();
      }
      t_in_region = false;
      t_member = 0;
      t_members = 1;
      finished.word.fetch_add(1, std::memory_order_acq_rel);
      finished.wake();
    }
  }

  void start(int n) {
    size = n;
    width = n;
    cores = available_cores();
    others_busy = 0;
    next_sample_ns = 0;
    stop = false;
    go.reset(new Signal[static_cast<size_t>(n)]);
    for (int m = 1; m < n; ++m) {
      const uint32_t seen = go[m].word.load(std::memory_order_acquire);
      workers.emplace_back([this, m, seen] { worker(m, seen); });
    }
  }

  void join() {
    stop = true;
    for (int m = 1; m < size; ++m) {
      go[m].word.fetch_add(1, std::memory_order_acq_rel);
      go[m].wake();
    }
    for (auto& w : workers) w.join();
    workers.clear();
    size = 1;
    width = 1;
  }

  // Adaptive: the members the next region gets. When threads of other processes want
  // cores this team would otherwise use, the team narrows by as many (down to the leader
  // alone) and the parked workers sleep; it widens again when they are gone. Splitting a
  // region over fewer members changes no result (thread_pool.h).
  int adapt_width() {
    if (size == 1 || static_cast<WaitPolicy>(g_policy.load(std::memory_order_relaxed)) != WaitPolicy::Adaptive)
      return size;
    const int64_t now = now_ns();
    if (now < next_sample_ns) return width;
    next_sample_ns = now + g_sample_ns.load(std::memory_order_relaxed);
    const int runnable = g_probe.load(std::memory_order_relaxed)();
    if (runnable < 0) {
      g_alone.store(false, std::memory_order_relaxed);
      return width = size;
    }
    // This team's runnable threads: the leader and the workers not asleep.
    int ours = 1;
    for (int m = 1; m < size; ++m) ours += go[m].sleepers.load(std::memory_order_relaxed) == 0 ? 1 : 0;
    others_busy += (std::max(0, runnable - ours) - others_busy) / kBusyMemory;
    // Cores beyond this team's size absorb other threads first.
    const double spare = std::max(0, cores - size);
    const double crowd = others_busy - spare;  // other threads on the cores this team wants
    int w = width;
    while (w > 1 && size - w < crowd - 0.5) --w;         // narrow: over half a thread more
    while (w < size && size - w > crowd + 0.75) ++w;    // widen: a core clearly free again
    g_alone.store(w == size && crowd < 0.25, std::memory_order_relaxed);
    return width = w;
  }

  void run(void (*f)(void*), void* c) {
    const int n = adapt_width();
    if (n < size) g_narrowed.fetch_add(1, std::memory_order_relaxed);
    if (n == 1) {
      t_in_region = true;
      f(c);
      t_in_region = false;
      return;
    }
    fn = f;
    ctx = c;
    members = n;
    const uint32_t done = finished.word.load(std::memory_order_acquire) + static_cast<uint32_t>(n - 1);
    for (int m = 1; m < n; ++m) {
      go[m].word.fetch_add(1, std::memory_order_acq_rel);
      go[m].wake();
    }
    t_member = 0;
    t_members = n;
    t_in_region = true;
    f(c);
    t_in_region = false;
    t_member = 0;
    t_members = 1;
    uint32_t v = finished.word.load(std::memory_order_acquire);
    while (v != done) v = finished.wait_change(v);
  }

  void arrive() {
    const uint32_t gen = barrier.word.load(std::memory_order_acquire);
    if (arrived.fetch_add(1, std::memory_order_acq_rel) + 1 == static_cast<uint32_t>(members)) {
      arrived.store(0, std::memory_order_relaxed);
      barrier.word.fetch_add(1, std::memory_order_acq_rel);
      barrier.wake();
    } else {
      barrier.wait_change(gen);
    }
  }
};

std::mutex g_mutex;                  // guards creating and resizing the pool
std::atomic<Pool*> g_pool{nullptr};  // never destroyed: its threads end with the process
std::atomic<int> g_size{0};

// DEEPCHROME_WAIT_POLICY=adaptive|spin|block (for measurements; the default is adaptive).
void policy_from_env() {
  const char* v = std::getenv("DEEPCHROME_WAIT_POLICY");
  if (!v) return;
  const std::string s = v;
  if (s == "spin") set_wait_policy(WaitPolicy::Spin);
  else if (s == "block") set_wait_policy(WaitPolicy::Block);
  else if (s == "adaptive") set_wait_policy(WaitPolicy::Adaptive);
  else std::fprintf(stderr, "deepchrome: ignoring DEEPCHROME_WAIT_POLICY='%s' (adaptive, spin or block)\n", v);
}

Pool& pool() {
  Pool* p = g_pool.load(std::memory_order_acquire);
  if (p) return *p;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_pool.load()) {
    policy_from_env();
    // A forked child has the memory of the pool but not its threads: it starts over.
    static std::once_flag fork_handler;
    std::call_once(fork_handler, [] { pthread_atfork(nullptr, nullptr, [] { g_pool = nullptr; }); });
    auto* fresh = new Pool;
    int n = g_size.load();
    if (n <= 0) n = env_threads() > 0 ? env_threads() : available_cores();
    fresh->start(n);
    g_size.store(n);
    g_pool.store(fresh, std::memory_order_release);
  }
  return *g_pool.load();
}

}  // namespace

int available_cores() {
  int n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = std::max(1, std::min(n, CPU_COUNT(&set)));
  const int quota = cgroup_quota_cores();
  if (quota > 0) n = std::min(n, quota);
  return n;
}

void set_team_size(int n) {
  n = std::max(1, n);
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(g_mutex);
  if (p.size == n) return;
  p.join();  // the same Pool, restarted with n members
  p.start(n);
  g_size.store(n);
}

int team_size() { return pool().size; }
int team_member() { return t_member; }
int team_members() { return t_members; }

void run_team(void (*fn)(void*), void* ctx) {
  if (t_in_region) {
    // Nested: the caller alone, as member 0 of 1, then back to its own place in the team.
    const int member = t_member, members = t_members;
    t_member = 0;
    t_members = 1;
    fn(ctx);
    t_member = member;
    t_members = members;
    return;
  }
  pool().run(fn, ctx);  // a team of one (or narrowed to one) runs it on the caller
}

void team_barrier() {
  if (!t_in_region || t_members <= 1) return;
  pool().arrive();
}

void set_wait_policy(WaitPolicy p) { g_policy.store(static_cast<int>(p)); }
WaitPolicy wait_policy() { return static_cast<WaitPolicy>(g_policy.load()); }
WaitStats wait_stats() { return {g_spun.load(), g_slept.load(), g_narrowed.load()}; }

void set_runnable_probe(RunnableProbe probe, int64_t every_ns) {
  g_probe.store(probe ? probe : &loadavg_runnable);
  g_sample_ns.store(std::max<int64_t>(0, every_ns));
}

int system_runnable_threads() { return loadavg_runnable(); }

}  // namespace dc::kernels::cpu
