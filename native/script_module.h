// A loaded TorchScript model and the calling conventions we understand, detected from method schemas:
//  - torchaudio (scripted): forward(waveforms, lengths: Optional[Tensor]) -> (Tensor, Optional[Tensor]) and
//    extract_features(waveforms, lengths, num_layers) -> (List[Tensor], Optional[Tensor])
//  - traced (e.g. Hugging Face Wav2Vec2ForCTC): forward(waveforms) -> Tensor | (Tensor, ...) | {"logits": Tensor}
//  - traced features (what scripts/export_hf.py adds): extract_features(waveforms) -> (Tensor, ...) with the
//    output of every transformer layer; num_layers then selects the first N.
// Knows tensors, not speech. Run methods only on the model's inference thread.
#pragma once

#include <torch/script.h>

#include "graph_optimizer.h"
#include "network.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace w2v {

class ScriptModule : public Network {
 public:
  // Throws CodedError (MODEL_LOAD_FAILED, UNSUPPORTED_METHOD, CUDA_UNAVAILABLE, INVALID_INPUT).
  // `optimize`: apply the CPU float32 graph rewrites of graph_optimizer.h when they apply.
  static std::unique_ptr<ScriptModule> Load(const std::string& path, const std::string& device, const std::string& dtype,
                                            bool optimize);

  const ModuleInfo& info() const override { return info_; }

  // Inference thread only. `waveforms` is CPU float32 [B, T]; `lengths` CPU int64 [B].
  Output Forward(const at::Tensor& waveforms, const std::optional<at::Tensor>& lengths) override;
  Output ExtractFeatures(const at::Tensor& waveforms, const std::optional<at::Tensor>& lengths,
                         std::optional<int64_t> numLayers) override;

 private:
  ScriptModule(torch::jit::Module module, c10::Device device, at::ScalarType dtype, ModuleInfo info)
      : module_(std::move(module)), device_(device), dtype_(dtype), info_(std::move(info)) {}

  c10::IValue LengthsArg(const std::optional<at::Tensor>& lengths) const;

  torch::jit::Module module_;
  c10::Device device_;
  at::ScalarType dtype_;
  ModuleInfo info_;
};

}  // namespace w2v
