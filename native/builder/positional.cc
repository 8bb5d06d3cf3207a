#include "positional.h"

#include "../errors.h"

namespace w2v::builder {
namespace {

// weight = g * v / |v|, the norm over every dimension but the kernel's (nn.utils.weight_norm(dim=2)).
at::Tensor FoldWeightNorm(Weights& w, const std::string& gName, const std::string& vName, const std::vector<int64_t>& shape) {
  const at::Tensor g = w.TakeFloat(gName, {1, 1, shape[2]});
  const at::Tensor v = w.TakeFloat(vName, shape);
  return w.ToModel(v * (g / v.norm(2, {0, 1}, true)));
}

at::Tensor PositionalWeight(Weights& w, const std::string& p, const std::vector<int64_t>& shape) {
  if (w.Has(p + "weight_g") || w.Has(p + "weight_v")) return FoldWeightNorm(w, p + "weight_g", p + "weight_v", shape);
  if (w.Has(p + "parametrizations.weight.original0") || w.Has(p + "parametrizations.weight.original1")) {
    return FoldWeightNorm(w, p + "parametrizations.weight.original0", p + "parametrizations.weight.original1", shape);
  }
  if (w.Has(p + "weight")) return w.Take(p + "weight", shape);  // already folded
  throw CodedError("CHECKPOINT_INVALID", "the checkpoint has no positional convolution weight: expected " + p +
                                             "weight_g and weight_v, parametrizations.weight.original0 and original1, or weight");
}

constexpr double kPosNormEps = 1e-5;  // data2vec-audio's nn.LayerNorm default

}  // namespace

PositionalEmbedding::PositionalEmbedding(const Spec& spec, Weights& w, const Kernels& k) : act_(spec.featActivation) {
  const int64_t d = spec.hiddenSize, groups = spec.numConvPosEmbeddingGroups;
  const std::string base = spec.prefix + "encoder.pos_conv_embed.";
  if (spec.arch == Arch::Data2VecAudio) {
    layerNorm_ = true;
    const int64_t kernel = spec.convPosKernelSize;
    trimLast_ = kernel % 2 == 0;
    for (int64_t i = 0; i < spec.numConvPosEmbeddings; i++) {
      const std::string p = base + "layers." + std::to_string(i) + ".conv.";
      convs_.emplace_back(w.Take(p + "weight", {d, d / groups, kernel}), w.Take(p + "bias", {d}), 1, kernel / 2, groups, std::nullopt, k);
    }
    return;
  }
  const int64_t kernel = spec.numConvPosEmbeddings;
  trimLast_ = kernel % 2 == 0;
  const std::string p = base + "conv.";
  convs_.emplace_back(PositionalWeight(w, p, {d, d / groups, kernel}), w.Take(p + "bias", {d}), 1, kernel / 2, groups, act_, k, true);
}

at::Tensor PositionalEmbedding::operator()(const at::Tensor& x) const {
  at::Tensor h = x;  // [B, T, C] throughout
  for (const Conv1d& conv : convs_) {
    h = conv.FramesMajor(h);
    if (trimLast_) h = h.narrow(1, 0, h.size(1) - 1);
    if (layerNorm_) h = Activate(at::layer_norm(h, {h.size(2)}, std::nullopt, std::nullopt, kPosNormEps), act_);
  }
  return h;
}

}  // namespace w2v::builder
