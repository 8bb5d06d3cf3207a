// A call's waveforms made ready on the inference thread: checked for NaN and infinities, and layer-normalised per
// item where the model asks. Why there and not in TypeScript: both are passes over every sample, and on the main
// thread (with the padded copy they needed) they were the event loop's longest busy stretches under load.
#pragma once

#include <napi.h>
#include <torch/types.h>

#include <optional>

namespace w2v {

// Throws CodedError INVALID_INPUT naming the first valid sample that is NaN or infinite (item, index, value).
void CheckFinite(const at::Tensor& waveforms, const std::optional<at::Tensor>& lengths);

// Per item over its valid samples, in place: (x - mean) / sqrt(variance + eps), biased variance, sums in double (as
// torch.nn.functional.layer_norm over one waveform); padding stays zero. `waveforms`: [B, T] float32, contiguous.
void NormalizeItems(at::Tensor& waveforms, const std::optional<at::Tensor>& lengths, double eps);

// normalizeWaveforms(data: Float32Array, shape: [B, T], lengths: Int32Array | null, eps): Float32Array. The same
// normalisation on the calling thread, for tests that compare it with PyTorch.
Napi::Value NormalizeWaveforms(const Napi::CallbackInfo& info);

}  // namespace w2v
