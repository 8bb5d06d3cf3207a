// The convolutional feature encoder (waveform -> frames) and the feature projection (frames -> hidden size).
// Group-norm models (feat_extract_norm "group") normalise the first layer's output over time; for a padded batch
// that normalisation runs over each item's valid frames only, so each item gets what it gets alone (as
// scripts/export_hf.py's exports do). Later layers need no mask: a valid output frame reads valid inputs only.
#pragma once

#include <torch/types.h>

#include <optional>
#include <vector>

#include "kernels.h"
#include "spec.h"
#include "weights.h"

namespace w2v::builder {

class FeatureExtractor {
 public:
  FeatureExtractor(const Spec& spec, Weights& w, const Kernels& k);
  // [B, T] -> [B, C, F]. `lengths`: valid samples per item of a padded batch.
  at::Tensor operator()(const at::Tensor& x, const std::optional<at::Tensor>& lengths) const;
  // Valid output frames for `lengths` samples (int64).
  at::Tensor Frames(const at::Tensor& lengths) const;

 private:
  struct Layer {
    Conv1d conv;  // with the activation when the layer has no norm
    std::optional<at::Tensor> normWeight, normBias;
    bool groupNorm = false;
    // Layer 0 of a group-norm model with a GELU: conv, norm and GELU in one (../first_layer.h), from these.
    bool firstLayer = false;
    at::Tensor weight;
    std::optional<at::Tensor> bias;
    // Kernels::bfloat16, a layer without a norm after the first: the convolution on frames-major input ([B, F, C]:
    // Conv1d::FramesMajor). Measured on base's layers 1-6 at 10 s: 68 ms against 93, for a 6 ms transpose after
    // layer 0. (In float32 oneDNN's channels-last kernels lose: 340 ms against 294.)
    bool framesMajor = false;
    // Kernels::int8, every layer after the first: the convolution as an int8 product over windows of frames.
    std::optional<Int8Matmul> int8;
    // Kernels::int8, the first layer: its weight as [kernel, channels], for a float32 product of sample windows.
    at::Tensor windowWeight;
  };
  // Kernels::int8: layer 0 frames-major ([B, F, C]) and each frame's range, for the int8 layers after it: the
  // one-channel convolution as a product of sample windows, then its norm and activation in one pass.
  at::Tensor Int8FirstLayer(const at::Tensor& x, const std::optional<at::Tensor>& lengths, at::Tensor* ranges) const;
  at::Tensor FirstLayerOf(const at::Tensor& x, const Layer& layer, const std::optional<at::Tensor>& lengths) const;
  at::Tensor MaskedGroupNorm(const at::Tensor& h, const Layer& layer, const at::Tensor& lengths) const;
  at::Tensor FirstLayerFrames(const at::Tensor& lengths) const;
  // [B, T, C] after the first layer (and its frames' ranges) -> [B, C, F]: the int8 layers, frames-major so that a
  // window of frames is one contiguous run of values.
  at::Tensor Int8Layers(at::Tensor h, std::optional<at::Tensor> ranges) const;

  std::vector<Layer> layers_;
  std::vector<int64_t> kernel_, stride_;
  Activation act_;
  bool int8_ = false;
};

class FeatureProjection {
 public:
  FeatureProjection(const Spec& spec, Weights& w, const Kernels& k);
  // [B, F, C] -> [B, F, hidden]
  at::Tensor operator()(const at::Tensor& x) const;

 private:
  std::optional<at::Tensor> normWeight_, normBias_;
  double eps_;
  Linear projection_;
};

}  // namespace w2v::builder
