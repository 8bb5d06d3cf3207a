// The feature encoder's first layer as one operator: a convolution of the one-channel waveform, GroupNorm with one
// group per channel, GELU (wav2vec2's and HuBERT's "group" feature extractor, layer 0).
//
// Why: LibTorch runs this layer far below what the CPU can do. Its convolution has one input channel, which oneDNN
// handles as a direct convolution at well under 1 GFLOP/s (36 ms per 20 s of audio for the default model's 32
// channels, 1 thread, where the arithmetic is 20 M multiply-adds), and its GroupNorm makes several passes over the
// largest activation of the network (16 ms). Together with the GELU that was about 30 % of the default model's time.
// Here the convolution runs as small blocks of im2col rows times the weights, and the norm in two passes per channel
// row: about a tenth of the time. Python's torch.jit.load runs LibTorch's kernels; results differ from it by float
// rounding (about 1e-6 on the default model), like graph_optimizer.h's rewrites.
//
// Registered as `w2v::conv_group_norm_gelu` (TorchScript graphs call it after graph_optimizer.h's rewrite; the native
// network calls FirstLayer directly). Inputs it does not cover run LibTorch's own three operators, so the rewrite is
// safe for any graph that matches the pattern.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

namespace w2v {

// gelu(group_norm(conv1d(x, weight, bias, stride, padding, dilation, groups), numGroups, normWeight, normBias, eps)),
// exactly LibTorch's composition where the fast kernel does not apply (see FirstLayerFast).
at::Tensor FirstLayer(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                      std::vector<int64_t> stride, std::vector<int64_t> padding, std::vector<int64_t> dilation,
                      int64_t groups, int64_t numGroups, const std::optional<at::Tensor>& normWeight,
                      const std::optional<at::Tensor>& normBias, double eps, const std::string& approximate);

// Whether the fast kernel covers these inputs: CPU float32 [B, 1, N] input, [C, 1, K] weight with N >= K and C <= 32
// (small models: wider layers run faster in LibTorch, see first_layer.cc), one group, no padding or dilation, one
// norm group per channel, affine norm of C values or none.
bool FirstLayerFast(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                    const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                    const std::vector<int64_t>& dilation, int64_t groups, int64_t numGroups,
                    const std::optional<at::Tensor>& normWeight, const std::optional<at::Tensor>& normBias);

// Widest layer the fast kernel takes (see first_layer.cc for the measurement): the native builder routes only such
// layers here. The graph rewrite matches every width; wider layers then run LibTorch's three operators inside the op.
constexpr int64_t kFirstLayerMaxChannels = 32;

// The operator's qualified name, for the graph rewrite.
constexpr const char* kFirstLayerOp = "w2v::conv_group_norm_gelu";

}  // namespace w2v
