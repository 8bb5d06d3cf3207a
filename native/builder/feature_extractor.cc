#include "feature_extractor.h"

#include <algorithm>

#include "../first_layer.h"

namespace w2v::builder {
namespace {

// nn.LayerNorm's default: the conv layers' norms do not take config.layer_norm_eps.
constexpr double kConvNormEps = 1e-5;

}  // namespace

FeatureExtractor::FeatureExtractor(const Spec& spec, Weights& w, const Kernels& k)
    : kernel_(spec.convKernel), stride_(spec.convStride), act_(spec.featActivation), int8_(k.int8) {
  int64_t in = 1;
  for (size_t i = 0; i < spec.convDim.size(); i++) {
    const std::string p = spec.prefix + "feature_extractor.conv_layers." + std::to_string(i) + ".";
    const int64_t out = spec.convDim[i];
    Layer layer;
    const bool norm = !spec.groupNorm || i == 0;
    layer.groupNorm = spec.groupNorm && i == 0;
    std::optional<at::Tensor> bias;
    if (spec.convBias) bias = w.Take(p + "conv.bias", {out});
    at::Tensor weight = w.Take(p + "conv.weight", {out, in, spec.convKernel[i]});
    if (k.int8) {
      if (i == 0) {
        // Int8FirstLayer's product of sample windows: [out, 1, kernel] -> [kernel, out].
        layer.windowWeight = weight.reshape({out, -1}).t().contiguous();
        layer.bias = bias;
      } else {
        // [out, in, kernel] -> [out, kernel * in], frame-major as QuantizeWindows lays out a window.
        layer.int8.emplace(weight.permute({0, 2, 1}).reshape({out, -1}), bias);
        if (k.used) (*k.used)["int8Conv"]++;
      }
    } else {
      // Where the oneDNN kernels run (CPU, optimize), so does the first layer's own kernel, which is float32 only and
      // for narrow layers only (first_layer.h): optimize: false keeps LibTorch's.
      layer.firstLayer = layer.groupNorm && k.onednn && weight.scalar_type() == at::kFloat && out <= kFirstLayerMaxChannels &&
                         (act_ == Activation::Gelu || act_ == Activation::GeluTanh);
      if (layer.firstLayer) {
        layer.weight = weight;
        layer.bias = bias;
        if (k.used) (*k.used)["firstLayer"]++;
      }
      layer.framesMajor = k.bfloat16 && !norm && i > 0;
      layer.conv = Conv1d(std::move(weight), bias, spec.convStride[i], 0, 1, norm ? std::nullopt : std::optional<Activation>(act_), k, layer.framesMajor);
    }
    if (norm) {
      layer.normWeight = w.Take(p + "layer_norm.weight", {out});
      layer.normBias = w.Take(p + "layer_norm.bias", {out});
    }
    layers_.push_back(std::move(layer));
    in = out;
  }
}

at::Tensor FeatureExtractor::Frames(const at::Tensor& lengths) const {
  at::Tensor n = lengths.to(at::kLong);
  for (size_t i = 0; i < kernel_.size(); i++) n = at::div(n - kernel_[i], stride_[i], "floor") + 1;
  return n.clamp_min(0);
}

// Each item's valid frames after layer 0 (int64, on the CPU), at least one: the frames the masked GroupNorm normalises.
at::Tensor FeatureExtractor::FirstLayerFrames(const at::Tensor& lengths) const {
  return (at::div(lengths.to(at::kCPU, at::kLong) - kernel_[0], stride_[0], "floor") + 1).clamp_min(1).contiguous();
}

// GroupNorm with one group per channel over each item's first n valid frames (export_hf.py's MaskedFeatureEncoder),
// by LibTorch's fused kernel on each item's valid part: the masked sums it replaced cost several passes over the
// largest activation of the network. Frames past an item's end are left zero; nothing valid reads them.
at::Tensor FeatureExtractor::MaskedGroupNorm(const at::Tensor& h, const Layer& layer, const at::Tensor& lengths) const {
  const at::Tensor n = FirstLayerFrames(lengths);
  const int64_t frames = h.size(-1), channels = h.size(1);
  // Every item full length (any batch of equal lengths): the whole batch at once.
  if (n.min().item<int64_t>() >= frames) return at::group_norm(h, channels, layer.normWeight, layer.normBias, kConvNormEps);
  const auto valid = n.accessor<int64_t, 1>();
  at::Tensor out = at::zeros_like(h);
  for (int64_t b = 0; b < h.size(0); b++) {
    const int64_t nb = std::min(valid[b], frames);
    out.narrow(0, b, 1).narrow(2, 0, nb).copy_(at::group_norm(h.narrow(0, b, 1).narrow(2, 0, nb), channels, layer.normWeight, layer.normBias, kConvNormEps));
  }
  return out;
}

// Layer 0 through first_layer.h, on each item's valid samples for a padded batch (what MaskedGroupNorm gives: a valid
// frame reads valid samples only, and the norm runs over the valid frames); frames past an item's end are left zero.
at::Tensor FeatureExtractor::FirstLayerOf(const at::Tensor& x, const Layer& layer, const std::optional<at::Tensor>& lengths) const {
  const int64_t channels = layer.weight.size(0);
  const std::string approximate = act_ == Activation::GeluTanh ? "tanh" : "none";
  const auto run = [&](const at::Tensor& input) {
    return FirstLayer(input, layer.weight, layer.bias, {stride_[0]}, {0}, {1}, 1, channels, layer.normWeight, layer.normBias, kConvNormEps,
                      approximate);
  };
  const at::Tensor h = x.unsqueeze(1);
  if (!lengths) return run(h);
  const at::Tensor n = lengths->to(at::kCPU, at::kLong).contiguous();
  const int64_t samples = x.size(-1);
  if (n.min().item<int64_t>() >= samples) return run(h);
  const int64_t frames = samples < kernel_[0] ? 0 : (samples - kernel_[0]) / stride_[0] + 1;
  at::Tensor out = at::zeros({x.size(0), channels, frames}, x.options());
  const auto valid = n.accessor<int64_t, 1>();
  for (int64_t b = 0; b < x.size(0); b++) {
    // At least one frame's samples, as MaskedGroupNorm normalises at least one frame.
    const int64_t nb = std::min(std::max(valid[b], kernel_[0]), samples);
    const at::Tensor y = run(h.narrow(0, b, 1).narrow(2, 0, nb));
    out.narrow(0, b, 1).narrow(2, 0, y.size(2)).copy_(y);
  }
  return out;
}

at::Tensor FeatureExtractor::Int8FirstLayer(const at::Tensor& xIn, const std::optional<at::Tensor>& lengths, at::Tensor* ranges) const {
  const Layer& layer = layers_.front();
  const at::Tensor x = xIn.contiguous();
  const int64_t batch = x.size(0), samples = x.size(1), kernel = kernel_[0], stride = stride_[0];
  const int64_t frames = samples < kernel ? 0 : (samples - kernel) / stride + 1;
  // [B, F, kernel] windows (copied: a few floats per frame) times [kernel, C]: the frames come out frames-major.
  at::Tensor h = at::matmul(x.as_strided({batch, frames, kernel}, {samples, stride, 1}).contiguous(), layer.windowWeight);
  if (layer.bias) h.add_(*layer.bias);
  const int64_t channels = h.size(2);
  if (frames == 0) {  // shorter than the kernel: the network refuses it once it sees no frame
    *ranges = at::empty({0, 2}, h.options());
    return h;
  }
  if (!layer.groupNorm) {
    if (layer.normWeight) h = at::layer_norm(h, {channels}, layer.normWeight, layer.normBias, kConvNormEps);
    ActivateInPlace(h, act_);
    *ranges = RowRanges(h.view({batch * frames, channels}));
    return h;
  }
  // GroupNorm, a group per channel, over each item's valid frames (as MaskedGroupNorm); frames past them stay zero.
  *ranges = at::zeros({batch * frames, 2}, h.options());
  const at::Tensor n = lengths ? FirstLayerFrames(*lengths).clamp_max(frames) : at::full({batch}, frames, at::kLong);
  const auto valid = n.accessor<int64_t, 1>();
  for (int64_t b = 0; b < batch; b++) {
    at::Tensor item = h.select(0, b).narrow(0, 0, valid[b]);
    const auto [mean, var] = ColumnMeanVar(item);
    const at::Tensor scale = at::rsqrt(var + kConvNormEps) * *layer.normWeight;
    at::Tensor itemRanges = ranges->narrow(0, b * frames, valid[b]);
    NormalizeRows(item, scale, *layer.normBias - mean * scale, act_, itemRanges);
    if (valid[b] < frames) h.select(0, b).narrow(0, valid[b], frames - valid[b]).zero_();
  }
  return h;
}

at::Tensor FeatureExtractor::Int8Layers(at::Tensor h, std::optional<at::Tensor> ranges) const {
  for (size_t i = 1; i < layers_.size(); i++) {
    const Layer& layer = layers_[i];
    const int64_t batch = h.size(0);
    const Int8Rows rows = QuantizeWindows(h, kernel_[i], stride_[i], ranges);
    if (layer.normWeight) {
      // Frames-major, a layer norm over channels is over the last dimension (no transposes).
      h = (*layer.int8)(rows);
      h = at::layer_norm(h.view({batch, -1, h.size(1)}), {h.size(1)}, layer.normWeight, layer.normBias, kConvNormEps);
      ActivateInPlace(h, act_);
      ranges.reset();
    } else {
      at::Tensor found;
      h = (*layer.int8)(rows, act_, &found).view({batch, -1, layer.int8->outFeatures()});
      ranges = found;
    }
  }
  return h.transpose(1, 2);
}

at::Tensor FeatureExtractor::operator()(const at::Tensor& x, const std::optional<at::Tensor>& lengths) const {
  if (int8_) {
    at::Tensor ranges;
    at::Tensor h = Int8FirstLayer(x, lengths, &ranges);
    return Int8Layers(std::move(h), std::move(ranges));
  }
  at::Tensor h = x.unsqueeze(1);
  bool framesMajor = false;  // h is [B, F, C]
  for (const Layer& layer : layers_) {
    if (layer.firstLayer) {
      h = FirstLayerOf(x, layer, lengths);
      continue;
    }
    if (layer.framesMajor) {  // no norm: the activation is the convolution's
      if (!framesMajor) h = h.transpose(1, 2).contiguous();
      framesMajor = true;
      h = layer.conv.FramesMajor(h);
      continue;
    }
    TORCH_CHECK(!framesMajor, "FeatureExtractor: a channels-major layer after a frames-major one");
    h = layer.conv(h);
    if (!layer.normWeight) continue;
    if (layer.groupNorm) {
      h = lengths ? MaskedGroupNorm(h, layer, *lengths) : at::group_norm(h, h.size(1), layer.normWeight, layer.normBias, kConvNormEps);
    } else {
      h = at::layer_norm(h.transpose(1, 2), {h.size(1)}, layer.normWeight, layer.normBias, kConvNormEps).transpose(1, 2);
    }
    h = Activate(h, act_);
  }
  return framesMajor ? h.transpose(1, 2) : h;
}

FeatureProjection::FeatureProjection(const Spec& spec, Weights& w, const Kernels& k) : eps_(spec.layerNormEps) {
  const std::string p = spec.prefix + "feature_projection.";
  const int64_t in = spec.convDim.back();
  if (spec.featProjLayerNorm) {
    normWeight_ = w.Take(p + "layer_norm.weight", {in});
    normBias_ = w.Take(p + "layer_norm.bias", {in});
  }
  projection_ = Linear(w.Take(p + "projection.weight", {spec.hiddenSize, in}), w.Take(p + "projection.bias", {spec.hiddenSize}), std::nullopt, k);
}

at::Tensor FeatureProjection::operator()(const at::Tensor& x) const {
  return projection_(normWeight_ ? at::layer_norm(x, {x.size(-1)}, normWeight_, normBias_, eps_) : x);
}

}  // namespace w2v::builder
