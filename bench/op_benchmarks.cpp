#include "bench/op_benchmarks.h"

#include <algorithm>
#include <functional>

#include "bench/timing.h"
#include "engine/autograd.h"
#include "engine/op_table.h"
#include "kernels/cuda/runtime.h"

namespace dc::bench {
namespace {

using optable::Comparison;
using optable::OpCase;
using optable::OpRow;

// The validation of one case: the engine on the device against the double reference (CPU)
// or against the engine on the CPU (CUDA). Returns the worst comparison (the first failing
// one, else the one with the largest error).
Comparison validate(const OpRow& row, const OpCase& c, const optable::Values<float>& in, const std::vector<float>& dy,
                    Device device, std::string* against) {
  const optable::EngineRun run = optable::run_engine(row, c, in, dy, device);
  std::vector<Comparison> found;
  if (device == Device::CPU) {
    *against = "the double reference (kernels/contract)";
    const optable::Values<double> in_d = optable::to_double(in);
    const std::vector<double> dy_d(dy.begin(), dy.end());
    found.push_back(optable::compare(run.output, row.forward(in_d, c), row.forward_tol));
    const optable::Values<double> g = row.backward(in_d, dy_d, c);
    for (size_t i = 0; i < g.size(); ++i)
      if (!run.grads[i].empty()) found.push_back(optable::compare(run.grads[i], g[i], row.grad_tol));
  } else {
    *against = "the engine on the CPU";
    const optable::EngineRun cpu = optable::run_engine(row, c, in, dy, Device::CPU);
    found.push_back(optable::compare(run.output, cpu.output, row.cuda_tol));
    for (size_t i = 0; i < cpu.grads.size(); ++i)
      if (!cpu.grads[i].empty()) found.push_back(optable::compare(run.grads[i], cpu.grads[i], row.cuda_tol));
  }
  Comparison worst = found.front();
  for (const Comparison& f : found)
    if ((!f.ok && worst.ok) || (f.ok == worst.ok && f.max_error > worst.max_error)) worst = f;
  return worst;
}

double work(const std::function<double(const OpCase&)>& f, const OpCase& c) { return f ? f(c) : 0.0; }

}  // namespace

std::vector<BenchRecord> op_benchmarks(const OpBenchOptions& o) {
  std::vector<BenchRecord> out;
  const std::function<void()> sync = o.device == Device::CUDA ? std::function<void()>(kernels::cuda::synchronize)
                                                              : std::function<void()>();
  for (const OpRow& row : optable::op_table()) {
    if (!o.ops.empty() && std::find(o.ops.begin(), o.ops.end(), row.name) == o.ops.end()) continue;
    for (size_t ci = 0; ci < row.cases.size(); ++ci) {
      const OpCase& c = row.cases[ci];
      if (!c.model_size || (c.bench_only && o.skip_bench_only)) continue;
      const optable::Values<float> in = optable::to_float(optable::make_inputs(c, 9000 + ci));
      const size_t ny = row.forward(optable::to_double(in), c).size();
      std::vector<float> dy;
      for (double v : optable::random_values(ny, 9100 + ci)) dy.push_back(static_cast<float>(v));

      BenchRecord base;
      base.op = row.name;
      base.shape = c.label;
      base.device = device_name(o.device);
      base.peak_gflops = o.peak_gflops;
      base.peak_gbs = o.peak_gbs;
      const Comparison v = validate(row, c, in, dy, o.device, &base.validated_against);
      base.max_error = v.max_error;
      BenchRecord fwd = base, bwd = base;
      fwd.pass = "forward";
      bwd.pass = "backward";
      if (!v.ok) {
        for (BenchRecord* r : {&fwd, &bwd}) {
          r->valid = false;
          r->note = v.describe("validation failed");
        }
        out.push_back(fwd);
        out.push_back(bwd);
        continue;
      }
      fwd.flops = work(row.forward_flops, c);
      fwd.bytes = work(row.forward_bytes, c);
      bwd.flops = work(row.backward_flops, c);
      bwd.bytes = work(row.backward_bytes, c);

      const std::vector<Tensor> t = optable::make_tensors(c, in, o.device);
      fwd.ms = 1e3 * time_call([&] { row.op(t, c); }, o.sample_s, 7, sync);
      const Tensor y = row.op(t, c);
      if (y.requires_grad()) {
        const Tensor g = Tensor::from_vector(y.shape(), dy, o.device);
        bwd.ms = 1e3 * time_call([&] { y.backward(g); }, o.sample_s, 7, sync);
      }
      if (o.device == Device::CPU) {  // the plain float loops of the contract, same inputs
        // Plain loops can take seconds at batch 256: one call then is the measurement.
        auto time_ref = [&](const std::function<void()>& f) {
          const double once = time_once(f);
          return 1e3 * (o.quick || once > 10 * o.sample_s ? once : time_call(f, o.sample_s, 3));
        };
        fwd.reference = bwd.reference = "reference";
        fwd.reference_ms = time_ref([&] { row.forward_float(in, c); });
        bwd.reference_ms = time_ref([&] { row.backward_float(in, dy, c); });
      }
      out.push_back(fwd);
      if (y.requires_grad()) out.push_back(bwd);
    }
  }
  return out;
}

}  // namespace dc::bench
