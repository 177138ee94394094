// Tensor: a float32, contiguous, reference-counted n-d array with an autograd hook.
//
// A Tensor is a handle: copies share the same storage and the same autograd identity
// (like torch.Tensor). Storage is 64-byte aligned host memory (Device::CPU) or device
// memory from the caching DeviceAllocator (Device::CUDA, in builds with the CUDA backend);
// data() of a CUDA tensor is a device pointer. Ops run on their inputs' device.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "kernels/base/grad.h"

namespace dc {

enum class Device { CPU, CUDA };
const char* device_name(Device d);

using Shape = std::vector<int64_t>;
int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);  // "(4, 5, 100)"

// Move-only aligned buffer of floats. Copies are explicit (clone via Tensor::clone).
// CUDA storage comes from (and returns to) the DeviceAllocator's cache; in a CPU-only
// build asking for it throws dc::Error.
class Storage {
 public:
  explicit Storage(int64_t n, Device device = Device::CPU);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  float* data() { return data_; }
  const float* data() const { return data_; }
  int64_t size() const { return size_; }
  Device device() const { return device_; }

 private:
  float* data_ = nullptr;
  int64_t size_ = 0;
  Device device_;
};

struct Node;

// A weight gradient held as factors instead of a dense matrix: grad = sum_n u[n]^T v[n]
// with u (n, rows) and v (n, cols). A linear layer's weight gradient for a batch of one is
// the outer product dy x^T; writing it out densely and reading it back in the optimizer
// costs more than the rest of the step, so when the parameter's optimizer can apply the
// factors directly (plain SGD) the engine keeps them and only materialises the dense
// gradient when someone asks for it (Tensor::grad()).
struct FactoredGrad {
  std::vector<float> u, v;
  int n = 0, rows = 0, cols = 0;
};

struct TensorImpl {
  Shape shape;
  std::shared_ptr<Storage> storage;
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;       // the op that produced this tensor (null for leaves)
  std::shared_ptr<TensorImpl> grad;    // gradient buffer, same shape (allocated lazily)
  bool grad_valid = false;             // false: the buffer's contents are stale (= zero)
  // Factored gradients (see FactoredGrad): allowed only when an optimizer asked for them;
  // when grad_valid && grad_factored the gradient is `factored`, not the dense buffer.
  bool factored_ok = false;
  bool grad_factored = false;
  std::unique_ptr<FactoredGrad> factored;
  // Plain SGD applied in the backward pass (SgdOptions::update_in_backward): the optimizer's
  // zero_grad() arms it with this step's rate; backward() counts the graph's uses of the
  // tensor; a linear layer's batch-1 backward on the CPU, when it is the only use, then
  // updates the weight in the sweep that computes the input gradient (one sweep of the
  // weights instead of two) and marks it applied, so that step() leaves it alone. The
  // gradient is still kept (factored) for anyone who asks.
  struct SgdInBackward {
    float lr = 0, weight_decay = 0;
    bool armed = false, applied = false;
    int uses = 0;  // edges into this tensor in the graph being differentiated
  } sgd_in_backward;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  static Tensor empty(const Shape& shape, Device device = Device::CPU);
  static Tensor zeros(const Shape& shape, Device device = Device::CPU);
  static Tensor full(const Shape& shape, float value, Device device = Device::CPU);
  // full/zeros on CUDA fill on the device (queued on the stream, no host round trip).
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values, Device device = Device::CPU);
  static Tensor scalar(float value) { return from_vector({}, {value}); }

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl_->shape; }
  int dim() const { return static_cast<int>(impl_->shape.size()); }
  int64_t size(int d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(impl_->shape); }
  Device device() const { return impl_->storage->device(); }

  float* data() { return impl_->storage->data(); }  // a device pointer for CUDA tensors
  const float* data() const { return impl_->storage->data(); }
  // Host copies of the data (for a CUDA tensor: one device-to-host copy, which waits for
  // the queued work).
  std::vector<float> to_vector() const;
  float item() const;  // the single value of a one-element tensor

  // A copy on `device` with no autograd history; the tensor itself when it is already there.
  Tensor to(Device device) const;
  // Moves this tensor's data to `device` in place: every handle to this tensor (the same
  // TensorImpl) sees the new storage, so models move their parameters with it. Handles
  // made by detach()/reshape() keep the old storage. The gradient (buffer and factors) is
  // dropped. For leaves only (throws for a tensor with autograd history).
  Tensor& move_to(Device device);

  // ---- autograd ----
  bool requires_grad() const { return impl_->requires_grad; }
  Tensor& set_requires_grad(bool value);
  // The gradient accumulated by backward(); undefined when none was computed since
  // the last zero_grad(). Returns a handle to the live buffer.
  Tensor grad() const;
  void zero_grad();  // marks the gradient stale; keeps the buffer for reuse
  // Reverse-mode sweep from this scalar tensor (its gradient is 1).
  void backward() const;
  // The same from a tensor of any shape, given the gradient of some scalar with respect to
  // it (`grad_output`: as many elements, on the same device).
  void backward(const Tensor& grad_output) const;

  Tensor detach() const;  // same storage, no autograd history
  Tensor clone() const;   // deep copy of the data on the same device, no autograd history
  void copy_from(const Tensor& src);  // element copy, same numel, across devices too

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

}  // namespace dc
