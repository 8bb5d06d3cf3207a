#include "shape_buckets.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/constant_pad_nd.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

namespace w2v {
namespace {

// Looked up once, as LinearPointwiseOp.
const c10::OperatorHandle& ConvOp() {
  static const c10::OperatorHandle op = c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn::_convolution_pointwise", "");
  return op;
}

// Largest convolution input padded: 4 M values (16 MiB; the default model's widest, 32 x 96,000 for 30 s, is 3 M).
constexpr int64_t kMaxConvElements = 1 << 22;

// The boxed kernels: the arguments on the stack, replaced by the result.
void LinearRowsBoxed(const c10::OperatorHandle&, torch::jit::Stack* stack) {
  const size_t n = stack->size();
  at::Tensor y = LinearRows((*stack)[n - 6].toTensor(), (*stack)[n - 5], (*stack)[n - 4], (*stack)[n - 3], (*stack)[n - 2], (*stack)[n - 1]);
  torch::jit::drop(*stack, 6);
  stack->emplace_back(std::move(y));
}

void ConvFramesBoxed(const c10::OperatorHandle&, torch::jit::Stack* stack) {
  const size_t n = stack->size();
  auto arg = [&](size_t i) -> const c10::IValue& { return (*stack)[n - 10 + i]; };
  at::Tensor y = ConvFrames(arg(0).toTensor(), arg(1), arg(2), arg(3).toIntVector(), arg(4).toIntVector(), arg(5).toIntVector(), arg(6).toInt(), arg(7),
                            arg(8), arg(9));
  torch::jit::drop(*stack, 10);
  stack->emplace_back(std::move(y));
}

int64_t One(const std::vector<int64_t>& v, int64_t fallback) {
  return v.size() == 1 ? v[0] : fallback;
}

}  // namespace

const c10::OperatorHandle& LinearPointwiseOp() {
  static const c10::OperatorHandle op = c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn::_linear_pointwise", "");
  return op;
}

at::Tensor CallBoxed(const c10::OperatorHandle& op, torch::jit::Stack stack) {
  op.callBoxed(&stack);
  return stack.back().toTensor();
}

int64_t BucketSize(int64_t size) {
  int64_t step = 32;
  while (step * 32 <= size) step *= 2;  // step <= size / 16: at most 1/16 more computed
  return (size + step - 1) / step * step;
}

at::Tensor LinearRows(const at::Tensor& x, const c10::IValue& weight, const c10::IValue& bias, const c10::IValue& attr,
                      const c10::IValue& scalars, const c10::IValue& algorithm) {
  const int64_t features = x.dim() >= 2 ? x.size(-1) : 0;
  const int64_t rows = features > 0 ? x.numel() / features : 0, padded = BucketSize(rows);
  if (features == 0 || !x.device().is_cpu() || padded == rows) return CallBoxed(LinearPointwiseOp(), {x, weight, bias, attr, scalars, algorithm});
  at::Tensor xp = at::empty({padded, features}, x.options());
  xp.narrow(0, 0, rows).copy_(x.reshape({rows, features}));
  xp.narrow(0, rows, padded - rows).zero_();
  const at::Tensor y = CallBoxed(LinearPointwiseOp(), {xp, weight, bias, attr, scalars, algorithm});
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes.back() = y.size(-1);
  // The first `rows` rows of a contiguous [padded, out] result: a contiguous view, no copy.
  return y.narrow(0, 0, rows).view(sizes);
}

at::Tensor ConvFrames(const at::Tensor& x, const c10::IValue& weight, const c10::IValue& bias, const std::vector<int64_t>& padding,
                      const std::vector<int64_t>& stride, const std::vector<int64_t>& dilation, int64_t groups, const c10::IValue& attr,
                      const c10::IValue& scalars, const c10::IValue& algorithm) {
  const auto call = [&](const at::Tensor& input) {
    return CallBoxed(ConvOp(), {input, weight, bias, padding, stride, dilation, groups, attr, scalars, algorithm});
  };
  const int64_t p = One(padding, -1), s = One(stride, -1), d = One(dilation, -1);
  if (x.dim() != 3 || !x.device().is_cpu() || !weight.isTensor() || p < 0 || s < 1 || d < 1) return call(x);
  const int64_t length = x.size(2), padded = BucketSize(length);
  const int64_t taps = weight.toTensor().size(-1);
  const int64_t span = length + 2 * p - d * (taps - 1) - 1;
  const int64_t frames = span < 0 ? 0 : span / s + 1;  // (truncating division would make a negative span one frame)
  // The padding is a copy of the input and the cut a copy of the output: worth it only where they are small next to
  // building a primitive (the default model's 32-64 channels; base's 512 lost 80 ms per 10 s call to the copies).
  if (padded == length || frames < 1 || x.numel() > kMaxConvElements) return call(x);
  const at::Tensor y = call(at::constant_pad_nd(x, {0, padded - length}, 0));
  return y.narrow(2, 0, frames).contiguous();
}

at::Tensor ConvFramesMajor(const at::Tensor& xIn, const at::Tensor& weight, const c10::IValue& bias, int64_t padding, int64_t stride, int64_t groups,
                           const c10::IValue& attr, const c10::IValue& scalars, const c10::IValue& algorithm) {
  const at::Tensor x = xIn.contiguous();
  const int64_t length = x.size(1), padded = BucketSize(length);
  const int64_t span = length + 2 * padding - weight.size(3);
  const int64_t frames = span < 0 ? 0 : span / stride + 1;
  // Zeros past the input are what the convolution's own padding reads there: the first frames come out the same.
  const bool pad = padded != length && frames >= 1 && x.numel() <= kMaxConvElements;
  const at::Tensor input = pad ? at::constant_pad_nd(x, {0, 0, 0, padded - length}, 0) : x;
  const at::Tensor y = CallBoxed(ConvOp(), {input.transpose(1, 2).unsqueeze(2), weight, bias, std::vector<int64_t>{0, padding}, std::vector<int64_t>{1, stride},
                                            std::vector<int64_t>{1, 1}, groups, attr, scalars, algorithm});
  // [B, C', 1, T'] channels-last is [B, T', C'] in memory.
  const at::Tensor h = y.squeeze(2).transpose(1, 2);
  return pad ? h.narrow(1, 0, frames) : h;
}

}  // namespace w2v

TORCH_LIBRARY_FRAGMENT(w2v, m) {
  m.def("linear_rows(Tensor X, Tensor W, Tensor? B, str attr, Scalar?[] scalars, str? algorithm) -> Tensor",
        torch::CppFunction::makeFromBoxedFunction<&w2v::LinearRowsBoxed>());
  m.def("conv_frames(Tensor X, Tensor W, Tensor? B, int[] padding, int[] stride, int[] dilation, int groups, str attr, Scalar?[] scalars, "
        "str? algorithm) -> Tensor",
        torch::CppFunction::makeFromBoxedFunction<&w2v::ConvFramesBoxed>());
}
