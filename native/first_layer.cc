#include "first_layer.h"

#include <ATen/Parallel.h>
#include <ATen/ops/conv1d.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/group_norm.h>
#include <c10/core/InferenceMode.h>
#include <torch/library.h>

#include <cmath>
#include <vector>

namespace w2v {
namespace {

// Outputs per block of the convolution: the block's im2col rows (K x kBlock floats, 20 KiB for K = 10) and one output
// row stay in L1 while every channel is computed from them.
constexpr int64_t kBlock = 512;

// kFirstLayerMaxChannels: measured in the addon (2 threads, AVX-512), 32 channels (the default model) 33 ms -> 10.6 ms
// per 20 s; 512 channels (base) 130 ms per 10 s slower than LibTorch's oneDNN convolution and vectorized GroupNorm,
// whose wide rows this kernel's scalar-double sums and per-channel passes do not match.

// out[c][t0 + j] = bias[c] + sum_k w[c][k] * x[(t0 + j) * stride + k], for j < len, through the block's im2col rows
// (contiguous in j, so the inner loop runs on vector registers).
void ConvBlock(const float* __restrict x, const float* __restrict w, const float* bias, int64_t channels, int64_t taps,
               int64_t stride, int64_t t0, int64_t len, int64_t frames, float* __restrict out, float* __restrict cols) {
  for (int64_t k = 0; k < taps; k++) {
    float* __restrict col = cols + k * kBlock;
    const float* src = x + t0 * stride + k;
    for (int64_t j = 0; j < len; j++) col[j] = src[j * stride];
  }
  for (int64_t c = 0; c < channels; c++) {
    float* __restrict row = out + c * frames + t0;
    const float b = bias ? bias[c] : 0.0f;
    for (int64_t j = 0; j < len; j++) row[j] = b;
    for (int64_t k = 0; k < taps; k++) {
      const float wk = w[c * taps + k];
      const float* __restrict col = cols + k * kBlock;
      for (int64_t j = 0; j < len; j++) row[j] += wk * col[j];
    }
  }
}

// Sum of row[j] (or of (row[j] - centre)^2) in double, over eight independent lanes so that the loop vectorizes
// without reassociating anything.
double RowSum(const float* row, int64_t n, double centre, bool squares) {
  double lanes[8] = {};
  int64_t j = 0;
  if (squares) {
    for (; j + 8 <= n; j += 8) {
      for (int l = 0; l < 8; l++) {
        const double d = row[j + l] - centre;
        lanes[l] += d * d;
      }
    }
  } else {
    for (; j + 8 <= n; j += 8) {
      for (int l = 0; l < 8; l++) lanes[l] += row[j + l];
    }
  }
  double s = 0;
  for (; j < n; j++) s += squares ? (row[j] - centre) * (row[j] - centre) : row[j];
  for (double l : lanes) s += l;
  return s;
}

// One channel of GroupNorm(channels, channels) in place: two passes for the mean and the (biased) variance, as stable
// as LibTorch's, then y = x * scale + shift with scale = gamma / sqrt(var + eps), as LibTorch applies it.
void NormalizeRow(float* row, int64_t n, float gamma, float beta, double eps) {
  const double mean = RowSum(row, n, 0, false) / static_cast<double>(n);
  const double var = RowSum(row, n, mean, true) / static_cast<double>(n);
  const float scale = static_cast<float>(gamma / std::sqrt(var + eps));
  const float shift = static_cast<float>(beta - mean * scale);
  for (int64_t j = 0; j < n; j++) row[j] = row[j] * scale + shift;
}

at::Tensor FastFirstLayer(const at::Tensor& xIn, const at::Tensor& wIn, const std::optional<at::Tensor>& biasIn, int64_t stride,
                          const std::optional<at::Tensor>& normWeight, const std::optional<at::Tensor>& normBias, double eps,
                          const std::string& approximate) {
  const at::Tensor x = xIn.contiguous(), w = wIn.contiguous();
  const at::Tensor bias = biasIn && biasIn->defined() ? biasIn->contiguous() : at::Tensor();
  const at::Tensor gamma = normWeight && normWeight->defined() ? normWeight->contiguous() : at::Tensor();
  const at::Tensor beta = normBias && normBias->defined() ? normBias->contiguous() : at::Tensor();
  const int64_t batch = x.size(0), n = x.size(2), channels = w.size(0), taps = w.size(2);
  const int64_t frames = (n - taps) / stride + 1;
  at::Tensor out = at::empty({batch, channels, frames}, x.options());
  const float* xp = x.data_ptr<float>();
  const float* wp = w.data_ptr<float>();
  const float* bp = bias.defined() ? bias.data_ptr<float>() : nullptr;
  float* op = out.data_ptr<float>();
  const int64_t blocks = (frames + kBlock - 1) / kBlock;
  at::parallel_for(0, batch * blocks, 1, [&](int64_t from, int64_t to) {
    std::vector<float> cols(static_cast<size_t>(taps * kBlock));
    for (int64_t i = from; i < to; i++) {
      const int64_t b = i / blocks, t0 = (i % blocks) * kBlock;
      ConvBlock(xp + b * n, wp, bp, channels, taps, stride, t0, std::min(kBlock, frames - t0), frames, op + b * channels * frames, cols.data());
    }
  });
  const float* gp = gamma.defined() ? gamma.data_ptr<float>() : nullptr;
  const float* betap = beta.defined() ? beta.data_ptr<float>() : nullptr;
  at::parallel_for(0, batch * channels, 1, [&](int64_t from, int64_t to) {
    for (int64_t r = from; r < to; r++) {
      const int64_t c = r % channels;
      NormalizeRow(op + r * frames, frames, gp ? gp[c] : 1.0f, betap ? betap[c] : 0.0f, eps);
      // While the row is still in cache. Inside parallel_for, LibTorch runs the GELU on this thread, which may be an
      // OpenMP worker: InferenceMode is per thread, and an in-place op on an inference tensor outside it throws.
      c10::InferenceMode guard;
      at::Tensor row = out.view({batch * channels, frames}).select(0, r);
      at::gelu_(row, approximate);
    }
  });
  return out;
}

bool OneOf(const std::vector<int64_t>& v, int64_t value) {
  return v.size() == 1 && v[0] == value;
}

bool Affine(const std::optional<at::Tensor>& t, int64_t channels) {
  return !t || !t->defined() || (t->device().is_cpu() && t->scalar_type() == at::kFloat && t->dim() == 1 && t->size(0) == channels);
}

at::Tensor FirstLayerOp(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias, std::vector<int64_t> stride,
                        std::vector<int64_t> padding, std::vector<int64_t> dilation, int64_t groups, int64_t numGroups,
                        const std::optional<at::Tensor>& normWeight, const std::optional<at::Tensor>& normBias, double eps,
                        std::string approximate) {
  return FirstLayer(x, weight, bias, std::move(stride), std::move(padding), std::move(dilation), groups, numGroups, normWeight, normBias, eps,
                    approximate);
}

}  // namespace

bool FirstLayerFast(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                    const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                    const std::vector<int64_t>& dilation, int64_t groups, int64_t numGroups,
                    const std::optional<at::Tensor>& normWeight, const std::optional<at::Tensor>& normBias) {
  const auto cpuFloat = [](const at::Tensor& t) { return t.device().is_cpu() && t.scalar_type() == at::kFloat; };
  if (!cpuFloat(x) || !cpuFloat(weight) || x.dim() != 3 || x.size(1) != 1 || weight.dim() != 3 || weight.size(1) != 1) return false;
  const int64_t channels = weight.size(0);
  return channels > 0 && channels <= kFirstLayerMaxChannels && weight.size(2) > 0 && x.size(0) > 0 && x.size(2) >= weight.size(2) && groups == 1 && numGroups == channels &&
         stride.size() == 1 && stride[0] > 0 && OneOf(padding, 0) && OneOf(dilation, 1) && Affine(bias, channels) &&
         Affine(normWeight, channels) && Affine(normBias, channels);
}

at::Tensor FirstLayer(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                      std::vector<int64_t> stride, std::vector<int64_t> padding, std::vector<int64_t> dilation,
                      int64_t groups, int64_t numGroups, const std::optional<at::Tensor>& normWeight,
                      const std::optional<at::Tensor>& normBias, double eps, const std::string& approximate) {
  if (FirstLayerFast(x, weight, bias, stride, padding, dilation, groups, numGroups, normWeight, normBias)) {
    return FastFirstLayer(x, weight, bias, stride[0], normWeight, normBias, eps, approximate);
  }
  const at::Tensor h = at::conv1d(x, weight, bias, stride, padding, dilation, groups);
  return at::gelu(at::group_norm(h, numGroups, normWeight, normBias, eps), approximate);
}

}  // namespace w2v

TORCH_LIBRARY_FRAGMENT(w2v, m) {
  m.def(
      "conv_group_norm_gelu(Tensor x, Tensor weight, Tensor? bias, int[] stride, int[] padding, int[] dilation, int groups, "
      "int num_groups, Tensor? norm_weight, Tensor? norm_bias, float eps, str approximate) -> Tensor",
      &w2v::FirstLayerOp);
}
