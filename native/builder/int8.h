// int8 matrix products for the native network's dtype 'int8' (CPU): weights quantised once per output channel at
// build (symmetric), activations per row at each call (asymmetric), products in int32 by LibTorch's _int_mm
// (oneDNN's VNNI/AMX kernels), and each row rescaled to float32 with the layer's bias and activation. Between the
// products: norms, residuals, the first convolution and the CTC head in float32; attention and the positional
// convolution in bfloat16 where oneDNN has it (attention.h, kernels.h).
//
// Why per row, from the row's own values: a row's scale then depends on that row only, so an item's result is the
// same in any batch (the server keeps batching, which a per-call or per-batch scale would break:
// lib/recognizer/policy.ts), padding cannot move a valid frame's scale, and no calibration data is needed.
#pragma once

#include <torch/types.h>

#include <optional>
#include <utility>

#include "spec.h"

namespace w2v::builder {

// int8 rows with one scale and zero point each: row r reads (values[r] - zeros[r]) * scales[r].
struct Int8Rows {
  at::Tensor values;  // int8 [R, W], contiguous
  at::Tensor scales;  // float [R]
  at::Tensor zeros;  // float [R], whole numbers
};

// x: float [B, T, C], contiguous. Rows: the windows of `kernel` frames every `stride` frames of each item, frame after
// frame ([B * T'] rows of kernel * C values, T' = (T - kernel) / stride + 1), each mapped from its own range (with 0
// in it) onto -128..127: most inputs here follow a GELU, one-sided, where a symmetric scale would waste a bit.
// kernel = stride = 1 gives x's own rows. `frameRanges` ([B * T, 2]: each frame's smallest and largest value, 0
// included), when the caller has them, saves a pass over x.
Int8Rows QuantizeWindows(const at::Tensor& x, int64_t kernel, int64_t stride, const std::optional<at::Tensor>& frameRanges = std::nullopt);

// Each row's smallest and largest value, 0 included: float [R, 2] of x [R, W] (contiguous).
at::Tensor RowRanges(const at::Tensor& x);

// Each column's mean and (biased) variance of x [R, C] contiguous, as float [C] each: sums in double over the rows.
// LibTorch's var_mean over the rows of base's first layer output at 10 s took 66 ms.
std::pair<at::Tensor, at::Tensor> ColumnMeanVar(const at::Tensor& x);

// In place, x [R, C] contiguous: x = act(x * scale + shift), scale and shift [C]; `ranges` [R, 2] receives the
// result's RowRanges. One pass over x, a block of rows at a time while it is in cache.
void NormalizeRows(at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift, Activation act, at::Tensor& ranges);

// y = rows W^T + b in float32, W [N, K] quantised per output channel.
class Int8Matmul {
 public:
  Int8Matmul() = default;
  Int8Matmul(const at::Tensor& weight, std::optional<at::Tensor> bias);
  // float [R, N], then `act` in place; `ranges`, when given, receives the result's RowRanges. Both run on blocks of
  // rows while they are in cache, instead of passes of their own over the whole result.
  at::Tensor operator()(const Int8Rows& rows, std::optional<Activation> act = std::nullopt, at::Tensor* ranges = nullptr) const;
  int64_t outFeatures() const { return scales_.size(0); }

 private:
  at::Tensor weightT_;  // int8 [K, N]: the transpose of a contiguous [N, K]
  at::Tensor scales_;  // float [N]
  at::Tensor sums_;  // float [N]: each quantised weight row's sum, for the inputs' zero points
  std::optional<at::Tensor> bias_;  // float [N]
};

// Softmax over the last dimension of bfloat16 scores [B, H, F, K] (contiguous), in place, in float32 inside; keys
// where keyMask ([B, 1, 1, K] bool, when given) is false get probability 0. LibTorch's bfloat16 softmax took 1.16 ms
// for base's 12 heads at 500 frames, a third of the attention's time in an int8 network.
void SoftmaxBfloat16(at::Tensor& scores, const std::optional<at::Tensor>& keyMask);

// Whether LibTorch runs _int_mm on this CPU (asked once).
bool Int8KernelsAvailable();

}  // namespace w2v::builder
