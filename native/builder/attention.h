// Multi-head self-attention of the encoder layers: q, k and v projections as one matmul, then LibTorch's
// scaled_dot_product_attention (as transformers' default "sdpa" attention), or in int8 and bfloat16 networks on a CPU
// with bfloat16 dot products, oneDNN bfloat16 products around our softmax (Bfloat16Attention). WavLM adds a relative position bias
// (buckets of query-key distance, learned per head, computed by the first layer and shared by all) scaled per
// query by a gate computed from the query's own hidden state ("gated relative position bias").
#pragma once

#include <torch/types.h>

#include <optional>

#include "kernels.h"
#include "spec.h"
#include "weights.h"

namespace w2v::builder {

// What every layer of one call shares: the key padding mask and WavLM's position bias.
struct AttentionContext {
  std::optional<at::Tensor> keyMask;  // [B, 1, 1, F] bool, true = attend (padded batches only)
  std::optional<at::Tensor> positionBias;  // WavLM: [H, F, F]
};

class Attention {
 public:
  Attention(const Spec& spec, Weights& w, const Kernels& k, const std::string& prefix, bool hasRelativeBias);
  at::Tensor operator()(const at::Tensor& x, AttentionContext& ctx) const;

 private:
  at::Tensor PositionBias(int64_t frames, const at::Device& device) const;
  at::Tensor GatedBias(const at::Tensor& x, const at::Tensor& bias) const;
  // softmax(q k^T / sqrt(d) + mask) v in bfloat16 products, one item at a time (the scores of one item are
  // [H, F, F] bfloat16, what maxAttentionBytes budgets: lib/model/model.ts).
  at::Tensor Bfloat16Attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const std::optional<at::Tensor>& mask) const;

  Linear qkv_, out_;
  int64_t heads_, headDim_;
  bool wavlm_ = false;
  bool bf16_ = false;
  at::Tensor gateConst_;  // [1, H, 1, 1]
  Linear gate_;  // head_dim -> 8
  std::optional<at::Tensor> relEmbed_;  // [numBuckets, H] (first layer)
  int64_t numBuckets_ = 0, maxDistance_ = 0;
};

}  // namespace w2v::builder
