// oneDNN's fused linear and convolution on inputs padded to a bucket of sizes, the result cut back.
//
// Why: oneDNN builds (and JIT-compiles) a primitive for every input shape it meets and caches it by shape. A
// TorchScript model or the native network runs its linear layers on [frames, features] and its convolutions on
// [batch, channels, samples or frames], and in a batch job or a server nearly every input has a length of its own,
// so nearly every call paid for new primitives: in bench:batch (200 files of 2-60 s, default model) creating them
// was 7.8 % of all CPU time (4.6 % for linear layers, 3.2 % for the conv extractor's convolutions). Padded with zeros
// to a bucket (a multiple of 32, or of 1/16 of the size for long inputs), shapes repeat and the cache hits, and what
// is kept is the same arithmetic:
//  - a linear layer's output row depends on its own input row only;
//  - a convolution's output frame t reads input positions t * stride - padding + dilation * k, and past the end of
//    the input they read the convolution's own zero padding; zeros appended to the input are the same zeros, so the
//    first frames (as many as the unpadded input gives) are unchanged.
// Measured (Python, 1 thread, the default model's three linear shapes over 200 frame counts of 100-1500): 2.15-2.66 s
// with a primitive per count, 1.39-1.57 s bucketed (LibTorch's MKL path: 2.21 s).
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/ivalue.h>
#include <ATen/core/stack.h>

namespace w2v {

// mkldnn::_linear_pointwise, looked up once (the schema search is a hash lookup plus a lock on every call otherwise).
const c10::OperatorHandle& LinearPointwiseOp();

// Calls `op` with the arguments on `stack`; returns its (one) tensor result.
at::Tensor CallBoxed(const c10::OperatorHandle& op, torch::jit::Stack stack);

// `size` rounded up to its bucket.
int64_t BucketSize(int64_t size);

// mkldnn::_linear_pointwise(x, weight, bias, attr, scalars, algorithm) on x's rows padded to BucketSize, cut back.
at::Tensor LinearRows(const at::Tensor& x, const c10::IValue& weight, const c10::IValue& bias, const c10::IValue& attr,
                      const c10::IValue& scalars, const c10::IValue& algorithm);

// mkldnn::_convolution_pointwise(x, weight, bias, padding, stride, dilation, groups, attr, scalars, algorithm) for a
// 1-d convolution of x [B, C, T], on x's T padded with zeros to BucketSize, cut back to the frames x itself gives;
// inputs of more than 4 M values run unpadded (the copies would cost more than the primitive).
at::Tensor ConvFrames(const at::Tensor& x, const c10::IValue& weight, const c10::IValue& bias, const std::vector<int64_t>& padding,
                      const std::vector<int64_t>& stride, const std::vector<int64_t>& dilation, int64_t groups, const c10::IValue& attr,
                      const c10::IValue& scalars, const c10::IValue& algorithm);

// The same for a 1-d convolution of frames-major x [B, T, C] (contiguous or made so) as a 2-d one over the
// [B, C, 1, T] channels-last view of x (x's own memory), with `weight` [out, in / groups, 1, kernel] (channels-last);
// returns [B, T', out], a view of the channels-last result.
at::Tensor ConvFramesMajor(const at::Tensor& x, const at::Tensor& weight, const c10::IValue& bias, int64_t padding, int64_t stride, int64_t groups,
                           const c10::IValue& attr, const c10::IValue& scalars, const c10::IValue& algorithm);

// The operators' qualified names (the schemas of mkldnn::_linear_pointwise and mkldnn::_convolution_pointwise), for
// the graph rewrite.
constexpr const char* kLinearRowsOp = "w2v::linear_rows";
constexpr const char* kConvFramesOp = "w2v::conv_frames";

}  // namespace w2v
