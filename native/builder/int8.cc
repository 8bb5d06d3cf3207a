#include "int8.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

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

constexpr int64_t kRescaleGrain = 32;  // rows rescaled, activated and measured together (32 x 3072 floats: 384 KiB)
constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: (v + kRound) - kRound is v rounded to nearest (even), |v| < 2^22

struct Range {
  float lo, hi;
};
static_assert(sizeof(Range) == 2 * sizeof(float), "a [R, 2] float tensor holds R ranges");

// min and max that keep a NaN once one has been seen (std::min/max would drop it, and a NaN row would then read as a
// finite one).
inline float LowerOf(float a, float b) { return (b < a || b != b) ? b : a; }
inline float UpperOf(float a, float b) { return (b > a || b != b) ? b : a; }

// Smallest and largest of n floats, with 0 always inside (so that zero, padding's value, is exact); NaN if there is
// one. Sixteen independent lanes: a min/max reduction the compiler may vectorize without reordering anything. The
// NaN is caught by a lane of its own: carried through the min/max (LowerOf) the loop no longer vectorized, and
// this function took 15 % of an int8 forward pass.
W2V_VECTOR_CLONES Range RangeOf(const float* __restrict x, int64_t n) {
  constexpr int kLanes = 16;
  float lo[kLanes] = {}, hi[kLanes] = {}, nan[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; l++) {
      const float v = x[i + l];
      lo[l] = v < lo[l] ? v : lo[l];
      hi[l] = v > hi[l] ? v : hi[l];
      nan[l] = v != v ? v : nan[l];
    }
  }
  Range r{0.0f, 0.0f};
  for (; i < n; i++) {
    r.lo = LowerOf(r.lo, x[i]);
    r.hi = UpperOf(r.hi, x[i]);
  }
  for (int l = 0; l < kLanes; l++) {
    r.lo = LowerOf(LowerOf(r.lo, lo[l]), nan[l]);
    r.hi = UpperOf(UpperOf(r.hi, hi[l]), nan[l]);
  }
  return r;
}

// q = round(x * inverse) + zero, within [-128, 127] by construction of inverse and zero.
W2V_VECTOR_CLONES void Quantize(const float* __restrict x, int64_t n, float inverse, float zero, int8_t* __restrict q) {
  for (int64_t i = 0; i < n; i++) {
    float v = ((x[i] * inverse + kRound) - kRound) + zero;
    // Comparisons that send a NaN (from an infinity in a broken network) to -128: the cast stays defined.
    v = v > -128.0f ? v : -128.0f;
    v = v < 127.0f ? v : 127.0f;
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

// x = GELU(x) = x / 2 * (1 + erf(x / sqrt 2)) in place, erf by Abramowitz and Stegun 7.1.28 (|error| <= 3e-7: far
// below int8's steps, which this runs between): a polynomial, a division and four squarings, which the compiler
// vectorizes, where LibTorch's GELU took ~0.8 ns a value on one thread (a tenth of an int8 10 s call on base).
W2V_VECTOR_CLONES void GeluErf(float* __restrict x, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    const float a = std::fabs(v) * 0.70710678118654752f;
    float p = 1.0f + a * (0.0705230784f + a * (0.0422820123f + a * (0.0092705272f + a * (0.0001520143f + a * (0.0002765672f + a * 0.0000430638f)))));
    p = p * p;  // ^2
    p = p * p;  // ^4
    p = p * p;  // ^8
    p = p * p;  // ^16
    const float erf = 1.0f - 1.0f / p;
    x[i] = 0.5f * v * (1.0f + (v < 0.0f ? -erf : erf));
  }
}

// The activation of a block of rows: ours for the exact GELU, LibTorch's for the others.
void ActivateRows(at::Tensor& rows, float* data, int64_t n, Activation act) {
  if (act == Activation::Gelu) {
    GeluErf(data, n);
  } else {
    // Inside parallel_for, LibTorch runs this on the calling thread, which may be an OpenMP worker: InferenceMode is
    // per thread, and an in-place op on an inference tensor outside it throws.
    c10::InferenceMode guard;
    ActivateInPlace(rows, act);
  }
}

// y = x * a + b, per column.
W2V_VECTOR_CLONES void Affine(float* __restrict x, int64_t n, const float* __restrict a, const float* __restrict b) {
  for (int64_t j = 0; j < n; j++) x[j] = x[j] * a[j] + b[j];
}

// Scale and zero point mapping [lo, hi] (0 inside) onto -128..127.
void ScaleOf(Range r, float* scale, float* inverse, float* zero) {
  const float span = r.hi - r.lo;
  if (!std::isfinite(span)) {
    // An infinity or NaN in the row: the row reads as NaN, as it would in float32 (not as some finite value).
    *scale = std::numeric_limits<float>::quiet_NaN();
    *inverse = *zero = 0.0f;
    return;
  }
  if (!(span > 0.0f)) {  // all zero
    *scale = *inverse = *zero = 0.0f;
    return;
  }
  *scale = span / 255.0f;
  *inverse = 255.0f / span;
  *zero = -128.0f - std::nearbyint(r.lo * *inverse);
}

// e^x for x <= 0 (a score minus its row's largest): x = n ln2 + r, |r| <= ln2 / 2, e^r by its degree-6 Taylor
// polynomial (relative error < 2e-7 there, far below bfloat16's 4e-3) and 2^n put into the exponent bits. Written
// out because the loop then vectorizes. Below -87 it gives 0 (e^-87 is 1.6e-38, nothing next to a row's largest
// term, which is 1), and x is clamped there first so that n stays a valid exponent (and the float-to-int conversion
// defined: a masked key's x is -inf). A NaN stays NaN.
inline float ExpNonPositive(float x) {
  const float clamped = x > -87.0f ? x : -87.0f;
  const float n = (clamped * 1.44269504088896341f + kRound) - kRound;  // round(x / ln2)
  const float r = (clamped - n * 0.693145751953125f) - n * 1.42860682030941723e-6f;  // ln2 split in two: r exact enough
  const float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666679f + r * (0.00833333377f + r * 0.00138888892f)))));
  const int32_t e = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &e, sizeof(scale));
  return x != x ? x : (x < -87.0f ? 0.0f : p * scale);
}

// bfloat16 bits of a float, rounded to nearest even (the quiet NaN arithmetic makes stays a NaN).
inline uint16_t Bfloat16Bits(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  return static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

// One row of scores (bfloat16 bits) into probabilities, in place; keys where `valid` is 0 get 0 (valid may be null:
// all keys). `work` holds n floats. The largest score and the sum run in lanes: a plain reduction over floats does
// not vectorize (the loop took twice LibTorch's time), nor did the max in RangeOf's form here (GCC 12), hence the
// vector type.
W2V_VECTOR_CLONES void SoftmaxRow(uint16_t* __restrict row, int64_t n, const uint8_t* __restrict valid, float* __restrict work) {
  constexpr int kLanes = 16;
  typedef float Lanes8 __attribute__((vector_size(32)));
  const float kMasked = -std::numeric_limits<float>::infinity();
  float sums[kLanes] = {};
  for (int64_t j = 0; j < n; j++) {
    const uint32_t bits = static_cast<uint32_t>(row[j]) << 16;
    float v;
    std::memcpy(&v, &bits, sizeof(v));
    work[j] = (valid == nullptr || valid[j]) ? v : kMasked;
  }
  Lanes8 tops = {kMasked, kMasked, kMasked, kMasked, kMasked, kMasked, kMasked, kMasked};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    Lanes8 v;
    std::memcpy(&v, work + j, sizeof(v));
    tops = v > tops ? v : tops;
  }
  float top = kMasked;
  for (; j < n; j++) top = work[j] > top ? work[j] : top;
  for (int l = 0; l < 8; l++) top = tops[l] > top ? tops[l] : top;
  // A row with every key masked: all zero (LibTorch's softmax would give NaN; no valid query reads such a row).
  if (top == kMasked) top = 0.0f;
  for (j = 0; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; l++) {
      const float e = ExpNonPositive(work[j + l] - top);
      work[j + l] = e;
      sums[l] += e;
    }
  }
  float sum = 0.0f;
  for (; j < n; j++) {
    work[j] = ExpNonPositive(work[j] - top);
    sum += work[j];
  }
  for (int l = 0; l < kLanes; l++) sum += sums[l];
  const float inverse = sum > 0.0f ? 1.0f / sum : 0.0f;
  for (j = 0; j < n; j++) row[j] = Bfloat16Bits(work[j] * inverse);
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

// sums[j] += x[j], squares[j] += x[j]^2 in double.
W2V_VECTOR_CLONES void Accumulate(const float* __restrict x, int64_t n, double* __restrict sums, double* __restrict squares) {
  for (int64_t j = 0; j < n; j++) {
    const double v = x[j];
    sums[j] += v;
    squares[j] += v * v;
  }
}

std::pair<at::Tensor, at::Tensor> ColumnMeanVar(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 2 && x.scalar_type() == at::kFloat && x.is_contiguous() && x.size(0) > 0, "ColumnMeanVar: expected contiguous float [R > 0, C]");
  const int64_t rows = x.size(0), width = x.size(1);
  const float* xp = x.data_ptr<float>();
  // One pair of sums per thread, added up after.
  const int threads = at::get_num_threads();
  std::vector<double> partial(static_cast<size_t>(threads * 2 * width), 0.0);
  at::parallel_for(0, rows, 256, [&](int64_t from, int64_t to) {
    double* sums = partial.data() + static_cast<size_t>(at::get_thread_num()) * 2 * width;
    for (int64_t r = from; r < to; r++) Accumulate(xp + r * width, width, sums, sums + width);
  });
  at::Tensor mean = at::empty({width}, x.options()), var = at::empty({width}, x.options());
  float* mp = mean.data_ptr<float>();
  float* vp = var.data_ptr<float>();
  for (int64_t j = 0; j < width; j++) {
    double s = 0, q = 0;
    for (int t = 0; t < threads; t++) {
      s += partial[static_cast<size_t>(t * 2 * width + j)];
      q += partial[static_cast<size_t>(t * 2 * width + width + j)];
    }
    const double m = s / static_cast<double>(rows);
    mp[j] = static_cast<float>(m);
    vp[j] = static_cast<float>(std::max(0.0, q / static_cast<double>(rows) - m * m));
  }
  return {mean, var};
}

void NormalizeRows(at::Tensor& x, const at::Tensor& scaleIn, const at::Tensor& shiftIn, Activation act, at::Tensor& ranges) {
  TORCH_CHECK(x.dim() == 2 && x.scalar_type() == at::kFloat && x.is_contiguous() && ranges.is_contiguous() && ranges.size(0) == x.size(0),
              "NormalizeRows: expected contiguous float [R, C] and [R, 2]");
  const at::Tensor scale = scaleIn.to(at::kFloat).contiguous(), shift = shiftIn.to(at::kFloat).contiguous();
  const int64_t width = x.size(1);
  float* xp = x.data_ptr<float>();
  const float* a = scale.data_ptr<float>();
  const float* b = shift.data_ptr<float>();
  auto* rp = reinterpret_cast<Range*>(ranges.data_ptr<float>());
  constexpr int64_t kRows = 128;  // 128 rows of 512 floats: 256 KiB, in L2 for the activation and the ranges
  at::parallel_for(0, x.size(0), kRows, [&](int64_t from, int64_t to) {
    for (int64_t r0 = from; r0 < to; r0 += kRows) {
      const int64_t r1 = std::min(to, r0 + kRows);
      for (int64_t r = r0; r < r1; r++) Affine(xp + r * width, width, a, b);
      at::Tensor block = x.narrow(0, r0, r1 - r0);
      ActivateRows(block, xp + r0 * width, (r1 - r0) * width, act);
      for (int64_t r = r0; r < r1; r++) rp[r] = RangeOf(xp + r * width, width);
    }
  });
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
        w.lo = LowerOf(w.lo, ranges[first + k].lo);
        w.hi = UpperOf(w.hi, ranges[first + k].hi);
      }
      float inverse;
      ScaleOf(w, &sp[r], &inverse, &zp[r]);
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
      const float m = UpperOf(-r.lo, r.hi);
      sp[c] = m > 0.0f ? m / 127.0f : (m != m ? m : 0.0f);  // a NaN weight makes its channel NaN
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
  if (rows.values.size(0) == 0) {  // an input shorter than a window (a direct call; TypeScript refuses it first)
    if (ranges) *ranges = at::empty({0, 2}, rows.scales.options());
    return at::empty({0, outFeatures()}, rows.scales.options());
  }
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
  // A block of rows at a time: rescaled, activated and measured while in cache.
  at::parallel_for(0, r, kRescaleGrain, [&](int64_t from, int64_t to) {
    for (int64_t b0 = from; b0 < to; b0 += kRescaleGrain) {
      const int64_t b1 = std::min(to, b0 + kRescaleGrain);
      for (int64_t i = b0; i < b1; i++) Dequantize(ap + i * n, n, rs[i], rz[i], wsum, ws, bp, yp + i * n);
      if (act) {
        at::Tensor block = y.narrow(0, b0, b1 - b0);
        ActivateRows(block, yp + b0 * n, (b1 - b0) * n, *act);
      }
      if (rp) {
        for (int64_t i = b0; i < b1; i++) rp[i] = RangeOf(yp + i * n, n);
      }
    }
  });
  return y;
}

void SoftmaxBfloat16(at::Tensor& scores, const std::optional<at::Tensor>& keyMask) {
  TORCH_CHECK(scores.dim() == 4 && scores.scalar_type() == at::kBFloat16 && scores.is_contiguous(), "SoftmaxBfloat16: expected contiguous bfloat16 [B, H, F, K]");
  const int64_t batch = scores.size(0), rowsPerItem = scores.size(1) * scores.size(2), keys = scores.size(3);
  at::Tensor valid;
  if (keyMask) {
    TORCH_CHECK(keyMask->scalar_type() == at::kBool && keyMask->numel() == batch * keys, "SoftmaxBfloat16: expected a bool key mask [B, 1, 1, K]");
    valid = keyMask->contiguous().view(at::kByte);
  }
  auto* sp = reinterpret_cast<uint16_t*>(scores.data_ptr<at::BFloat16>());
  const uint8_t* vp = valid.defined() ? valid.data_ptr<uint8_t>() : nullptr;
  at::parallel_for(0, batch * rowsPerItem, 64, [&](int64_t from, int64_t to) {
    std::vector<float> work(static_cast<size_t>(keys));
    for (int64_t r = from; r < to; r++) SoftmaxRow(sp + r * keys, keys, vp ? vp + (r / rowsPerItem) * keys : nullptr, work.data());
  });
}

}  // namespace w2v::builder
