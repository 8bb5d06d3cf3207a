#include "network.h"

#include "../errors.h"
#include "../tensor.h"

namespace w2v::builder {
namespace {

const char* ArchName(Arch a) {
  switch (a) {
    case Arch::Hubert: return "hubert";
    case Arch::WavLM: return "wavlm";
    case Arch::Data2VecAudio: return "data2vec-audio";
    default: return "wav2vec2";
  }
}

}  // namespace

NativeNetwork::NativeNetwork(const Spec& spec, std::vector<TensorRef> tensors, c10::Device device, at::ScalarType dtype,
                             const std::string& dtypeName, bool optimize, bool int8)
    : device_(device), dtype_(dtype), numLayers_(spec.numLayers) {
  info_.convention = Convention::Native;
  info_.hasExtractFeatures = true;
  info_.numLayers = spec.numLayers;
  info_.numHeads = spec.numHeads;
  info_.device = device.str();
  info_.dtype = dtypeName;
  info_.file = tensors.empty() ? std::string() : tensors.front().file;
  info_.methods.emplace_back("forward", spec.vocabSize > 0 ? "forward(waveforms, lengths?) -> (logits, lengths?)" : "none: no CTC head");
  info_.methods.emplace_back("extract_features", std::string("extract_features(waveforms, lengths?, num_layers?) -> (") + ArchName(spec.arch) + " layer outputs, lengths?)");
  Kernels k;
  k.onednn = optimize && device.is_cpu() && FusedKernelsAvailable(dtype);
  k.int8 = int8;
  k.bfloat16 = k.onednn && dtype == at::kBFloat16;
  k.used = &info_.rewrites;
  Weights w(std::move(tensors), device, dtype);
  extractor_ = std::make_unique<FeatureExtractor>(spec, w, k);
  projection_ = std::make_unique<FeatureProjection>(spec, w, k);
  encoder_ = std::make_unique<Encoder>(spec, w, k);
  if (spec.vocabSize > 0) {
    head_ = Linear(w.Take("lm_head.weight", {spec.vocabSize, spec.hiddenSize}), w.Take("lm_head.bias", {spec.vocabSize}), std::nullopt, k.Float());
  }
  info_.parameters = w.parameters();
}

at::Tensor NativeNetwork::Run(const at::Tensor& waveforms, const std::optional<at::Tensor>& lengths, int64_t layers,
                              std::vector<at::Tensor>* features, std::optional<at::Tensor>* frames) {
  const at::Tensor x = waveforms.to(device_, dtype_);
  std::optional<at::Tensor> onDevice;
  if (lengths) onDevice = lengths->to(device_);
  at::Tensor h = (*extractor_)(x, onDevice);  // [B, C, F]
  if (h.size(2) < 1) throw CodedError("INVALID_INPUT", "the input is shorter than the model's receptive field: no output frame");
  std::optional<at::Tensor> valid;
  if (lengths) {
    const at::Tensor n = extractor_->Frames(*onDevice);
    valid = at::arange(h.size(2), n.options()).unsqueeze(0) < n.unsqueeze(1);
    *frames = extractor_->Frames(*lengths).to(at::kLong).contiguous();
  }
  h = (*projection_)(h.transpose(1, 2));
  return (*encoder_)(h, valid, layers, features);
}

Output NativeNetwork::Forward(const at::Tensor& waveforms, const std::optional<at::Tensor>& lengths) {
  if (!head_) {
    throw CodedError("UNSUPPORTED_METHOD", "this model has no CTC head (a bare checkpoint such as Wav2Vec2Model): use extractFeatures()");
  }
  Output out;
  const at::Tensor h = Run(waveforms, lengths, numLayers_, nullptr, &out.lengths);
  out.tensors.push_back(ToHostFloat((*head_)(h)));
  return out;
}

Output NativeNetwork::ExtractFeatures(const at::Tensor& waveforms, const std::optional<at::Tensor>& lengths, std::optional<int64_t> numLayers) {
  if (numLayers && (*numLayers < 1 || *numLayers > numLayers_)) {
    throw CodedError("INVALID_INPUT", "`num_layers` must be between [1, " + std::to_string(numLayers_) + "]");
  }
  Output out;
  std::vector<at::Tensor> features;
  Run(waveforms, lengths, numLayers.value_or(numLayers_), &features, &out.lengths);
  for (const at::Tensor& f : features) out.tensors.push_back(ToHostFloat(f));
  return out;
}

}  // namespace w2v::builder
