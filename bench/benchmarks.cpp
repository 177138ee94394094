#include "bench/benchmarks.h"

#include "bench/explain_benchmark.h"
#include "bench/machine.h"
#include "bench/oversubscription_benchmark.h"
#include "kernels/cpu/thread_pool.h"
#include "bench/prepare_benchmark.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/cuda_bench.h"
#include "bench/op_benchmarks.h"
#include "bench/record.h"
#include "bench/timing.h"
#include "engine/op_table.h"
#include "engine/parallel.h"
#include "io/formats/atomic_file.h"
#include "io/formats/dataset.h"
#include "io/formats/simulate.h"
#include "kernels/base/error.h"
#include "kernels/base/philox.h"
#include "kernels/contract/conv1d.h"
#include "kernels/contract/gemm.h"
#include "kernels/cuda/runtime.h"
#include "models/model.h"
#include "models/registry.h"
#include "models/trainer.h"

namespace dc::bench {
namespace {

using nlohmann::json;
const char* kHelp = R"(usage: deepchrome bench [--quick] [--threads N] [--genes N] [--only kernels|io|e2e|cuda|prepare|explain|oversubscription] [--batch N] [--model M]
                       [--device cpu|cuda] [--out FILE]

Prints one JSON document: every op of the op table at the models' sizes, forward and
backward, validated and then timed (GFLOP/s or GB/s, the fraction of the measured FMA peak,
the speed-up over the op's plain reference loops in the same run), the SGEMM, CSV /
binary-cache load times of a full-size split, and the seconds per training epoch of
DeepChrome (paper recipe: SGD) at batch 1 and 64 and AttentiveChrome (Adam) at batch 16 and
256 on a simulated full-size cell.

  --quick      small sizes and short timings (a smoke run, not a measurement)
  --threads N  CPU threads (default: all cores)
  --genes N    training genes for the end-to-end epochs (default 6601, a real cell's train split)
  --only PART  run one part: kernels, io, e2e, or cuda (every op on the GPU, validated
               against the CPU, and our CUDA kernels next to cuDNN / cuBLAS; needs a build
               with the CUDA backend and a GPU), or prepare (`deepchrome prepare` vs bedtools
               multicov on generated BAMs: minutes; not part of the default run; see
               --only prepare --help), or explain (the explain methods on DeepChrome and
               AttentiveChrome: about a minute; not part of the default run; see
               --only explain --help), or oversubscription (k copies of a training epoch
               at once, and one beside CPU-bound processes, next to the solo time: a few
               minutes; see --only oversubscription --help)
  --op NAME    kernels / cuda: only this op of the table (repeatable)
  --epochs N   end-to-end: epochs timed per setting (default: 1-3; the median is reported)
  --batch N    end-to-end epochs at batch N only (default: DeepChrome 1 and 64,
               AttentiveChrome 16 and 256)
  --model M    end-to-end epochs of deepchrome or attentivechrome only
  --device D   where the end-to-end epochs train: cpu (default) or cuda
  --out FILE   also write the JSON to FILE
)";

using vf = float __attribute__((vector_size(64)));

// FMA throughput of one thread: 12 independent multiply-add chains. (A target_clones function
// is called through its resolver and never inlined; clang refuses an explicit noinline with it.)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) float fma_loop(long iters, float seed) {
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

// The machine's single-precision FMA peak in GFLOP/s for the kernels' team (bench --threads
// sets its size), measured: every member runs the loop; the members that ran are counted.
double measure_peak_gflops(double seconds) {
  const long iters = 2'000'000;
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    std::atomic<float> sink{0};
    std::atomic<long> total{0};
    const auto t0 = Clock::now();
    int rounds = 0;
    while (since(t0) < seconds / 3 || rounds == 0) {
      kernels::cpu::run_team([&] {
        sink.store(fma_loop(iters, 1.0f + static_cast<float>(kernels::cpu::team_member())), std::memory_order_relaxed);
        total.fetch_add(iters, std::memory_order_relaxed);
      });
      ++rounds;
    }
    const double gflops = static_cast<double>(total.load()) * 12 * 16 * 2 / since(t0) / 1e9;
    best = std::max(best, gflops);
  }
  return best;
}

// The SGEMM (the building block of linear, conv1d and bmm) against the plain triple loop.
BenchRecord bench_gemm(int M, int N, int K, double sample_s, double peak) {
  using kernels::Trans;
  auto a = uniform_floats(static_cast<size_t>(M) * K, 13), b = uniform_floats(static_cast<size_t>(K) * N, 14);
  std::vector<float> out(static_cast<size_t>(M) * N), ref(out.size());
  kernels::cpu::sgemm(Trans::No, Trans::No, M, N, K, 1, a.data(), K, b.data(), N, 0, out.data(), N);
  kernels::gemm_reference<float>(Trans::No, Trans::No, M, N, K, 1, a.data(), K, b.data(), N, 0, ref.data(), N);
  BenchRecord r;
  r.op = "sgemm";
  r.shape = std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K);
  r.device = "cpu";
  r.pass = "call";
  r.flops = 2.0 * M * N * K;
  r.peak_gflops = peak;
  r.validated_against = "the plain triple loop (kernels/contract/gemm.h)";
  r.max_error = max_abs_diff(out, ref);
  r.ms = 1e3 * time_call([&] { kernels::cpu::sgemm(Trans::No, Trans::No, M, N, K, 1, a.data(), K, b.data(), N, 0, out.data(), N); },
                         sample_s);
  r.reference = "reference";
  r.reference_ms = 1e3 * time_call([&] {
    kernels::gemm_reference<float>(Trans::No, Trans::No, M, N, K, 1, a.data(), K, b.data(), N, 0, ref.data(), N);
  }, sample_s, 3);
  return r;
}

// The conv1d weight gradient (dw and db from dy and the kept im2col: a COUT x CK x N*LOUT
// product, DeepChrome's layer at batch 64 = 50 x 50 x 5824) against the packed SGEMM doing
// the same product (from dy laid out as the GEMM wants it) in the same run.
BenchRecord bench_conv_weight_gradient(int N, double sample_s, double peak) {
  using kernels::Trans;
  const kernels::Conv1dShape s{N, 5, 100, 50, 10, 1, 0};
  const int CK = s.CIN * s.K, LOUT = s.LOUT(), NL = N * LOUT, ldc = kernels::conv1d_col_stride(s);
  const auto x = uniform_floats(static_cast<size_t>(N) * s.CIN * s.L, 21), w = uniform_floats(static_cast<size_t>(s.COUT) * CK, 22),
             dy = uniform_floats(static_cast<size_t>(N) * s.COUT * LOUT, 23);
  std::vector<float> y(dy.size()), col(static_cast<size_t>(kernels::conv1d_col_size(s))), dw(w.size()), db(s.COUT);
  kernels::cpu::conv1d_forward(y.data(), col.data(), x.data(), w.data(), nullptr, s);
  auto run = [&] {
    kernels::cpu::conv1d_backward(GradOut<float>{}, GradOut<float>{dw.data(), GradMode::Overwrite},
                                  GradOut<float>{db.data(), GradMode::Overwrite}, dy.data(), col.data(), w.data(), s);
  };
  run();
  std::vector<double> dw_ref(w.size()), db_ref(db.size());
  const std::vector<double> xd(x.begin(), x.end()), wd(w.begin(), w.end()), dyd(dy.begin(), dy.end());
  kernels::conv1d_backward_reference(GradOut<double>{}, GradOut<double>{dw_ref.data(), GradMode::Overwrite},
                                     GradOut<double>{db_ref.data(), GradMode::Overwrite}, dyd.data(), xd.data(), wd.data(), s);
  BenchRecord r;
  r.op = "conv1d_weight_gradient";
  r.shape = std::to_string(s.COUT) + "x" + std::to_string(CK) + "x" + std::to_string(NL) + " (N=" + std::to_string(N) +
            " x (5,100) w (50,5,10): dw and db)";
  r.device = "cpu";
  r.pass = "backward";
  r.flops = 2.0 * s.COUT * CK * NL;
  r.peak_gflops = peak;
  r.validated_against = "the double reference (kernels/contract/conv1d.h)";
  double err = 0;
  for (size_t i = 0; i < dw.size(); ++i) err = std::max(err, std::abs(dw[i] - dw_ref[i]));
  for (size_t i = 0; i < db.size(); ++i) err = std::max(err, std::abs(db[i] - db_ref[i]));
  r.max_error = err;
  r.valid = err < 1e-4 * std::sqrt(static_cast<double>(NL)) * 10;
  if (!r.valid) return r;
  r.ms = 1e3 * time_call(run, sample_s);
  // The reference: the packed SGEMM, dyp (COUT, NL) . colt^T, dyp laid out beforehand (untimed).
  std::vector<float> dyp(static_cast<size_t>(s.COUT) * NL), out(w.size());
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < s.COUT; ++o)
      for (int l = 0; l < LOUT; ++l) dyp[static_cast<size_t>(o) * NL + n * LOUT + l] = dy[(static_cast<size_t>(n) * s.COUT + o) * LOUT + l];
  r.reference = "sgemm (the same product, packed; dy pre-transposed)";
  r.reference_ms = 1e3 * time_call([&] {
    kernels::cpu::sgemm(Trans::No, Trans::Yes, s.COUT, CK, NL, 1.0f, dyp.data(), NL, col.data(), ldc, 0.0f, out.data(), CK);
  }, sample_s);
  return r;
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
  const kernels::cpu::WaitStats w0 = kernels::cpu::wait_stats();
  const TrainResult r = train_model(*model, cell.train.view(), small(cell.valid), small(cell.test), o);
  const kernels::cpu::WaitStats w1 = kernels::cpu::wait_stats();
  std::vector<double> secs;
  for (const auto& e : r.epochs) secs.push_back(e.seconds);
  std::sort(secs.begin(), secs.end());
  return {{"model", model_name}, {"device", device_name(device)}, {"batch", batch}, {"train_genes", cell.train.size()}, {"optimizer", o.optimizer},
          {"epochs_timed", epochs}, {"epoch_seconds", secs[secs.size() / 2]}, {"epoch_seconds_min", secs.front()},
          {"genes_per_second", cell.train.size() / secs[secs.size() / 2]},
          // How the kernels' threads waited during the run (kernels/cpu/thread_pool.h).
          {"thread_waits_spun", w1.spun - w0.spun}, {"thread_waits_slept", w1.slept - w0.slept},
          {"thread_regions_narrowed", w1.narrowed - w0.narrowed}};
}

// Throws a clear error unless this build has the CUDA backend and a usable GPU.
void require_cuda(const std::string& what) {
  std::string why;
  if (!kernels::cuda::available(&why)) throw InputError("bench: " + what + ": no usable CUDA device (" + why + ")");
}

json gpu_json(const kernels::cuda::DeviceInfo& d) {
  return {{"name", d.name},
          {"compute_capability", std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor)},
          {"sm_count", d.sm_count},
          {"clock_ghz", d.clock_ghz},
          {"memory_gb", d.memory_gb},
          {"peak_fp32_tflops", d.peak_fp32_tflops},
          {"peak_bandwidth_gbs", d.peak_bandwidth_gbs}};
}

json records_json(const std::vector<BenchRecord>& records, bool* all_valid) {
  json out = json::array();
  for (const BenchRecord& r : records) {
    out.push_back(r.to_json());
    *all_valid = *all_valid && r.valid;
  }
  return out;
}

}  // namespace

int run_benchmarks(const std::vector<std::string>& args) {
  // The parts that are not in the default run have their own options.
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] != "--only") continue;
    if (args[i + 1] == "prepare") return run_prepare_benchmark(args);
    if (args[i + 1] == "explain") return run_explain_benchmark(args);
    if (args[i + 1] == "oversubscription") return run_oversubscription_benchmark(args);
  }
  bool quick = false;
  int threads = 0, genes = 6601, only_batch = 0, epochs = 0;
  std::string only, out, only_model, device_arg = "cpu";
  std::vector<std::string> ops;
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
        throw InputError("bench: --only expects kernels, io, e2e, cuda, prepare, explain or oversubscription, got '" + only + "'");
    } else if (a == "--device") {
      device_arg = next();
      if (device_arg != "cpu" && device_arg != "cuda") throw InputError("bench: --device expects cpu or cuda");
    } else if (a == "--model") {
      only_model = next();
      if (only_model != "deepchrome" && only_model != "attentivechrome")
        throw InputError("bench: --model expects deepchrome or attentivechrome");
    } else if (a == "--batch") {
      only_batch = to_int(next());
    } else if (a == "--epochs") {
      epochs = to_int(next());
    } else if (a == "--op") {
      ops.push_back(next());
      optable::op_row(ops.back());  // an unknown op is an error naming the known ones
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

  const double sample_s = quick ? 0.002 : 0.05;
  json doc;
  doc["machine"] = {{"cpu", cpu_model()}, {"threads", nthreads}};
  doc["quick"] = quick;
  bool all_valid = true;
  if (only == "cuda" || device == Device::CUDA) {
    const kernels::cuda::DeviceInfo gpu = kernels::cuda::device_info();
    doc["machine"]["gpu"] = gpu_json(gpu);
    if (only == "cuda") {
      OpBenchOptions o;
      o.device = Device::CUDA;
      o.sample_s = sample_s;
      o.quick = quick;
      o.peak_gflops = gpu.peak_fp32_tflops * 1e3;
      o.peak_gbs = gpu.peak_bandwidth_gbs;
      o.ops = ops;
      doc["ops"] = records_json(op_benchmarks(o), &all_valid);
      if (ops.empty()) doc["cuda_vs_libraries"] = records_json(cuda_vendor_benchmarks(quick), &all_valid);
    }
  }
  if (only.empty() || only == "kernels") {
    const double peak = measure_peak_gflops(quick ? 0.05 : 0.6);
    doc["machine"]["peak_gflops_measured"] = peak;
    OpBenchOptions o;
    o.sample_s = sample_s;
    o.quick = quick;
    o.peak_gflops = peak;
    o.ops = ops;
    o.skip_bench_only = quick;
    doc["ops"] = records_json(op_benchmarks(o), &all_valid);
    if (ops.empty()) {
      doc["gemm"] = bench_gemm(quick ? 64 : 512, quick ? 64 : 512, quick ? 64 : 512, sample_s, peak).to_json();
      const BenchRecord wg = bench_conv_weight_gradient(quick ? 4 : 64, sample_s, peak);
      all_valid = all_valid && wg.valid;
      doc["conv1d_weight_gradient"] = wg.to_json();
    }
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
      auto dc_epochs = [&](int batch) { return epochs ? epochs : quick ? 1 : batch == 1 && device == Device::CPU ? 2 : 3; };
      for (int batch : {1, 64})
        if ((only_model.empty() || only_model == "deepchrome") && (only_batch == 0 || only_batch == batch)) e2e.push_back(bench_epoch(cell, "deepchrome", batch, dc_epochs(batch), device));
      if ((only_model.empty() || only_model == "deepchrome") && only_batch != 0 && only_batch != 1 && only_batch != 64)
        e2e.push_back(bench_epoch(cell, "deepchrome", only_batch, dc_epochs(only_batch), device));
      // On the GPU an epoch is short: time 3 (the first includes the kernels' warm-up).
      const int att_epochs = epochs ? epochs : device == Device::CUDA && !quick ? 3 : 1;
      if (only_model.empty() || only_model == "attentivechrome")
        for (int batch : {16, 256})
          if (only_batch == 0 || only_batch == batch) e2e.push_back(bench_epoch(cell, "attentivechrome", batch, att_epochs, device));
      doc["end_to_end"] = e2e;
    }
  }
  const std::string text = doc.dump(2) + "\n";
  std::fputs(text.c_str(), stdout);
  if (!out.empty()) io::write_file_atomic(out, text);
  if (!all_valid) {
    std::fprintf(stderr, "deepchrome bench: some results failed their validation (\"valid\": false above)\n");
    return 1;
  }
  return 0;
}

}  // namespace dc::bench
