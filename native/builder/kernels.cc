#include "kernels.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/InferenceMode.h>

#include "../graph_optimizer.h"
#include "../shape_buckets.h"

namespace w2v::builder {
namespace {

// Reorders a weight once into oneDNN's blocked layout for its matmul. Why: given a plain weight,
// _linear_pointwise reorders it on every call, which at a few dozen frames costs a quarter of the product
// (measured: 768 -> 3072 at 49 rows, 0.95 ms plain, 0.64 ms reordered; no batch-size hint was the fastest over
// 49-2000 rows). The result is an opaque oneDNN tensor that only this operator reads.
const c10::OperatorHandle& ReorderOp() {
  static const c10::OperatorHandle op = c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn::_reorder_linear_weight", "");
  return op;
}

// oneDNN's post-ops the operators take by name: GELU (erf or tanh) and ReLU. SiLU runs unfused.
bool Fusable(Activation a) { return a == Activation::Gelu || a == Activation::GeluTanh || a == Activation::Relu; }

c10::IValue AttrOf(const std::optional<Activation>& a) {
  if (!a) return c10::IValue(std::string("none"));
  return c10::IValue(std::string(*a == Activation::Relu ? "relu" : "gelu"));
}

c10::IValue AlgorithmOf(const std::optional<Activation>& a) {
  if (a == Activation::Gelu) return c10::IValue(std::string("none"));
  if (a == Activation::GeluTanh) return c10::IValue(std::string("tanh"));
  return c10::IValue();
}

c10::IValue NoScalars() { return c10::IValue(c10::impl::GenericList(c10::OptionalType::create(c10::NumberType::get()))); }

}  // namespace

bool FusedKernelsAvailable(at::ScalarType dtype) {
  if (!GraphRewritesAvailable()) return false;
  if (dtype == at::kFloat) return true;
  if (dtype != at::kBFloat16) return false;
  // oneDNN runs bfloat16 only where the CPU has AVX-512 (BW/VL/DQ) or AMX, and says so by throwing: ask it once.
  static const bool works = [] {
    try {
      c10::InferenceMode guard;
      const auto bf16 = at::TensorOptions().dtype(at::kBFloat16);
      const at::Tensor w = CallBoxed(ReorderOp(), {at::ones({8, 8}, bf16), c10::IValue()});
      CallBoxed(LinearPointwiseOp(), {at::ones({2, 8}, bf16), w, c10::IValue(), AttrOf(std::nullopt), NoScalars(), AlgorithmOf(std::nullopt)});
      return true;
    } catch (...) {
      return false;
    }
  }();
  return works;
}

at::Tensor ActivateInPlace(at::Tensor& x, Activation a) {
  switch (a) {
    case Activation::Gelu: return at::gelu_(x);
    case Activation::GeluTanh: return at::gelu_(x, "tanh");
    case Activation::Relu: return at::relu_(x);
    default: return at::silu_(x);
  }
}

at::Tensor Activate(const at::Tensor& x, Activation a) {
  switch (a) {
    case Activation::Gelu: return at::gelu(x);
    case Activation::GeluTanh: return at::gelu(x, "tanh");
    case Activation::Relu: return at::relu(x);
    default: return at::silu(x);
  }
}

Linear::Linear(at::Tensor weight, std::optional<at::Tensor> bias, std::optional<Activation> act, const Kernels& k)
    : weight_(std::move(weight)), bias_(std::move(bias)), act_(act) {
  if (k.int8) {
    int8_.emplace(weight_, bias_);
    weight_ = at::Tensor();
    bias_.reset();
    if (k.used) (*k.used)["int8Linear"]++;
    return;
  }
  fused_ = k.onednn;
  fusedAct_ = fused_ && act_ && Fusable(*act_);
  if (fused_) {
    weight_ = CallBoxed(ReorderOp(), {weight_.contiguous(), c10::IValue()});
  }
  if (fused_ && k.used) {
    (*k.used)["onednnLinear"]++;
    if (fusedAct_) (*k.used)[*act_ == Activation::Relu ? "linearReluFusion" : "linearGeluFusion"]++;
  }
}

at::Tensor Linear::operator()(const at::Tensor& x) const {
  if (int8_) return Int8(x, std::nullopt, nullptr);
  if (!fused_) {
    at::Tensor y = at::linear(x, weight_, bias_);
    return act_ ? Activate(y, *act_) : y;
  }
  const std::optional<Activation> post = fusedAct_ ? act_ : std::nullopt;
  // Rows padded to a bucket, so that oneDNN's primitive cache hits across inputs of different lengths (shape_buckets.h).
  at::Tensor y = LinearRows(x, weight_, bias_ ? c10::IValue(*bias_) : c10::IValue(), AttrOf(post), NoScalars(), AlgorithmOf(post));
  return act_ && !fusedAct_ ? Activate(y, *act_) : y;
}

at::Tensor Linear::Int8(const at::Tensor& x, const std::optional<at::Tensor>& inRanges, at::Tensor* outRanges) const {
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = int8_->outFeatures();
  return (*int8_)(QuantizeWindows(x.reshape({1, -1, x.size(-1)}), 1, 1, inRanges), act_, outRanges).view(shape);
}

at::Tensor Linear::Then(const Linear& next, const at::Tensor& x) const {
  if (!int8_ || !next.int8_) return next((*this)(x));
  at::Tensor ranges;
  const at::Tensor h = Int8(x, std::nullopt, &ranges);
  return next.Int8(h, ranges, nullptr);
}

Conv1d::Conv1d(at::Tensor weight, std::optional<at::Tensor> bias, int64_t stride, int64_t padding, int64_t groups,
               std::optional<Activation> act, const Kernels& k, bool framesMajor)
    : weight_(std::move(weight)), bias_(std::move(bias)), stride_(stride), padding_(padding), groups_(groups), act_(act) {
  // Only a convolution with an activation is worth the fused operator (as in graph_optimizer.h).
  fused_ = k.onednn && act_ && *act_ != Activation::Silu && *act_ != Activation::Relu;
  if (fused_ && k.used) (*k.used)["convGeluFusion"]++;
  bf16_ = k.int8 && k.onednn && FusedKernelsAvailable(at::kBFloat16);
  if (bf16_) {
    weight_ = weight_.to(at::kBFloat16);
    if (bias_) bias_ = bias_->to(at::kBFloat16);
    if (k.used) (*k.used)["bfloat16Conv"]++;
  }
  framesMajor_ = framesMajor && fused_;
  if (framesMajor_) weight_ = weight_.unsqueeze(2).contiguous(at::MemoryFormat::ChannelsLast);
  if (framesMajor_ && k.used) (*k.used)["framesMajorConv"]++;
}

at::Tensor Conv1d::operator()(const at::Tensor& xIn) const {
  TORCH_CHECK(!framesMajor_, "Conv1d: a frames-major convolution runs through FramesMajor");
  const at::Tensor x = bf16_ ? xIn.to(at::kBFloat16) : xIn;
  const at::Tensor y = Run(x);
  return bf16_ ? y.to(xIn.scalar_type()) : y;
}

at::Tensor Conv1d::FramesMajor(const at::Tensor& xIn) const {
  if (!framesMajor_) return (*this)(xIn.transpose(1, 2)).transpose(1, 2);
  // Frames padded to a bucket, so that oneDNN's primitive cache hits across inputs of different lengths (shape_buckets.h).
  const at::Tensor h = ConvFramesMajor(bf16_ ? xIn.to(at::kBFloat16) : xIn, weight_, bias_ ? c10::IValue(*bias_) : c10::IValue(), padding_, stride_, groups_,
                                       AttrOf(act_), NoScalars(), AlgorithmOf(act_));
  return bf16_ ? h.to(xIn.scalar_type()) : h;
}

at::Tensor Conv1d::Run(const at::Tensor& x) const {
  if (!fused_) {
    at::Tensor y = at::conv1d(x, weight_, bias_, {stride_}, {padding_}, {1}, groups_);
    return act_ ? Activate(y, *act_) : y;
  }
  // Frames padded to a bucket, so that oneDNN's primitive cache hits across inputs of different lengths (shape_buckets.h).
  return ConvFrames(x, weight_, bias_ ? c10::IValue(*bias_) : c10::IValue(), {padding_}, {stride_}, {1}, groups_, AttrOf(act_), NoScalars(),
                    AlgorithmOf(act_));
}

}  // namespace w2v::builder
