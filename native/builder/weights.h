// Reads a checkpoint's tensors from the byte ranges the TypeScript readers found, after checking each range
// again here against the file as it is now (size, offset + span inside the file, the span of shape and strides
// inside byteLength, dtype): a header that lied, or a file changed since it was read, is CHECKPOINT_INVALID,
// never an out-of-bounds read. Then converts each to the model's dtype and device.
#pragma once

#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

#include "spec.h"

namespace w2v::builder {

class Weights {
 public:
  // Reads nothing yet: tensors are read when taken, so that names the network does not use cost nothing.
  Weights(std::vector<TensorRef> refs, c10::Device device, at::ScalarType dtype);
  ~Weights();

  bool Has(const std::string& name) const { return refs_.count(name) > 0; }
  // The tensor `name` with exactly `shape`, in the model's dtype on its device. CHECKPOINT_INVALID when it is
  // missing or shaped otherwise.
  at::Tensor Take(const std::string& name, const std::vector<int64_t>& shape);
  // The same in float32 on the CPU (for weights computed from others at load, e.g. weight norm).
  at::Tensor TakeFloat(const std::string& name, const std::vector<int64_t>& shape);
  at::Tensor ToModel(const at::Tensor& t) const { return t.to(device_, dtype_).contiguous(); }

  int64_t parameters() const { return parameters_; }

 private:
  at::Tensor Read(const TensorRef& ref);
  int Open(const std::string& file);

  std::map<std::string, TensorRef> refs_;
  std::map<std::string, int> files_;  // open descriptors by path, closed by the destructor
  c10::Device device_;
  at::ScalarType dtype_;
  int64_t parameters_ = 0;
};

std::string ShapeString(const std::vector<int64_t>& shape);

}  // namespace w2v::builder
