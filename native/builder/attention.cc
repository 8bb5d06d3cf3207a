#include "attention.h"

#include <cmath>

#include "../errors.h"

namespace w2v::builder {

Attention::Attention(const Spec& spec, Weights& w, const Kernels& k, const std::string& p, bool hasRelativeBias)
    : heads_(spec.numHeads), headDim_(spec.hiddenSize / spec.numHeads) {
  const int64_t d = spec.hiddenSize;
  // One [3D, D] matmul instead of three [D, D]: the same products, one pass over the input.
  // In float32 until the scale below is folded in: a bfloat16 weight would be rounded twice.
  at::Tensor weight = at::cat({w.TakeFloat(p + "q_proj.weight", {d, d}), w.TakeFloat(p + "k_proj.weight", {d, d}), w.TakeFloat(p + "v_proj.weight", {d, d})});
  at::Tensor bias = at::cat({w.TakeFloat(p + "q_proj.bias", {d}), w.TakeFloat(p + "k_proj.bias", {d}), w.TakeFloat(p + "v_proj.bias", {d})});
  // LibTorch's CPU flash attention runs float32 and bfloat16 alike (~106 GFLOP/s at 500 frames, 12 heads); its
  // two products as oneDNN bfloat16 matmuls and our softmax take 2.8 ms against 8.7 (measured in a bfloat16
  // network, base, 1 x 10 s): for int8 networks and bfloat16 ones.
  bf16_ = (k.int8 || k.bfloat16) && FusedKernelsAvailable(at::kBFloat16);
  if (bf16_) {
    // q / sqrt(head_dim) made by the projection itself (for base's 64, an exact power of two).
    const double scale = 1.0 / std::sqrt(static_cast<double>(headDim_));
    weight.narrow(0, 0, d).mul_(scale);
    bias.narrow(0, 0, d).mul_(scale);
  }
  if (k.used && bf16_) (*k.used)["bfloat16Attention"]++;
  qkv_ = Linear(w.ToModel(weight), w.ToModel(bias), std::nullopt, k);
  out_ = Linear(w.Take(p + "out_proj.weight", {d, d}), w.Take(p + "out_proj.bias", {d}), std::nullopt, k);
  if (spec.arch != Arch::WavLM) return;
  wavlm_ = true;
  numBuckets_ = spec.numBuckets;
  maxDistance_ = spec.maxBucketDistance;
  gateConst_ = w.Take(p + "gru_rel_pos_const", {1, heads_, 1, 1});
  gate_ = Linear(w.Take(p + "gru_rel_pos_linear.weight", {8, headDim_}), w.Take(p + "gru_rel_pos_linear.bias", {8}), std::nullopt, k.Float());
  if (hasRelativeBias) relEmbed_ = w.Take(p + "rel_attn_embed.weight", {numBuckets_, heads_});
}

// transformers' WavLMAttention.compute_bias and _relative_positions_bucket, step for step (float32 log included:
// a bucket boundary computed otherwise could land one bucket off).
at::Tensor Attention::PositionBias(int64_t frames, const at::Device& device) const {
  const auto longs = at::TensorOptions().dtype(at::kLong).device(device);
  const at::Tensor pos = at::arange(frames, longs);
  at::Tensor rel = pos.unsqueeze(0) - pos.unsqueeze(1);  // memory - context
  const int64_t half = numBuckets_ / 2;
  at::Tensor buckets = (rel > 0).to(at::kLong) * half;
  rel = rel.abs();
  const int64_t maxExact = half / 2;
  const at::Tensor small = rel < maxExact;
  at::Tensor large = at::log(rel.to(at::kFloat) / static_cast<double>(maxExact));
  large = large / static_cast<float>(std::log(static_cast<double>(maxDistance_) / static_cast<double>(maxExact)));
  large = (large * static_cast<double>(half - maxExact) + static_cast<double>(maxExact)).to(at::kLong);
  large = at::minimum(large, at::full_like(large, half - 1));
  buckets = buckets + at::where(small, rel, large);
  // [F, F, H] -> [H, F, F]
  return at::embedding(*relEmbed_, buckets).permute({2, 0, 1});
}

// Each query scales the shared bias by a gate from its own hidden state (WavLMAttention.forward, steps 1-4).
at::Tensor Attention::GatedBias(const at::Tensor& x, const at::Tensor& bias) const {
  const int64_t b = x.size(0), f = x.size(1);
  const at::Tensor heads = x.view({b, f, heads_, headDim_}).permute({0, 2, 1, 3});
  const at::Tensor proj = gate_(heads).view({b, heads_, f, 2, 4}).sum(-1);
  const auto gates = at::sigmoid(proj).chunk(2, -1);
  const at::Tensor gate = gates[0] * (gates[1] * gateConst_ - 1.0) + 2.0;  // [B, H, F, 1]
  return gate * bias.unsqueeze(0);
}

at::Tensor Attention::Bfloat16Attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const std::optional<at::Tensor>& mask) const {
  const int64_t b = q.size(0);
  if (b > 1) {
    at::Tensor out = at::empty(q.sizes(), q.options());
    for (int64_t i = 0; i < b; i++) {
      const std::optional<at::Tensor> itemMask = mask ? std::optional<at::Tensor>(mask->size(0) == b ? mask->narrow(0, i, 1) : *mask) : std::nullopt;
      out.narrow(0, i, 1).copy_(Bfloat16Attention(q.narrow(0, i, 1), k.narrow(0, i, 1), v.narrow(0, i, 1), itemMask));
    }
    return out;
  }
  // q arrives scaled by 1 / sqrt(head_dim) (the constructor folded it into the projection).
  at::Tensor scores = at::matmul(q.to(at::kBFloat16), k.to(at::kBFloat16).transpose(-1, -2));  // [1, H, F, F]
  if (mask && mask->scalar_type() != at::kBool) {  // WavLM's position bias, added in float32
    scores = scores.to(at::kFloat);  // the bfloat16 scores freed here: one float32 copy at a time
    scores.add_(*mask);
    scores = at::softmax(scores, -1, at::kBFloat16);
  } else {
    SoftmaxBfloat16(scores, mask);
  }
  return at::matmul(scores, v.to(at::kBFloat16)).to(q.scalar_type());
}

at::Tensor Attention::operator()(const at::Tensor& x, AttentionContext& ctx) const {
  const int64_t b = x.size(0), f = x.size(1);
  const auto qkv = qkv_(x).view({b, f, 3, heads_, headDim_}).permute({2, 0, 3, 1, 4}).unbind(0);  // 3 x [B, H, F, hd]
  std::optional<at::Tensor> mask = ctx.keyMask;
  if (wavlm_) {
    if (!ctx.positionBias) {
      if (!relEmbed_) throw CodedError("MODEL_UNSUPPORTED", "WavLM: the first layer has no relative position embedding");
      ctx.positionBias = PositionBias(f, x.device()).to(x.scalar_type());
    }
    at::Tensor bias = GatedBias(x, *ctx.positionBias);
    // Padded keys get -inf, as torch's multi_head_attention_forward does with a key padding mask.
    if (ctx.keyMask) bias = bias.masked_fill(ctx.keyMask->logical_not(), -std::numeric_limits<float>::infinity());
    mask = bias;
  }
  const at::Tensor attended = bf16_ ? Bfloat16Attention(qkv[0], qkv[1], qkv[2], mask) : at::scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], mask);
  return out_(attended.transpose(1, 2).reshape({b, f, heads_ * headDim_}));
}

}  // namespace w2v::builder
