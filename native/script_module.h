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

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace w2v {

enum class Convention { Torchaudio, Traced };

struct ModuleInfo {
  Convention convention = Convention::Traced;
  bool hasExtractFeatures = false;
  bool tracedFeatures = false;  // extract_features(waveforms) returns every layer
  std::vector<std::pair<std::string, std::string>> methods;  // name -> schema
  int64_t parameters = 0;
  int64_t numLayers = -1;  // -1: not found in the module
  int64_t numHeads = -1;
  std::string device;
  std::string dtype;
  std::string file;
  Rewrites rewrites;  // load-time graph rewrites applied (graph_optimizer.h); empty when none
};

struct Output {
  std::vector<at::Tensor> tensors;  // CPU float32 contiguous
  std::optional<at::Tensor> lengths;  // CPU int64
};

class ScriptModule {
 public:
  // Throws CodedError (MODEL_LOAD_FAILED, UNSUPPORTED_METHOD, CUDA_UNAVAILABLE, INVALID_INPUT).
  // `optimize`: apply the CPU float32 graph rewrites of graph_optimizer.h when they apply.
  static std::unique_ptr<ScriptModule> Load(const std::string& path, const std::string& device, const std::string& dtype,
                                            bool optimize);

  const ModuleInfo& info() const { return info_; }

  // Inference thread only. `waveforms` is CPU float32 [B, T]; `lengths` CPU int64 [B].
  Output Forward(const at::Tensor& waveforms, const std::optional<at::Tensor>& lengths);
  Output ExtractFeatures(const at::Tensor& waveforms, const std::optional<at::Tensor>& lengths,
                         std::optional<int64_t> numLayers);

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
