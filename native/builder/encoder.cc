#include "encoder.h"

namespace w2v::builder {
namespace {

LayerNorm TakeLayerNorm(Weights& w, const std::string& p, int64_t d, double eps) {
  return LayerNorm{w.Take(p + "weight", {d}), w.Take(p + "bias", {d}), eps};
}

}  // namespace

EncoderLayer::EncoderLayer(const Spec& spec, Weights& w, const Kernels& k, int64_t index)
    : attention_(spec, w, k, spec.prefix + "encoder.layers." + std::to_string(index) + ".attention.", index == 0),
      stable_(spec.stableLayerNorm) {
  const std::string p = spec.prefix + "encoder.layers." + std::to_string(index) + ".";
  const int64_t d = spec.hiddenSize, inner = spec.intermediateSize;
  norm_ = TakeLayerNorm(w, p + "layer_norm.", d, spec.layerNormEps);
  finalNorm_ = TakeLayerNorm(w, p + "final_layer_norm.", d, spec.layerNormEps);
  intermediate_ = Linear(w.Take(p + "feed_forward.intermediate_dense.weight", {inner, d}), w.Take(p + "feed_forward.intermediate_dense.bias", {inner}),
                         spec.hiddenActivation, k);
  output_ = Linear(w.Take(p + "feed_forward.output_dense.weight", {d, inner}), w.Take(p + "feed_forward.output_dense.bias", {d}), std::nullopt, k);
}

at::Tensor EncoderLayer::operator()(const at::Tensor& x, AttentionContext& ctx) const {
  if (stable_) {
    at::Tensor h = x + attention_(norm_(x), ctx);
    return h + intermediate_.Then(output_, finalNorm_(h));
  }
  at::Tensor h = norm_(x + attention_(x, ctx));
  return finalNorm_(h + intermediate_.Then(output_, h));
}

Encoder::Encoder(const Spec& spec, Weights& w, const Kernels& k)
    : positional_(spec, w, k), norm_(TakeLayerNorm(w, spec.prefix + "encoder.layer_norm.", spec.hiddenSize, spec.layerNormEps)),
      stable_(spec.stableLayerNorm) {
  layers_.reserve(static_cast<size_t>(spec.numLayers));
  for (int64_t i = 0; i < spec.numLayers; i++) layers_.emplace_back(spec, w, k, i);
}

at::Tensor Encoder::operator()(at::Tensor x, const std::optional<at::Tensor>& valid, int64_t layers, std::vector<at::Tensor>* features) const {
  AttentionContext ctx;
  if (valid) {
    x = x * valid->unsqueeze(-1).to(x.scalar_type());
    ctx.keyMask = valid->view({x.size(0), 1, 1, x.size(1)});
  }
  x = x + positional_(x);
  if (!stable_) x = norm_(x);
  for (int64_t i = 0; i < layers; i++) {
    x = layers_[static_cast<size_t>(i)](x, ctx);
    if (features) features->push_back(x);
  }
  return stable_ ? norm_(x) : x;
}

}  // namespace w2v::builder
