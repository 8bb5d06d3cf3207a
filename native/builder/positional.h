// The convolutional relative positional embedding added to the projected features before the encoder layers.
// wav2vec2 / HuBERT / WavLM: one grouped convolution whose weight is stored weight-normalised (weight_g and
// weight_v, or parametrizations.weight.original0 / original1 in newer checkpoints; folded once at load), then
// the activation. data2vec-audio: a stack of grouped convolutions, each followed by a LayerNorm without affine
// parameters and the activation. An even kernel drops the last output frame ("same" padding).
#pragma once

#include <torch/types.h>

#include <vector>

#include "kernels.h"
#include "spec.h"
#include "weights.h"

namespace w2v::builder {

class PositionalEmbedding {
 public:
  PositionalEmbedding(const Spec& spec, Weights& w, const Kernels& k);
  // [B, F, D] -> [B, F, D], the embedding only (the caller adds it)
  at::Tensor operator()(const at::Tensor& x) const;

 private:
  std::vector<Conv1d> convs_;
  bool trimLast_ = false;
  bool layerNorm_ = false;  // data2vec-audio: LayerNorm (no affine) between the conv and the activation
  Activation act_;
};

}  // namespace w2v::builder
