// A wav2vec2-family network built from a checkpoint: feature extractor -> projection -> encoder [-> CTC head].
// Implements Network (../network.h), so Model runs it exactly as it runs a TorchScript file. Forward and
// ExtractFeatures with lengths give each item of a zero-padded batch its result alone.
#pragma once

#include <memory>
#include <optional>

#include "../network.h"
#include "encoder.h"
#include "feature_extractor.h"
#include "kernels.h"
#include "spec.h"
#include "weights.h"

namespace w2v::builder {

class NativeNetwork : public Network {
 public:
  // Reads the weights the spec needs and builds the layers. Throws CodedError (CHECKPOINT_INVALID for a missing
  // or misshaped tensor, MODEL_UNSUPPORTED). `int8`: dtype is float32 and the products run in int8 (int8.h).
  NativeNetwork(const Spec& spec, std::vector<TensorRef> tensors, c10::Device device, at::ScalarType dtype, const std::string& dtypeName,
                bool optimize, bool int8);

  const ModuleInfo& info() const override { return info_; }
  Output Forward(const at::Tensor& waveforms, const std::optional<at::Tensor>& lengths) override;
  Output ExtractFeatures(const at::Tensor& waveforms, const std::optional<at::Tensor>& lengths, std::optional<int64_t> numLayers) override;

 private:
  // Through the encoder's first `layers` layers; `features` gets each layer's output when given.
  at::Tensor Run(const at::Tensor& waveforms, const std::optional<at::Tensor>& lengths, int64_t layers, std::vector<at::Tensor>* features,
                 std::optional<at::Tensor>* frames);

  c10::Device device_;
  at::ScalarType dtype_;
  int64_t numLayers_;
  ModuleInfo info_;
  std::unique_ptr<FeatureExtractor> extractor_;
  std::unique_ptr<FeatureProjection> projection_;
  std::unique_ptr<Encoder> encoder_;
  std::optional<Linear> head_;
};

}  // namespace w2v::builder
