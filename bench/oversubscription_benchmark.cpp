#include "bench/oversubscription_benchmark.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/machine.h"
#include "bench/timing.h"
#include "engine/parallel.h"
#include "io/formats/atomic_file.h"
#include "kernels/base/error.h"
#include "models/model.h"
#include "models/registry.h"

extern char** environ;

namespace dc::bench {
namespace {

using nlohmann::ordered_json;

const char* kHelp = R"(usage: deepchrome bench --only oversubscription [--model M] [--batch N] [--threads N] [--epochs N]
                       [--genes N] [--copies LIST] [--policies LIST] [--no-background] [--out FILE]

Launches copies of `deepchrome bench --only e2e` (one model, one batch size, --epochs timed
epochs each) at the same time and reports each copy's median epoch time next to the solo
time of the same wait policy measured in the same run. With k copies of T threads and h
CPU-bound processes on C cores, a fair share of the cores makes each copy
max(1, (k T + h) / C) times slower (`fair_seconds`): k x solo for T = C = 2, and 2 x solo
for one copy beside a busy process per core; `target_seconds` is 1.15 x that (the issue's
bound). Timings are reported, never judged: `within_target` is for the reader.
Each wait policy of the kernels' thread team is measured (DEEPCHROME_WAIT_POLICY):
adaptive (the default), spin (always spin first, like OMP_WAIT_POLICY=active), block (sleep
at once, like passive). Also measures the read bandwidth of the caches and memory and the
batch-1 DeepChrome epoch's weight-traffic floor. A few minutes at the defaults.

  --model M        deepchrome (default) or attentivechrome
  --batch N        batch size (default: the paper's, 1 for deepchrome, 16 for attentivechrome)
  --threads N      threads per copy (default 2)
  --epochs N       epochs timed per copy (default 3)
  --genes N        training genes (default 6601)
  --copies LIST    copy counts, comma-separated (default 1,2,3; 1 is always measured)
  --policies LIST  wait policies (default adaptive,spin,block)
  --no-background  skip the case beside CPU-bound processes
  --out FILE       also write the JSON to FILE
)";

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// argv[0] for a copy: this executable, as `deepchrome bench ...` or `deepchrome-bench ...`.
std::vector<std::string> self_command() {
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) throw Error("bench: cannot find this executable (/proc/self/exe)");
  path[n] = '\0';
  const std::string exe = path;
  const std::string base = exe.substr(exe.find_last_of('/') + 1);
  if (base == "deepchrome-bench") return {exe};
  return {exe, "bench"};
}

pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    bool replaced = false;
    for (const std::string& x : extra_env)
      if (kv.compare(0, x.find('=') + 1, x, 0, x.find('=') + 1) == 0) replaced = true;
    if (!replaced) env_strings.push_back(kv);
  }
  for (const std::string& x : extra_env) env_strings.push_back(x);
  std::vector<char*> args, env;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const std::string& e : env_strings) env.push_back(const_cast<char*>(e.c_str()));
  env.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw Error("bench: cannot start " + argv[0]);
  return pid;
}

// A CPU-bound process: a busy loop until killed.
pid_t spawn_hog() {
  const pid_t pid = fork();
  if (pid < 0) throw Error("bench: fork failed");
  if (pid == 0) {
    volatile uint64_t x = 0;
    for (;;) x = x + 1;
  }
  return pid;
}

struct Settings {
  std::string model = "deepchrome";
  int batch = 0, threads = 2, epochs = 3, genes = 6601;
  std::vector<int> copies{1, 2, 3};
  std::vector<std::string> policies{"adaptive", "spin", "block"};
  bool background = true;
  std::string out;
};

// What one copy reported: its median epoch, and how many of the kernels' parallel regions
// its team ran narrowed (the adaptive policy saw other processes wanting the cores).
struct CopyResult {
  std::vector<double> epoch;
  std::vector<uint64_t> narrowed;
};

// k copies at once (and `hogs` CPU-bound processes beside them).
CopyResult run_copies(const Settings& s, const std::string& policy, int k, int hogs, const std::string& dir) {
  std::vector<pid_t> hog_pids;
  for (int i = 0; i < hogs; ++i) hog_pids.push_back(spawn_hog());
  std::vector<pid_t> pids;
  std::vector<std::string> outs;
  for (int c = 0; c < k; ++c) {
    outs.push_back(dir + "/copy" + std::to_string(c) + ".json");
    std::remove(outs.back().c_str());
    std::vector<std::string> argv = self_command();
    for (const std::string& a : {std::string("--only"), std::string("e2e"), std::string("--model"), s.model, std::string("--batch"),
                                 std::to_string(s.batch), std::string("--threads"), std::to_string(s.threads), std::string("--epochs"),
                                 std::to_string(s.epochs), std::string("--genes"), std::to_string(s.genes), std::string("--out"),
                                 outs.back()})
      argv.push_back(a);
    pids.push_back(spawn(argv, {"DEEPCHROME_WAIT_POLICY=" + policy}));
  }
  bool failed = false;
  for (pid_t p : pids) {
    int status = 0;
    waitpid(p, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = true;
  }
  for (pid_t p : hog_pids) {
    kill(p, SIGKILL);
    waitpid(p, nullptr, 0);
  }
  if (failed) throw Error("bench: a copy of the training benchmark failed (policy " + policy + ")");
  CopyResult result;
  for (const std::string& o : outs) {
    std::ifstream in(o);
    const nlohmann::json j = nlohmann::json::parse(in);
    const nlohmann::json& e = j.at("end_to_end").at(0);
    result.epoch.push_back(e.at("epoch_seconds").get<double>());
    result.narrowed.push_back(e.value("thread_regions_narrowed", uint64_t{0}));
    std::remove(o.c_str());
  }
  return result;
}

// acc[0..15] += x[i..i+15] over x[0, n): AVX2 (or AVX-512) loads where the CPU has them.
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) void sum_into(float* acc, const float* x, size_t n) {
  float a[16] = {};
  for (size_t i = 0; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) a[j] += x[i + j];
  for (int j = 0; j < 16; ++j) acc[j] += a[j];
}

// Read bandwidth (GB/s) over a buffer of `bytes`, split across `threads` threads, each
// summing its own part again and again for ~0.3 s.
double read_bandwidth_gbs(size_t bytes, int threads) {
  const size_t n = std::max<size_t>(bytes / sizeof(float), 1024 * threads);
  std::vector<float> buf(n, 1.0f);
  std::atomic<bool> go{false}, stop{false};
  std::vector<double> read(threads, 0);
  std::vector<float> sink(threads, 0);
  std::vector<std::thread> team;
  for (int t = 0; t < threads; ++t)
    team.emplace_back([&, t] {
      const size_t b = n * t / threads, e = n * (t + 1) / threads;
      while (!go.load()) std::this_thread::yield();
      float acc[16] = {};
      double bytes_read = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        sum_into(acc, buf.data() + b, e - b);
        bytes_read += static_cast<double>(e - b) * sizeof(float);
      }
      float sum = 0;
      for (float a : acc) sum += a;
      sink[t] = sum;  // the sums are used: the reads cannot be left out
      read[t] = bytes_read;
    });
  const auto t0 = Clock::now();
  go = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  for (auto& th : team) th.join();
  const double secs = since(t0);
  double total = 0, check = 0;
  for (int t = 0; t < threads; ++t) {
    total += read[t];
    check += sink[t];
  }
  if (!(check > 0)) throw Error("bench: the bandwidth loop read nothing");
  return total / secs / 1e9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int run_oversubscription_benchmark(const std::vector<std::string>& args) {
  Settings s;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= args.size()) throw InputError("bench: option " + a + " needs a value");
      return args[++i];
    };
    auto number = [&](const std::string& v, int lo, int hi) {
      try {
        size_t used = 0;
        const int x = std::stoi(v, &used);
        if (used == v.size() && x >= lo && x <= hi) return x;
      } catch (const std::exception&) {
      }
      throw InputError("bench: option " + a + " expects an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" + v +
                       "'");
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    } else if (a == "--only") {
      next();
    } else if (a == "--model") {
      s.model = next();
      if (s.model != "deepchrome" && s.model != "attentivechrome")
        throw InputError("bench: --model expects deepchrome or attentivechrome, got '" + s.model + "'");
    } else if (a == "--batch") {
      s.batch = number(next(), 1, 100000);
    } else if (a == "--threads") {
      s.threads = number(next(), 1, 1024);
    } else if (a == "--epochs") {
      s.epochs = number(next(), 1, 100);
    } else if (a == "--genes") {
      s.genes = number(next(), 10, 1000000);
    } else if (a == "--copies") {
      s.copies.clear();
      for (const std::string& c : split_list(next())) s.copies.push_back(number(c, 1, 64));
    } else if (a == "--policies") {
      s.policies = split_list(next());
      for (const std::string& p : s.policies)
        if (p != "adaptive" && p != "spin" && p != "block")
          throw InputError("bench: --policies expects adaptive, spin or block, got '" + p + "'");
    } else if (a == "--no-background") {
      s.background = false;
    } else if (a == "--out") {
      s.out = next();
    } else {
      throw InputError("bench: unknown option '" + a + "' for --only oversubscription (see deepchrome bench --only oversubscription --help)");
    }
  }
  if (s.batch == 0) s.batch = s.model == "deepchrome" ? 1 : 16;
  if (std::find(s.copies.begin(), s.copies.end(), 1) == s.copies.end()) s.copies.insert(s.copies.begin(), 1);
  std::sort(s.copies.begin(), s.copies.end());
  const int cores = available_cores();

  char tmpl[] = "/tmp/deepchrome-oversub-XXXXXX";
  const char* tmp = mkdtemp(tmpl);
  if (!tmp) throw Error("bench: cannot create a temporary directory");
  const std::string dir = tmp;

  ordered_json doc;
  doc["benchmark"] = "oversubscription";
  doc["machine"] = {{"cpu", cpu_model()}, {"hardware_threads", std::thread::hardware_concurrency()}, {"available_cores", cores},
                    {"load_average_at_start", load_average()}};
  doc["options"] = {{"model", s.model}, {"batch", s.batch}, {"threads_per_copy", s.threads}, {"epochs_per_copy", s.epochs},
                    {"genes", s.genes}, {"statistic", "each copy's median epoch"}};

  // Bandwidth and the weight-traffic floor of one training step per gene (batch 1): the
  // forward pass reads the weights, and the backward pass reads them for the input gradient
  // and writes them updated in the same sweep (SGD applied in the backward pass): at most 3
  // sweeps of the weights per gene (read, read, write), fewer where ReLU zeroes rows.
  ordered_json bw;
  const std::pair<const char*, size_t> sizes[] = {{"l2_256KiB", 256u << 10}, {"l3_4MiB", 4u << 20}, {"memory_256MiB", 256u << 20}};
  for (const auto& [name, bytes] : sizes) bw[name] = read_bandwidth_gbs(bytes, s.threads);
  doc["read_bandwidth_gbs"] = bw;
  {
    const auto model = create_model(model_defaults(s.model), 1);
    const double weight_bytes = 4.0 * static_cast<double>(model->parameter_count());
    const double weight_bw = read_bandwidth_gbs(static_cast<size_t>(weight_bytes), s.threads);
    const double sweep_s = s.genes * weight_bytes / (weight_bw * 1e9);
    doc["weight_traffic"] = {{"weight_bytes", weight_bytes},
                             {"read_bandwidth_gbs_at_weight_size", weight_bw},
                             {"one_sweep_per_gene_seconds", sweep_s},
                             {"floor_seconds_per_epoch_at_batch_1", 3 * sweep_s},
                             {"note", "one_sweep_per_gene_seconds: reading every weight once per training gene at the read "
                                      "bandwidth of a buffer the weights' size; a batch-1 step sweeps them up to 3 times "
                                      "(the forward read; the backward's read for the input gradient and write of the SGD "
                                      "update, one pass), fewer where ReLU zeroes rows of the gradient: epoch seconds / "
                                      "one_sweep_per_gene_seconds = the sweeps a step costs, all its other work included"}};
  }

  ordered_json cases = ordered_json::array();
  for (const std::string& policy : s.policies) {
    std::fprintf(stderr, "bench oversubscription: policy %s\n", policy.c_str());
    double solo = 0;
    auto add = [&](int k, int hogs, const CopyResult& copies) {
      const std::vector<double>& epochs = copies.epoch;
      ordered_json c;
      c["policy"] = policy;
      c["copies"] = k;
      c["background_processes"] = hogs;
      c["epoch_seconds"] = epochs;
      c["regions_narrowed"] = copies.narrowed;  // per copy, over its whole run
      const double worst = *std::max_element(epochs.begin(), epochs.end());
      if (k == 1 && hogs == 0) {
        solo = median(epochs);
        c["solo_seconds"] = solo;
        if (s.batch == 1) c["weight_sweeps_per_gene"] = solo / doc["weight_traffic"]["one_sweep_per_gene_seconds"].get<double>();
      } else {
        // Fair share: every thread (the copies' and one per busy process) gets an equal part of
        // the cores, so a copy runs max(1, threads wanting a core / cores) times slower.
        const double share = std::max(1.0, static_cast<double>(k * s.threads + hogs) / cores);
        c["solo_seconds"] = solo;
        c["fair_seconds"] = share * solo;
        c["worst_over_fair"] = worst / (share * solo);
        c["target_seconds"] = 1.15 * share * solo;
        c["within_target"] = worst <= 1.15 * share * solo;
      }
      cases.push_back(c);
    };
    for (int k : s.copies) add(k, 0, run_copies(s, policy, k, 0, dir));
    if (s.background) add(1, cores, run_copies(s, policy, 1, cores, dir));
  }
  doc["cases"] = cases;
  doc["machine"]["load_average_at_end"] = load_average();
  rmdir(dir.c_str());
  const std::string text = doc.dump(2) + "\n";
  std::fputs(text.c_str(), stdout);
  if (!s.out.empty()) io::write_file_atomic(s.out, text);
  return 0;
}

}  // namespace dc::bench
