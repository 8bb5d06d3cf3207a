// Load-time graph rewrites that make a CPU float32 model faster without changing what it computes.
//
// LibTorch runs aten::linear through MKL's sgemm. On CPUs with AVX-512 (measured on AMD EPYC / Zen 4, 2 threads),
// oneDNN's matmul is 10-45 % faster for the shapes of wav2vec2 (e.g. 499 x 768 x 3072: 209 vs 172 GFLOPS;
// 49 frames: 156 vs 106), and it applies the GELU that follows a feed-forward layer in the same pass over the
// output; a convolution + GELU of the feature extractor likewise runs as one oneDNN primitive. ONNX Runtime
// and Inductor get theirs the same way: by rewriting the graph when a session starts.
// Python's torch.jit.load does not, so this is a difference between us and the reference runtime: results
// differ from it by float rounding only (about 1e-6 on the benchmark models, far inside the 1e-4 bar).
#pragma once

#include <torch/script.h>

#include "network.h"

namespace w2v {

// Whether the rewrites can run here: LibTorch built with oneDNN and its fused linear operator registered.
bool GraphRewritesAvailable();

// Inlines every method of `module`, replaces aten::linear (and linear + gelu) by oneDNN's fused linear and
// convolution + gelu by oneDNN's fused convolution.
// Only for modules on the CPU in float32; the caller checks. Throws c10::Error when a pass fails: the module
// may then be half rewritten, so the caller loads it again without rewrites.
Rewrites RewriteForCpu(torch::jit::Module& module);

}  // namespace w2v
