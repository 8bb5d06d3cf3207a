// Resampling filters run as at::conv1d, the way torchaudio applies them (_apply_sinc_resample_kernel): lib/audio/
// resample-native.ts builds the filter bank (the same taps as lib/audio/resample.ts) and calls this synchronously, on
// the thread that asks (an audio worker of lib/pipeline/audio/pool.ts, or the main thread).
#pragma once

#include <napi.h>

namespace w2v {

// True when a call can be kept to the calling thread: LibTorch runs its intra-op work on OpenMP here, whose thread
// count is per calling thread. Without that (a LibTorch built with its own thread pool), `resample` is not exported
// and lib/audio/resample-native.ts keeps to the JavaScript path.
bool ResampleAvailable();

// resample(x, weight, phases, taps, stride, left, firstBlock, count, tile) -> a new array of x's kind, `count` long.
//   x: Float32Array or Float64Array; weight: the same kind, `phases` rows of `taps` (row-major).
//   Output k (block m = firstBlock + k / phases, phase j = k % phases) is
//     sum over i < taps of weight[j * taps + i] * x[m * stride + i - left], with x = 0 outside [0, x.length).
// That is conv1d(x zero-padded, weight [phases, 1, taps], stride) with the phases interleaved, as torchaudio's
// `resampled.transpose(1, 2).reshape(num_wavs, -1)`. It runs `tile` blocks per conv1d call, every call of the same
// shape (the last one padded with zeros): LibTorch picks its convolution algorithm by shape, so a fixed shape gives each
// output the same arithmetic wherever a call starts or ends, which keeps StreamResampler bit-exact.
Napi::Value Resample(const Napi::CallbackInfo& info);

}  // namespace w2v
