// The kernels the native network runs: on a CPU in float32 the ones the TorchScript path gets from graph_optimizer.h
// (oneDNN's matmul for every linear layer, with a following GELU or ReLU applied in the same pass; oneDNN's
// convolution + GELU for the feature extractor's unnormalised layers), and the same in bfloat16 where oneDNN runs it;
// LibTorch's own elsewhere (CUDA, float16, optimize: false).
#pragma once

#include <torch/types.h>

#include <optional>

#include "../network.h"
#include "spec.h"

namespace w2v::builder {

struct Kernels {
  bool onednn = false;  // CPU, float32 or bfloat16, optimize and the fused operators registered
  Rewrites* used = nullptr;  // counts what runs fused, for model.info.rewrites
};

at::Tensor Activate(const at::Tensor& x, Activation a);

// y = x W^T + b, then `act` when given (fused where the kernel can).
class Linear {
 public:
  Linear() = default;
  Linear(at::Tensor weight, std::optional<at::Tensor> bias, std::optional<Activation> act, const Kernels& k);
  at::Tensor operator()(const at::Tensor& x) const;
  int64_t outFeatures() const { return weight_.size(0); }

 private:
  at::Tensor weight_;  // in oneDNN's own layout when fused_ (reordered once at build)
  std::optional<at::Tensor> bias_;
  std::optional<Activation> act_;
  bool fused_ = false;  // oneDNN runs the linear (and act_ when fusedAct_)
  bool fusedAct_ = false;
};

// 1-d convolution, then `act` when given (fused where the kernel can).
class Conv1d {
 public:
  Conv1d() = default;
  Conv1d(at::Tensor weight, std::optional<at::Tensor> bias, int64_t stride, int64_t padding, int64_t groups,
         std::optional<Activation> act, const Kernels& k);
  at::Tensor operator()(const at::Tensor& x) const;

 private:
  at::Tensor weight_;
  std::optional<at::Tensor> bias_;
  int64_t stride_ = 1, padding_ = 0, groups_ = 1;
  std::optional<Activation> act_;
  bool fused_ = false;
};

// Whether oneDNN's fused linear and convolution operators are there (graph_optimizer.h asks the same) and run
// `dtype` on this CPU: float32, and bfloat16 where oneDNN has the instructions for it.
bool FusedKernelsAvailable(at::ScalarType dtype);

}  // namespace w2v::builder
