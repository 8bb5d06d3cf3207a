// What Model (model.h) runs: a network that maps waveforms to logits or per-layer features. Two kinds implement
// it: a TorchScript file (script_module.h) and a network built natively from a checkpoint (builder/network.h).
// Model owns one, its thread and its calls; the network knows tensors only. Run methods on the inference thread.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace w2v {

// Load-time rewrites or fused kernels in use: name -> how many nodes or layers use them.
using Rewrites = std::map<std::string, int64_t>;

// torchaudio / traced: TorchScript calling conventions (script_module.h); native: built by builder/.
enum class Convention { Torchaudio, Traced, Native };

struct ModuleInfo {
  Convention convention = Convention::Traced;
  bool hasExtractFeatures = false;
  bool tracedFeatures = false;  // extract_features(waveforms) returns every layer
  std::vector<std::pair<std::string, std::string>> methods;  // name -> schema
  int64_t parameters = 0;
  int64_t numLayers = -1;  // -1: not known
  int64_t numHeads = -1;
  std::string device;
  std::string dtype;
  std::string file;
  Rewrites rewrites;  // load-time rewrites (graph_optimizer.h) or fused kernels (builder/kernels.h); empty when none
};

struct Output {
  std::vector<at::Tensor> tensors;  // CPU float32 contiguous
  std::optional<at::Tensor> lengths;  // CPU int64
};

class Network {
 public:
  virtual ~Network() = default;
  virtual const ModuleInfo& info() const = 0;
  // `waveforms` is CPU float32 [B, T]; `lengths` CPU int64 [B]. Throw CodedError or c10::Error.
  virtual Output Forward(const at::Tensor& waveforms, const std::optional<at::Tensor>& lengths) = 0;
  virtual Output ExtractFeatures(const at::Tensor& waveforms, const std::optional<at::Tensor>& lengths,
                                 std::optional<int64_t> numLayers) = 0;
};

// Device and dtype strings as the binding takes them; INVALID_INPUT / CUDA_UNAVAILABLE otherwise.
c10::Device ParseDevice(const std::string& text);
at::ScalarType ParseDtype(const std::string& text);
void CheckCuda(const c10::Device& device);

}  // namespace w2v
