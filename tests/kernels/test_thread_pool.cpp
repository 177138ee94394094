// The kernels' team of threads (kernels/cpu/thread_pool.h): every member runs a region
// once with its own index, thread_range tiles [0, n) in member order, the barrier orders
// phases, nested regions run inline, resizing works, and all of it under each wait policy
// (spin, block, adaptive) and after fork.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <algorithm>
#include <thread>
#include <vector>

#include "kernels/cpu/common.h"
#include "kernels/cpu/thread_pool.h"
#include "test_util.h"

namespace cpu = dc::kernels::cpu;

namespace {

// The adaptive policy narrows the team when the machine is busy (other processes' threads
// want the cores): cases that count members see a machine whose load is unknown, which keeps
// the team whole, unless they install their own probe.
int unknown_load() { return -1; }

// Restores the team size, wait policy and load probe a case changed.
struct PoolState {
  int size = cpu::team_size();
  cpu::WaitPolicy policy = cpu::wait_policy();
  PoolState() { cpu::set_runnable_probe(&unknown_load, 0); }
  ~PoolState() {
    cpu::set_team_size(size);
    cpu::set_wait_policy(policy);
    cpu::set_runnable_probe(nullptr);
  }
};

// A machine whose runnable-thread count the test sets.
std::atomic<int> g_runnable{0};
std::atomic<int> g_probes{0};
int test_load() {
  g_probes.fetch_add(1);
  return g_runnable.load();
}

// Runs `regions` empty regions and returns the members of the last one.
int members_of_last_region(int regions) {
  std::atomic<int> members{0}, runs{0};
  for (int i = 0; i < regions; ++i) {
    runs = 0;
    cpu::run_team([&] {
      members = cpu::team_members();
      runs.fetch_add(1);
    });
    REQUIRE(runs.load() == members.load());  // each member of the region ran it once
  }
  return members.load();
}

const cpu::WaitPolicy kPolicies[] = {cpu::WaitPolicy::Adaptive, cpu::WaitPolicy::Spin, cpu::WaitPolicy::Block};

}  // namespace

TEST_CASE("thread pool: each member runs a region once, with its own index") {
  PoolState keep;
  for (cpu::WaitPolicy policy : kPolicies) {
    cpu::set_wait_policy(policy);
    for (int n : {1, 2, 3, 5}) {
      CAPTURE(n);
      cpu::set_team_size(n);
      CHECK(cpu::team_size() == n);
      for (int rep = 0; rep < 200; ++rep) {
        std::vector<std::atomic<int>> runs(static_cast<size_t>(n));
        std::atomic<int> wrong_size{0};
        cpu::run_team([&] {
          runs[static_cast<size_t>(cpu::team_member())].fetch_add(1);
          if (cpu::team_members() != n) wrong_size.fetch_add(1);
        });
        for (int m = 0; m < n; ++m) REQUIRE(runs[static_cast<size_t>(m)].load() == 1);
        REQUIRE(wrong_size.load() == 0);
      }
      // Outside a region: member 0 of 1.
      CHECK(cpu::team_member() == 0);
      CHECK(cpu::team_members() == 1);
    }
  }
}

TEST_CASE("thread pool: thread_range tiles [0, n) in member order; the barrier separates phases") {
  PoolState keep;
  for (cpu::WaitPolicy policy : kPolicies) {
    cpu::set_wait_policy(policy);
    for (int n : {2, 3, 4}) {
      CAPTURE(n);
      cpu::set_team_size(n);
      const int64_t len = 1000;
      std::vector<int> owner(len, -1);
      std::vector<int64_t> phase1(static_cast<size_t>(n), 0), seen(static_cast<size_t>(n), 0);
      for (int rep = 0; rep < 300; ++rep) {
        std::fill(owner.begin(), owner.end(), -1);
        cpu::run_team([&] {
          const int me = cpu::team_member();
          const cpu::Range r = cpu::thread_range(len);
          for (int64_t i = r.begin; i < r.end; ++i) owner[static_cast<size_t>(i)] = me;
          phase1[static_cast<size_t>(me)] = rep * 10 + me;
          cpu::team_barrier();
          // After the barrier every member's phase-1 write is visible.
          int64_t sum = 0;
          for (int m = 0; m < n; ++m) sum += phase1[static_cast<size_t>(m)];
          seen[static_cast<size_t>(me)] = sum;
          cpu::team_barrier();  // two barriers in a row reuse the barrier safely
        });
        int64_t want = 0;
        for (int m = 0; m < n; ++m) want += rep * 10 + m;
        for (int m = 0; m < n; ++m) REQUIRE(seen[static_cast<size_t>(m)] == want);
        // Contiguous, in member order, covering everything.
        int last = 0;
        for (int64_t i = 0; i < len; ++i) {
          REQUIRE(owner[static_cast<size_t>(i)] >= last);
          last = owner[static_cast<size_t>(i)];
        }
        REQUIRE(owner.front() == 0);
        REQUIRE(owner.back() == n - 1);
      }
    }
  }
}

TEST_CASE("thread pool: a region inside a region runs on its caller alone") {
  PoolState keep;
  cpu::set_team_size(3);
  std::atomic<int> inner_runs{0}, inner_not_alone{0};
  std::vector<int> members_after(3, -1);
  cpu::run_team([&] {
    const int me = cpu::team_member();
    CHECK_FALSE(cpu::use_threads(1 << 30, 0));  // kernels do not nest
    cpu::run_team([&] {
      inner_runs.fetch_add(1);
      if (cpu::team_member() != 0 || cpu::team_members() != 1) inner_not_alone.fetch_add(1);
      cpu::team_barrier();  // a no-op in a team of one
    });
    members_after[static_cast<size_t>(me)] = cpu::team_member();  // restored
  });
  CHECK(inner_runs.load() == 3);
  CHECK(inner_not_alone.load() == 0);
  CHECK(members_after == std::vector<int>{0, 1, 2});
}

TEST_CASE("thread pool: parallel_for sums the same as one thread, under every policy") {
  PoolState keep;
  const int64_t n = 1 << 20;
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = static_cast<float>((i * 7919) % 1000) * 1e-3f;
  auto blocked_sum = [&] {
    // Fixed blocks of 4096 summed per block, then in block order: independent of the team.
    const int64_t blocks = n / 4096;
    std::vector<float> part(static_cast<size_t>(blocks));
    cpu::parallel_for(blocks, 0, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        float s = 0;
        for (int64_t i = b * 4096; i < (b + 1) * 4096; ++i) s += x[static_cast<size_t>(i)];
        part[static_cast<size_t>(b)] = s;
      }
    });
    float total = 0;
    for (float p : part) total += p;
    return total;
  };
  cpu::set_team_size(1);
  const float one = blocked_sum();
  for (cpu::WaitPolicy policy : kPolicies) {
    cpu::set_wait_policy(policy);
    for (int t : {2, 3}) {
      cpu::set_team_size(t);
      for (int rep = 0; rep < 20; ++rep) CHECK(dc::test::bit_identical(std::vector<float>{blocked_sum()}, std::vector<float>{one}));
    }
  }
}

TEST_CASE("thread pool: waits that sleep and waits that spin are both exercised") {
  PoolState keep;
  cpu::set_team_size(2);
  cpu::set_wait_policy(cpu::WaitPolicy::Block);
  const cpu::WaitStats a = cpu::wait_stats();
  for (int i = 0; i < 50; ++i) cpu::run_team([] {});
  const cpu::WaitStats b = cpu::wait_stats();
  CHECK(b.slept > a.slept);  // Block never spins
  cpu::set_wait_policy(cpu::WaitPolicy::Spin);
  for (int i = 0; i < 2000; ++i) cpu::run_team([] {});
  const cpu::WaitStats c = cpu::wait_stats();
  CHECK(c.spun > b.spun);  // back-to-back regions are caught while spinning
}

TEST_CASE("thread pool: the adaptive team narrows while other threads want the cores and widens back") {
  PoolState keep;
  cpu::set_runnable_probe(&test_load, 0);  // read at every region
  for (int n : {2, 3}) {
    CAPTURE(n);
    cpu::set_team_size(n);
    cpu::set_wait_policy(cpu::WaitPolicy::Adaptive);
    g_runnable = 0;  // nobody else: the whole team
    CHECK(members_of_last_region(50) == n);
    const uint64_t narrowed_before = cpu::wait_stats().narrowed;
    g_runnable = 100 + n;  // a crowd: the leader alone
    g_probes = 0;
    CHECK(members_of_last_region(50) == 1);
    CHECK(g_probes.load() == 50);
    CHECK(cpu::wait_stats().narrowed >= narrowed_before + 40);
    g_runnable = 0;  // gone: whole again (after the average forgets the crowd)
    CHECK(members_of_last_region(300) == n);
    // The fixed policies never narrow.
    for (cpu::WaitPolicy fixed : {cpu::WaitPolicy::Spin, cpu::WaitPolicy::Block}) {
      cpu::set_wait_policy(fixed);
      g_runnable = 100 + n;
      CHECK(members_of_last_region(50) == n);
    }
    g_runnable = 0;
  }
}

TEST_CASE("thread pool: the default load probe reads a count or says unknown") {
  const int r = cpu::system_runnable_threads();
  CHECK(r >= -1);
  if (r >= 0) CHECK(r >= 1);  // this thread is running
}

TEST_CASE("thread pool: a forked child gets a working team of its own") {
  PoolState keep;
  cpu::set_team_size(2);
  cpu::run_team([] {});  // the workers exist before the fork
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::atomic<int> runs{0};
    cpu::run_team([&] { runs.fetch_add(1); });
    _exit(runs.load() == 2 ? 0 : 1);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("thread pool: the cores available are at least 1 and at most the hardware's") {
  const int n = cpu::available_cores();
  CHECK(n >= 1);
  CHECK(n <= static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}
