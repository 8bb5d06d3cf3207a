// The kernels the native network runs: on a CPU in float32 the ones the TorchScript path gets from graph_optimizer.h
// (oneDNN's matmul for every linear layer, with a following GELU or ReLU applied in the same pass; oneDNN's
// convolution + GELU for the feature extractor's unnormalised layers), and the same in bfloat16 where oneDNN runs it;
// LibTorch's own elsewhere (CUDA, float16, optimize: false).
#pragma once

#include <torch/types.h>

#include <optional>

#include "../network.h"
#include "int8.h"
#include "spec.h"

namespace w2v::builder {

struct Kernels {
  bool onednn = false;  // CPU, float32 or bfloat16, optimize and the fused operators registered
  bool int8 = false;  // dtype 'int8': Linear and the feature extractor's convolutions in int8 (int8.h)
  bool bfloat16 = false;  // dtype 'bfloat16' with oneDNN's kernels (onednn)
  Rewrites* used = nullptr;  // counts what runs fused, for model.info.rewrites
  // For the layers that stay float32 in an int8 network: those whose outputs are read directly (the CTC head's
  // logits) and those too small for a product to pay.
  Kernels Float() const {
    Kernels k = *this;
    k.int8 = false;
    return k;
  }
};

at::Tensor Activate(const at::Tensor& x, Activation a);
at::Tensor ActivateInPlace(at::Tensor& x, Activation a);

// y = x W^T + b, then `act` when given (fused where the kernel can).
class Linear {
 public:
  Linear() = default;
  Linear(at::Tensor weight, std::optional<at::Tensor> bias, std::optional<Activation> act, const Kernels& k);
  at::Tensor operator()(const at::Tensor& x) const;
  // next(this(x)); in an int8 network this layer's output row ranges are found while it is made, so that `next`
  // quantises it without a pass of its own to find them.
  at::Tensor Then(const Linear& next, const at::Tensor& x) const;
  int64_t outFeatures() const { return int8_ ? int8_->outFeatures() : weight_.size(0); }

 private:
  at::Tensor Int8(const at::Tensor& x, const std::optional<at::Tensor>& inRanges, at::Tensor* outRanges) const;

  std::optional<Int8Matmul> int8_;  // Kernels::int8: the product in int8, weight_ and bias_ unused
  at::Tensor weight_;  // in oneDNN's own layout when fused_ (reordered once at build)
  std::optional<at::Tensor> bias_;
  std::optional<Activation> act_;
  bool fused_ = false;  // oneDNN runs the linear (and act_ when fusedAct_)
  bool fusedAct_ = false;
};

// 1-d convolution, then `act` when given (fused where the kernel can). In an int8 network (Kernels::int8) it runs
// in bfloat16 where oneDNN has the instructions: only the positional convolution gets here then, a grouped
// convolution whose windows would cost more to quantise than its products save.
class Conv1d {
 public:
  Conv1d() = default;
  // framesMajor: the convolution runs on [B, T, C] inputs (FramesMajor), not [B, C, T] ones (operator()).
  Conv1d(at::Tensor weight, std::optional<at::Tensor> bias, int64_t stride, int64_t padding, int64_t groups,
         std::optional<Activation> act, const Kernels& k, bool framesMajor = false);
  at::Tensor operator()(const at::Tensor& x) const;  // [B, C, T] -> [B, C', T']
  // [B, T, C] -> [B, T', C']. Where oneDNN runs it, as a 2-D convolution over a [B, C, 1, T] channels-last view of
  // x (x's own memory when contiguous and already a bucket long: no transposes either way), with oneDNN's direct
  // kernel instead of its im2col one. Measured on
  // base's positional convolution (768 channels, 16 groups, kernel 128, 500 frames): bfloat16 10.7 ms against 19.5,
  // float32 14 against 28.
  at::Tensor FramesMajor(const at::Tensor& x) const;

 private:
  at::Tensor Run(const at::Tensor& x) const;

  at::Tensor weight_;
  std::optional<at::Tensor> bias_;
  int64_t stride_ = 1, padding_ = 0, groups_ = 1;
  std::optional<Activation> act_;
  bool fused_ = false;
  bool bf16_ = false;  // weights in bfloat16, input converted and output converted back
  bool framesMajor_ = false;  // fused and frames-major: weight_ is [out, in / groups, 1, kernel], channels-last
};

// Whether oneDNN's fused linear and convolution operators are there (graph_optimizer.h asks the same) and run
// `dtype` on this CPU: float32, and bfloat16 where oneDNN has the instructions for it.
bool FusedKernelsAvailable(at::ScalarType dtype);

}  // namespace w2v::builder
