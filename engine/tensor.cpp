#include "engine/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>

#include "engine/autograd.h"
#include "engine/error.h"

namespace dc {

const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << '(';
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  if (s.size() == 1) os << ',';
  os << ')';
  return os.str();
}

Storage::Storage(int64_t n, Device device) : size_(n), device_(device) {
  if (device != Device::CPU) throw Error("Storage: the CUDA backend is not available in this build");
  if (n < 0) throw Error("Storage: negative size");
  // Round up to whole cache lines; at least one so data() is never null.
  const size_t bytes = ((static_cast<size_t>(n) * sizeof(float) + 63) / 64) * 64 + 64;
  data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (!data_) throw std::bad_alloc();
}

Storage::~Storage() { std::free(data_); }

Tensor Tensor::empty(const Shape& shape, Device device) {
  for (int64_t d : shape)
    if (d < 0) throw ShapeError("Tensor::empty: negative dimension in shape " + shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->storage = std::make_shared<Storage>(shape_numel(shape), device);
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, Device device) { return full(shape, 0.0f, device); }

Tensor Tensor::full(const Shape& shape, float value, Device device) {
  Tensor t = empty(shape, device);
  float* p = t.data();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = value;
  return t;
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values) {
  if (shape_numel(shape) != static_cast<int64_t>(values.size()))
    throw ShapeError("Tensor::from_vector: shape " + shape_str(shape) + " needs " +
                     std::to_string(shape_numel(shape)) + " values, got " + std::to_string(values.size()));
  Tensor t = empty(shape);
  if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * sizeof(float));
  return t;
}

int64_t Tensor::size(int d) const {
  const int n = dim();
  const int i = d < 0 ? d + n : d;
  if (i < 0 || i >= n) throw ShapeError("Tensor::size: dim " + std::to_string(d) + " out of range for shape " + shape_str(shape()));
  return impl_->shape[i];
}

std::vector<float> Tensor::to_vector() const { return std::vector<float>(data(), data() + numel()); }

float Tensor::item() const {
  if (numel() != 1) throw ShapeError("Tensor::item: tensor of shape " + shape_str(shape()) + " has " + std::to_string(numel()) + " elements, not 1");
  return data()[0];
}

Tensor& Tensor::set_requires_grad(bool value) {
  if (impl_->grad_fn) throw Error("set_requires_grad: only leaf tensors can be made parameters");
  impl_->requires_grad = value;
  return *this;
}

Tensor Tensor::grad() const {
  if (!impl_->grad_valid) return Tensor();
  if (impl_->grad_factored) materialize_grad(impl_.get());
  return Tensor(impl_->grad);
}

void Tensor::zero_grad() {
  impl_->grad_valid = false;
  impl_->grad_factored = false;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = impl_->shape;
  impl->storage = impl_->storage;
  return Tensor(std::move(impl));
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape(), device());
  if (numel()) std::memcpy(t.data(), data(), numel() * sizeof(float));
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  if (src.numel() != numel())
    throw ShapeError("copy_from: source " + shape_str(src.shape()) + " and destination " + shape_str(shape()) + " differ in size");
  if (numel()) std::memcpy(data(), src.data(), numel() * sizeof(float));
}

}  // namespace dc
