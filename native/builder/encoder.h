// The transformer encoder. Post-LN (wav2vec2-base style): x = LN(x + pos(x)), then per layer
// x = LN(x + attn(x)); x = LN(x + ff(x)). Pre-LN ("stable layer norm", wav2vec2-large-lv60 style): x = x + pos(x),
// then x = x + attn(LN(x)); x = x + ff(LN(x)), and one LN after the last layer. Features are each layer's output
// as transformers' hidden_states[1:] (so without that final LN); logits read the encoder's output (with it).
// Padded frames are zeroed before the positional convolution and masked as keys, as transformers does.
#pragma once

#include <torch/types.h>

#include <optional>
#include <vector>

#include "attention.h"
#include "kernels.h"
#include "positional.h"
#include "spec.h"
#include "weights.h"

namespace w2v::builder {

struct LayerNorm {
  at::Tensor weight, bias;
  double eps;
  at::Tensor operator()(const at::Tensor& x) const { return at::layer_norm(x, {x.size(-1)}, weight, bias, eps); }
};

class EncoderLayer {
 public:
  EncoderLayer(const Spec& spec, Weights& w, const Kernels& k, int64_t index);
  at::Tensor operator()(const at::Tensor& x, AttentionContext& ctx) const;

 private:
  Attention attention_;
  LayerNorm norm_, finalNorm_;
  Linear intermediate_, output_;
  bool stable_;
};

class Encoder {
 public:
  Encoder(const Spec& spec, Weights& w, const Kernels& k);
  // [B, F, D] -> the encoder output; `valid` [B, F] bool for a padded batch; the first `layers` layers only;
  // `features` (when given) receives each layer's output.
  at::Tensor operator()(at::Tensor x, const std::optional<at::Tensor>& valid, int64_t layers, std::vector<at::Tensor>* features) const;

 private:
  PositionalEmbedding positional_;
  LayerNorm norm_;
  std::vector<EncoderLayer> layers_;
  bool stable_;
};

}  // namespace w2v::builder
