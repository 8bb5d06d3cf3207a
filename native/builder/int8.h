// int8 matrix products for the native network's dtype 'int8' (CPU): weights quantised once per output channel at
// build (symmetric), activations per row at each call (asymmetric), products in int32 by LibTorch's _int_mm (oneDNN's VNNI/AMX kernels), and
// each row rescaled to float32 with the layer's bias. Everything between the products (norms, GELU, attention,
// the positional convolution, the first convolution and the CTC head) stays float32.
//
// Why per row, symmetric, from the row's own values: a row's scale then depends on that row only, so an item's
// result is the same in any batch (the server keeps batching, which a per-call or per-batch scale would break:
// lib/recognizer/policy.ts) and padding cannot move a valid frame's scale; and it needs no calibration data.
#pragma once

#include <torch/types.h>

#include <optional>

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

// Whether LibTorch runs _int_mm on this CPU (asked once).
bool Int8KernelsAvailable();

}  // namespace w2v::builder
