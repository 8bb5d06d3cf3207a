#include "int8.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>

#include "kernels.h"

// The row passes below are memory-bound loops the compiler vectorizes; built once per instruction set and picked at
// load (GCC/Clang function multiversioning on x86-64 Linux), they run on 16 floats at a time where AVX-512 is there.
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#define W2V_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define W2V_VECTOR_CLONES
#endif

namespace w2v::builder {
namespace {

constexpr int64_t kBlockRows = 16;  // rows a thread finishes at a time (16 x 3072 floats: 192 KiB, within L2)
constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: (v + kRound) - kRound is v rounded to nearest (even), |v| < 2^22

struct Range {
  float lo, hi;
};
static_assert(sizeof(Range) == 2 * sizeof(float), "a [R, 2] float tensor holds R ranges");

// Smallest and largest of n floats, with 0 always inside (so that zero, padding's value, is exact). Sixteen
// independent lanes: a min/max reduction the compiler may vectorize without reordering anything.
W2V_VECTOR_CLONES Range RangeOf(const float* __restrict x, int64_t n) {
  constexpr int kLanes = 16;
  float lo[kLanes] = {}, hi[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; l++) {
      lo[l] = x[i + l] < lo[l] ? x[i + l] : lo[l];
      hi[l] = x[i + l] > hi[l] ? x[i + l] : hi[l];
    }
  }
  Range r{0.0f, 0.0f};
  for (; i < n; i++) {
    r.lo = std::min(r.lo, x[i]);
    r.hi = std::max(r.hi, x[i]);
  }
  for (int l = 0; l < kLanes; l++) {
    r.lo = std::min(r.lo, lo[l]);
    r.hi = std::max(r.hi, hi[l]);
  }
  return r;
}

// q = round(x * inverse) + zero, within [-128, 127] by construction of inverse and zero.
W2V_VECTOR_CLONES void Quantize(const float* __restrict x, int64_t n, float inverse, float zero, int8_t* __restrict q) {
  for (int64_t i = 0; i < n; i++) {
    const float v = std::min(std::max(((x[i] * inverse + kRound) - kRound) + zero, -128.0f), 127.0f);
    q[i] = static_cast<int8_t>(static_cast<int32_t>(v));
  }
}

// y[j] = (acc[j] - zero * wsum[j]) * scale * wscale[j] + bias[j]
W2V_VECTOR_CLONES void Dequantize(const int32_t* __restrict acc, int64_t n, float scale, float zero, const float* __restrict wsum,
                                  const float* __restrict wscale, const float* __restrict bias, float* __restrict y) {
  if (bias) {
    for (int64_t j = 0; j < n; j++) y[j] = (static_cast<float>(acc[j]) - zero * wsum[j]) * (scale * wscale[j]) + bias[j];
  } else {
    for (int64_t j = 0; j < n; j++) y[j] = (static_cast<float>(acc[j]) - zero * wsum[j]) * (scale * wscale[j]);
  }
}

// Scale and zero point mapping [lo, hi] (0 inside) onto -128..127.
void Affine(Range r, float* scale, float* inverse, float* zero) {
  const float span = r.hi - r.lo;
  if (!(span > 0.0f)) {  // all zero
    *scale = *inverse = *zero = 0.0f;
    return;
  }
  *scale = span / 255.0f;
  *inverse = 255.0f / span;
  *zero = -128.0f - std::nearbyint(r.lo * *inverse);
}

}  // namespace

bool Int8KernelsAvailable() {
  static const bool works = [] {
    try {
      c10::InferenceMode guard;
      const auto i8 = at::TensorOptions().dtype(at::kChar);
      const at::Tensor y = at::_int_mm(at::ones({2, 8}, i8), at::ones({8, 8}, i8));
      return y.scalar_type() == at::kInt && y.sum().item<int64_t>() == 2 * 8 * 8;
    } catch (...) {
      return false;
    }
  }();
  return works;
}

at::Tensor RowRanges(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 2 && x.scalar_type() == at::kFloat && x.is_contiguous(), "RowRanges: expected contiguous float [R, W]");
  at::Tensor out = at::empty({x.size(0), 2}, x.options());
  auto* ranges = reinterpret_cast<Range*>(out.data_ptr<float>());
  const float* xp = x.data_ptr<float>();
  const int64_t width = x.size(1);
  at::parallel_for(0, x.size(0), 256, [&](int64_t from, int64_t to) {
    for (int64_t r = from; r < to; r++) ranges[r] = RangeOf(xp + r * width, width);
  });
  return out;
}

Int8Rows QuantizeWindows(const at::Tensor& xIn, int64_t kernel, int64_t stride, const std::optional<at::Tensor>& frameRanges) {
  TORCH_CHECK(xIn.dim() == 3 && xIn.scalar_type() == at::kFloat && kernel >= 1 && stride >= 1, "QuantizeWindows: expected float [B, T, C]");
  const at::Tensor x = xIn.contiguous();
  const int64_t batch = x.size(0), frames = x.size(1), channels = x.size(2);
  const int64_t out = frames < kernel ? 0 : (frames - kernel) / stride + 1;
  const int64_t width = kernel * channels;
  // Each frame's range once; a window's is the union of its frames'.
  const at::Tensor rangeTensor = frameRanges ? *frameRanges : RowRanges(x.view({batch * frames, channels}));
  TORCH_CHECK(rangeTensor.size(0) == batch * frames && rangeTensor.is_contiguous(), "QuantizeWindows: one range per frame");
  const auto* ranges = reinterpret_cast<const Range*>(rangeTensor.data_ptr<float>());
  const float* xp = x.data_ptr<float>();
  Int8Rows rows{at::empty({batch * out, width}, x.options().dtype(at::kChar)), at::empty({batch * out}, x.options()),
                at::empty({batch * out}, x.options())};
  int8_t* qp = rows.values.data_ptr<int8_t>();
  float* sp = rows.scales.data_ptr<float>();
  float* zp = rows.zeros.data_ptr<float>();
  at::parallel_for(0, batch * out, 64, [&](int64_t from, int64_t to) {
    for (int64_t r = from; r < to; r++) {
      const int64_t first = (r / out) * frames + (r % out) * stride;
      Range w = ranges[first];
      for (int64_t k = 1; k < kernel; k++) {
        w.lo = std::min(w.lo, ranges[first + k].lo);
        w.hi = std::max(w.hi, ranges[first + k].hi);
      }
      float inverse;
      Affine(w, &sp[r], &inverse, &zp[r]);
      Quantize(xp + first * channels, width, inverse, zp[r], qp + r * width);
    }
  });
  return rows;
}

Int8Matmul::Int8Matmul(const at::Tensor& weight, std::optional<at::Tensor> bias) : bias_(std::move(bias)) {
  TORCH_CHECK(weight.dim() == 2, "Int8Matmul: expected a [N, K] weight");
  const at::Tensor w = weight.to(at::kFloat).contiguous();
  const int64_t n = w.size(0), k = w.size(1);
  scales_ = at::empty({n}, w.options());
  sums_ = at::empty({n}, w.options());
  at::Tensor q = at::empty({n, k}, w.options().dtype(at::kChar));
  const float* wp = w.data_ptr<float>();
  float* sp = scales_.data_ptr<float>();
  float* sums = sums_.data_ptr<float>();
  int8_t* qp = q.data_ptr<int8_t>();
  at::parallel_for(0, n, 16, [&](int64_t from, int64_t to) {
    for (int64_t c = from; c < to; c++) {
      // Symmetric, -127..127: a weight row has no zero point (the product's correction term is the input's only).
      const Range r = RangeOf(wp + c * k, k);
      const float m = std::max(-r.lo, r.hi);
      sp[c] = m > 0.0f ? m / 127.0f : 0.0f;
      Quantize(wp + c * k, k, m > 0.0f ? 127.0f / m : 0.0f, 0.0f, qp + c * k);
      int64_t sum = 0;
      for (int64_t i = 0; i < k; i++) sum += qp[c * k + i];
      sums[c] = static_cast<float>(sum);
    }
  });
  weightT_ = q.t();
  if (bias_) bias_ = bias_->to(at::kFloat).contiguous();
}

at::Tensor Int8Matmul::operator()(const Int8Rows& rows, std::optional<Activation> act, at::Tensor* ranges) const {
  const at::Tensor acc = at::_int_mm(rows.values, weightT_);  // int32 [R, N]
  const int64_t r = acc.size(0), n = acc.size(1);
  at::Tensor y = at::empty({r, n}, rows.scales.options());
  const int32_t* ap = acc.data_ptr<int32_t>();
  const float* rs = rows.scales.data_ptr<float>();
  const float* rz = rows.zeros.data_ptr<float>();
  const float* ws = scales_.data_ptr<float>();
  const float* wsum = sums_.data_ptr<float>();
  const float* bp = bias_ ? bias_->data_ptr<float>() : nullptr;
  float* yp = y.data_ptr<float>();
  Range* rp = nullptr;
  if (ranges) {
    *ranges = at::empty({r, 2}, y.options());
    rp = reinterpret_cast<Range*>(ranges->data_ptr<float>());
  }
  at::parallel_for(0, r, kBlockRows, [&](int64_t from, int64_t to) {
    for (int64_t i = from; i < to; i++) Dequantize(ap + i * n, n, rs[i], rz[i], wsum, ws, bp, yp + i * n);
  });
  if (act) ActivateInPlace(y, *act);
  if (rp) {
    at::parallel_for(0, r, 256, [&](int64_t from, int64_t to) {
      for (int64_t i = from; i < to; i++) rp[i] = RangeOf(yp + i * n, n);
    });
  }
  return y;
}

}  // namespace w2v::builder
