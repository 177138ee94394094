#include "bench/benchmarks.h"

#include "bench/attention_benchmarks.h"
#include "bench/prepare_benchmark.h"
#include "bench/rnn_benchmarks.h"
#include "bench/timing.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/parallel.h"
#include "engine/rng.h"
#include "io/atomic_file.h"
#include "io/dataset.h"
#include "io/simulate.h"
#include "kernels/cpu/conv1d.h"
#include "kernels/cpu/dropout.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/pool.h"
#include "models/model.h"
#include "models/trainer.h"

#if DEEPCHROME_HAS_CUDA
#include "bench/cuda_bench.h"
#include "kernels/cuda/runtime.h"
#endif

namespace dc::bench {
namespace {

using nlohmann::json;
const char* kHelp = R"(usage: deepchrome bench [--quick] [--threads N] [--genes N] [--only kernels|io|e2e|cuda] [--batch N] [--model M]
                       [--device cpu|cuda] [--out FILE]

Prints one JSON document: CPU kernel timings (forward and backward, GFLOP/s or GB/s, the
fraction of the measured FMA peak, and the speed-up over the plain reference kernel in the
same run), CSV / binary-cache load times of a full-size split, and the seconds per training
epoch of DeepChrome (paper recipe: SGD) at batch 1 and 64 on a simulated full-size cell.

  --quick      small sizes and short timings (a smoke run, not a measurement)
  --threads N  CPU threads (default: all cores)
  --genes N    training genes for the end-to-end epochs (default 6601, a real cell's train split)
  --only PART  run one part: kernels, io, e2e, or cuda (the CUDA kernels next to cuDNN /
               cuBLAS; needs a build with the CUDA backend and a GPU), or prepare
               (`deepchrome prepare` vs bedtools multicov on generated BAMs: minutes; not
               part of the default run; see --only prepare --help)
  --batch N    end-to-end epochs at batch N only (default: DeepChrome 1 and 64,
               AttentiveChrome 16 and 256)
  --model M    end-to-end epochs of deepchrome or attentivechrome only
  --device D   where the end-to-end epochs train: cpu (default) or cuda
  --out FILE   also write the JSON to FILE
)";

using vf = float __attribute__((vector_size(64)));

// FMA throughput of one thread: 12 independent multiply-add chains.
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), noinline)) float fma_loop(long iters, float seed) {
  vf a[12];
  for (int j = 0; j < 12; ++j) a[j] = vf{} + seed * (j + 1);
  const vf b = vf{} + 0.999999f, c = vf{} + 1e-7f;
  for (long i = 0; i < iters; ++i)
    for (int j = 0; j < 12; ++j) a[j] = a[j] * b + c;
  vf s = {};
  for (int j = 0; j < 12; ++j) s += a[j];
  float r = 0;
  for (int k = 0; k < 16; ++k) r += s[k];
  return r;
}

// The machine's single-precision FMA peak in GFLOP/s for `threads` threads, measured.
double measure_peak_gflops(int threads, double seconds) {
  const long iters = 2'000'000;
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    double gflops = 0;
    volatile float sink = 0;
    const auto t0 = Clock::now();
    long total = 0;
    int rounds = 0;
    while (since(t0) < seconds / 3 || rounds == 0) {
#pragma omp parallel for num_threads(threads) reduction(+ : total)
      for (int t = 0; t < threads; ++t) {
        sink = sink + fma_loop(iters, 1.0f + t);
        total += iters;
      }
      ++rounds;
    }
    gflops = static_cast<double>(total) * 12 * 16 * 2 / since(t0) / 1e9;
    best = std::max(best, gflops);
  }
  return best;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  return "unknown";
}

struct Ctx {
  double sample_s;
  double peak;
  json kernels = json::array();
};

void add_compute(Ctx& c, json entry, double flops_fwd, double flops_bwd, double fwd_s, double bwd_s, double ref_fwd_s,
                 double ref_bwd_s) {
  entry["forward_ms"] = fwd_s * 1e3;
  entry["backward_ms"] = bwd_s * 1e3;
  entry["forward_gflops"] = flops_fwd / fwd_s / 1e9;
  entry["backward_gflops"] = flops_bwd / bwd_s / 1e9;
  entry["fwd_bwd_gflops"] = (flops_fwd + flops_bwd) / (fwd_s + bwd_s) / 1e9;
  entry["fraction_of_peak"] = (flops_fwd + flops_bwd) / (fwd_s + bwd_s) / 1e9 / c.peak;
  entry["reference_forward_ms"] = ref_fwd_s * 1e3;
  entry["reference_backward_ms"] = ref_bwd_s * 1e3;
  entry["speedup_vs_reference"] = (ref_fwd_s + ref_bwd_s) / (fwd_s + bwd_s);
  c.kernels.push_back(entry);
}

void bench_conv(Ctx& c, int N) {
  const cpu::Conv1dShape s{N, kInputMarks, kInputBins, 50, 10, 1, 0};
  const int LOUT = s.LOUT();
  auto x = uniform_floats(static_cast<size_t>(N) * s.CIN * s.L, 1), w = uniform_floats(50 * 5 * 10, 2), b = uniform_floats(50, 3);
  auto dy = uniform_floats(static_cast<size_t>(N) * s.COUT * LOUT, 4);
  std::vector<float> y(dy.size()), dx(x.size()), dw(w.size()), db(b.size()), col(cpu::conv1d_col_size(s));
  const double f = 2.0 * N * s.COUT * LOUT * s.CIN * s.K;
  const double fwd = time_call([&] { cpu::conv1d_forward(y.data(), col.data(), x.data(), w.data(), b.data(), s); }, c.sample_s);
  const double bwd = time_call([&] {
    cpu::conv1d_backward(dx.data(), GradMode::Overwrite, dw.data(), GradMode::Overwrite, db.data(), GradMode::Overwrite, dy.data(),
                         col.data(), w.data(), s);
  }, c.sample_s);
  const double rf = time_call([&] { cpu::conv1d_forward_reference<float>(y.data(), x.data(), w.data(), b.data(), s); }, c.sample_s, 3);
  const double rb = time_call([&] {
    cpu::conv1d_backward_reference<float>(dx.data(), GradMode::Overwrite, dw.data(), GradMode::Overwrite, db.data(),
                                          GradMode::Overwrite, dy.data(), x.data(), w.data(), s);
  }, c.sample_s, 3);
  add_compute(c, {{"op", "conv1d"}, {"batch", N}, {"shape", "x (N,5,100) * w (50,5,10) -> (N,50,91)"}}, f, 2 * f, fwd, bwd, rf, rb);
}

void bench_linear(Ctx& c, int N, int IN, int OUT) {
  const cpu::LinearShape s{N, IN, OUT};
  auto x = uniform_floats(static_cast<size_t>(N) * IN, 5), w = uniform_floats(static_cast<size_t>(IN) * OUT, 6), b = uniform_floats(OUT, 7);
  auto dy = uniform_floats(static_cast<size_t>(N) * OUT, 8);
  std::vector<float> y(dy.size()), dx(x.size()), dw(w.size()), db(b.size());
  const double f = 2.0 * N * IN * OUT;
  const double fwd = time_call([&] { cpu::linear_forward(y.data(), x.data(), w.data(), b.data(), s); }, c.sample_s);
  const double bwd = time_call([&] {
    cpu::linear_backward(dx.data(), GradMode::Overwrite, dw.data(), GradMode::Overwrite, db.data(), GradMode::Overwrite, dy.data(),
                         x.data(), w.data(), s);
  }, c.sample_s);
  const double rf = time_call([&] { cpu::linear_forward_reference<float>(y.data(), x.data(), w.data(), b.data(), s); }, c.sample_s, 3);
  const double rb = time_call([&] {
    cpu::linear_backward_reference<float>(dx.data(), GradMode::Overwrite, dw.data(), GradMode::Overwrite, db.data(),
                                          GradMode::Overwrite, dy.data(), x.data(), w.data(), s);
  }, c.sample_s, 3);
  add_compute(c, {{"op", "linear"}, {"batch", N}, {"shape", std::to_string(IN) + " -> " + std::to_string(OUT)}}, f, 2 * f, fwd, bwd,
              rf, rb);
}

void bench_pool(Ctx& c, int N) {
  const cpu::Pool1dShape s{N * 50, 91, 5, 5};
  const int LOUT = s.LOUT();
  auto x = uniform_floats(static_cast<size_t>(s.R) * s.L, 9), dy = uniform_floats(static_cast<size_t>(s.R) * LOUT, 10);
  std::vector<float> y(dy.size()), dx(x.size());
  std::vector<int32_t> arg(dy.size());
  const double fwd = time_call([&] { cpu::maxpool1d_forward(y.data(), arg.data(), x.data(), s); }, c.sample_s);
  const double bwd = time_call([&] { cpu::maxpool1d_backward(dx.data(), GradMode::Overwrite, dy.data(), arg.data(), s); }, c.sample_s);
  const double bytes_f = 4.0 * s.R * s.L + 8.0 * s.R * LOUT, bytes_b = 4.0 * s.R * s.L + 8.0 * s.R * LOUT;
  c.kernels.push_back({{"op", "max_pool1d"}, {"batch", N}, {"shape", "(N,50,91) k5 s5 -> (N,50,18)"},
                       {"forward_ms", fwd * 1e3}, {"backward_ms", bwd * 1e3},
                       {"forward_gbps", bytes_f / fwd / 1e9}, {"backward_gbps", bytes_b / bwd / 1e9},
                       {"forward_gflops", s.R * LOUT * (s.K - 1.0) / fwd / 1e9}});
}

void bench_dropout(Ctx& c, int N) {
  const int64_t n = static_cast<int64_t>(N) * 900;
  auto x = uniform_floats(static_cast<size_t>(n), 11), dy = uniform_floats(static_cast<size_t>(n), 12);
  std::vector<float> y(x.size()), dx(x.size());
  const cpu::DropoutKey key{1, 2};
  const double fwd = time_call([&] { cpu::dropout_forward(y.data(), x.data(), n, 0.5f, key); }, c.sample_s);
  const double bwd = time_call([&] { cpu::dropout_backward(dx.data(), GradMode::Overwrite, dy.data(), n, 0.5f, key); }, c.sample_s);
  c.kernels.push_back({{"op", "dropout"}, {"batch", N}, {"shape", "(N,900) p=0.5, Philox mask"},
                       {"forward_ms", fwd * 1e3}, {"backward_ms", bwd * 1e3},
                       {"forward_gbps", 8.0 * n / fwd / 1e9}, {"backward_gbps", 8.0 * n / bwd / 1e9},
                       {"forward_gelem_per_s", n / fwd / 1e9}});
}

void bench_gemm(Ctx& c, int M, int N, int K) {
  auto a = uniform_floats(static_cast<size_t>(M) * K, 13), b = uniform_floats(static_cast<size_t>(K) * N, 14);
  std::vector<float> out(static_cast<size_t>(M) * N);
  const double f = 2.0 * M * N * K;
  const double t = time_call([&] { cpu::sgemm(cpu::Trans::No, cpu::Trans::No, M, N, K, 1, a.data(), K, b.data(), N, 0, out.data(), N); },
                             c.sample_s);
  const double r = time_call([&] {
    cpu::gemm_reference<float>(cpu::Trans::No, cpu::Trans::No, M, N, K, 1, a.data(), K, b.data(), N, 0, out.data(), N);
  }, c.sample_s, 3);
  c.kernels.push_back({{"op", "sgemm"}, {"shape", std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K)},
                       {"ms", t * 1e3}, {"gflops", f / t / 1e9}, {"fraction_of_peak", f / t / 1e9 / c.peak},
                       {"reference_ms", r * 1e3}, {"speedup_vs_reference", r / t}});
}

json bench_io(const io::SimulatedCell& cell, const std::string& tmp) {
  const std::string csv = tmp + "/train.csv";
  io::write_split_csv(csv, cell.train);
  io::LoadOptions no_cache;
  no_cache.use_cache = false;
  std::vector<double> parse, cached;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = Clock::now();
    const io::Split s = io::load_split(csv, no_cache);
    parse.push_back(since(t0));
  }
  io::load_split(csv);  // writes the cache
  for (int i = 0; i < 5; ++i) {
    const auto t0 = Clock::now();
    const io::Split s = io::load_split(csv);
    cached.push_back(since(t0));
  }
  std::sort(parse.begin(), parse.end());
  std::sort(cached.begin(), cached.end());
  struct stat st{};
  stat(csv.c_str(), &st);
  std::remove((csv + ".dccache").c_str());
  std::remove(csv.c_str());
  return {{"genes", cell.train.size()}, {"rows", cell.train.size() * 100}, {"csv_bytes", static_cast<long long>(st.st_size)},
          {"csv_parse_s", parse[parse.size() / 2]}, {"cache_load_s", cached[cached.size() / 2]}};
}

// One recipe per model: the papers' optimisers (DeepChrome: SGD; AttentiveChrome: Adam
// with gradient-norm clipping at 1.0).
json bench_epoch(const io::SimulatedCell& cell, const std::string& model_name, int batch, int epochs, Device device) {
  // Valid/test evaluation is not part of the timed epoch; keep it small.
  auto small = [](const io::Split& s) {
    DataView v = s.view();
    v.n = std::min<size_t>(v.n, 200);
    return v;
  };
  nlohmann::json config = model_defaults(model_name);
  std::unique_ptr<Model> model = create_model(config, 1);
  TrainOptions o;
  const bool deepchrome = model_name == "deepchrome";
  o.optimizer = deepchrome ? "sgd" : "adam";
  o.lr = deepchrome ? 1e-3 : 1e-4;
  o.lr_decay = deepchrome ? 1e-7 : 0;
  o.clip_grad_norm = deepchrome ? 0 : 1.0;
  o.batch_size = batch;
  o.epochs = epochs;
  o.device = device;
  const TrainResult r = train_model(*model, cell.train.view(), small(cell.valid), small(cell.test), o);
  std::vector<double> secs;
  for (const auto& e : r.epochs) secs.push_back(e.seconds);
  std::sort(secs.begin(), secs.end());
  return {{"model", model_name}, {"device", device_name(device)}, {"batch", batch}, {"train_genes", cell.train.size()}, {"optimizer", o.optimizer},
          {"epochs_timed", epochs}, {"epoch_seconds", secs[secs.size() / 2]}, {"epoch_seconds_min", secs.front()},
          {"genes_per_second", cell.train.size() / secs[secs.size() / 2]}};
}

// Throws a clear error unless this build has the CUDA backend and a usable GPU.
void require_cuda(const std::string& what) {
#if DEEPCHROME_HAS_CUDA
  std::string why;
  if (!kernels::cuda::available(&why)) throw InputError("bench: " + what + ": no usable CUDA device (" + why + ")");
#else
  throw InputError("bench: " + what + ": this build of deepchrome has no CUDA backend (rebuild with -DDEEPCHROME_CUDA=ON on a "
                   "machine with the CUDA toolkit)");
#endif
}

#if DEEPCHROME_HAS_CUDA
json gpu_json() {
  const kernels::cuda::DeviceInfo d = kernels::cuda::device_info();
  return {{"name", d.name},
          {"compute_capability", std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor)},
          {"sm_count", d.sm_count},
          {"clock_ghz", d.clock_ghz},
          {"memory_gb", d.memory_gb},
          {"peak_fp32_tflops", d.peak_fp32_tflops},
          {"peak_bandwidth_gbs", d.peak_bandwidth_gbs}};
}

// Every CUDA kernel benchmark (bench/*.cu) as JSON records.
json cuda_kernels_json(bool quick) {
  json out = json::array();
  std::vector<CudaBenchRecord> records;
  for (auto* family : {&cuda_conv_gemm_benchmarks, &cuda_rnn_benchmarks, &cuda_pointwise_benchmarks}) {
    std::vector<CudaBenchRecord> r = (*family)(quick);
    records.insert(records.end(), r.begin(), r.end());
  }
  for (const CudaBenchRecord& r : records) {
    json e = {{"op", r.kernel}, {"shape", r.shape}, {"ms", r.ms}, {"peak_fraction", r.peak_fraction}};
    if (r.gflops > 0) e["gflops"] = r.gflops;
    if (r.gbs > 0) e["gbs"] = r.gbs;
    if (!r.reference.empty()) {
      e["reference"] = r.reference;
      e["reference_ms"] = r.reference_ms;
      if (r.ms > 0) e["speedup_vs_reference"] = r.reference_ms / r.ms;
    }
    if (!r.note.empty()) e["note"] = r.note;
    out.push_back(e);
  }
  return out;
}
#endif

}  // namespace

int run_benchmarks(const std::vector<std::string>& args) {
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "--only" && args[i + 1] == "prepare") return run_prepare_benchmark(args);
  bool quick = false;
  int threads = 0, genes = 6601, only_batch = 0;
  std::string only, out, only_model, device_arg = "cpu";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= args.size()) throw InputError("bench: option " + a + " needs a value");
      return args[++i];
    };
    auto to_int = [&](const std::string& v) {
      try {
        size_t used = 0;
        const int n = std::stoi(v, &used);
        if (used == v.size() && n >= 1) return n;
      } catch (const std::exception&) {
      }
      throw InputError("bench: option " + a + " expects a positive integer, got '" + v + "'");
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    } else if (a == "--quick") {
      quick = true;
    } else if (a == "--threads") {
      threads = to_int(next());
    } else if (a == "--genes") {
      genes = to_int(next());
    } else if (a == "--only") {
      only = next();
      if (only != "kernels" && only != "io" && only != "e2e" && only != "cuda")
        throw InputError("bench: --only expects kernels, io, e2e, cuda or prepare");
    } else if (a == "--device") {
      device_arg = next();
      if (device_arg != "cpu" && device_arg != "cuda") throw InputError("bench: --device expects cpu or cuda");
    } else if (a == "--model") {
      only_model = next();
      if (only_model != "deepchrome" && only_model != "attentivechrome")
        throw InputError("bench: --model expects deepchrome or attentivechrome");
    } else if (a == "--batch") {
      only_batch = to_int(next());
    } else if (a == "--out") {
      out = next();
    } else {
      throw InputError("bench: unknown option '" + a + "' (see deepchrome bench --help)");
    }
  }
  if (threads > 0) set_num_threads(threads);
  if (quick) genes = std::min(genes, 300);
  const int nthreads = num_threads();
  const Device device = device_arg == "cuda" ? Device::CUDA : Device::CPU;
  if (only == "cuda") require_cuda("--only cuda");
  if (device == Device::CUDA) require_cuda("--device cuda");

  Ctx c;
  c.sample_s = quick ? 0.002 : 0.05;
  json doc;
  doc["machine"] = {{"cpu", cpu_model()}, {"threads", nthreads}};
  doc["quick"] = quick;
#if DEEPCHROME_HAS_CUDA
  if (only == "cuda" || device == Device::CUDA) doc["machine"]["gpu"] = gpu_json();
  if (only == "cuda") doc["cuda_kernels"] = cuda_kernels_json(quick);
#endif
  if (only.empty() || only == "kernels") {
    c.peak = measure_peak_gflops(nthreads, quick ? 0.05 : 0.6);
    doc["machine"]["peak_gflops_measured"] = c.peak;
    for (int N : {1, 64}) {
      bench_conv(c, N);
      bench_linear(c, N, 900, 625);
      bench_linear(c, N, 625, 125);
      bench_linear(c, N, 125, 2);
      bench_pool(c, N);
      bench_dropout(c, N);
    }
    bench_gemm(c, quick ? 64 : 512, quick ? 64 : 512, quick ? 64 : 512);
    for (const auto& e : bench_lstm(c.sample_s, c.peak)) c.kernels.push_back(e);
    for (const auto& e : bench_attention(c.sample_s)) c.kernels.push_back(e);
    doc["kernels"] = c.kernels;
  }
  if (only.empty() || only == "io" || only == "e2e") {
    // A full-size cell: 19802 genes -> 6601 train; --genes sets the training split size.
    io::SimulateOptions so;
    so.genes = genes * 3;
    so.seed = 7;
    const io::SimulatedCell cell = io::simulate_cell_data("bench", so);
    if (only.empty() || only == "io") {
      char tmpl[] = "/tmp/deepchrome-bench-XXXXXX";
      const char* tmp = mkdtemp(tmpl);
      if (!tmp) throw Error("bench: cannot create a temporary directory");
      doc["io"] = bench_io(cell, tmp);
      rmdir(tmp);
    }
    if (only.empty() || only == "e2e") {
      json e2e = json::array();
      for (int batch : {1, 64})
        if ((only_model.empty() || only_model == "deepchrome") && (only_batch == 0 || only_batch == batch)) e2e.push_back(bench_epoch(cell, "deepchrome", batch, quick ? 1 : batch == 1 && device == Device::CPU ? 2 : 3, device));
      if ((only_model.empty() || only_model == "deepchrome") && only_batch != 0 && only_batch != 1 && only_batch != 64)
        e2e.push_back(bench_epoch(cell, "deepchrome", only_batch, quick ? 1 : 3, device));
      // On the GPU an epoch is short: time 3 (the first includes the kernels' warm-up).
      const int att_epochs = device == Device::CUDA && !quick ? 3 : 1;
      if (only_model.empty() || only_model == "attentivechrome")
        for (int batch : {16, 256})
          if (only_batch == 0 || only_batch == batch) e2e.push_back(bench_epoch(cell, "attentivechrome", batch, att_epochs, device));
      doc["end_to_end"] = e2e;
    }
  }
  const std::string text = doc.dump(2) + "\n";
  std::fputs(text.c_str(), stdout);
  if (!out.empty()) io::write_file_atomic(out, text);
  return 0;
}

}  // namespace dc::bench
