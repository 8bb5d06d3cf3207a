#include "waveforms.h"

#include <cmath>
#include <cstring>
#include <sstream>
#include <vector>

#include "errors.h"

namespace w2v {
namespace {

int64_t ValidLength(const std::optional<at::Tensor>& lengths, int64_t b, int64_t samples) {
  return lengths ? lengths->data_ptr<int64_t>()[b] : samples;
}

std::string Number(float v) {
  if (std::isnan(v)) return "NaN";
  return v > 0 ? "Infinity" : "-Infinity";
}

}  // namespace

void CheckFinite(const at::Tensor& waveforms, const std::optional<at::Tensor>& lengths) {
  const int64_t batch = waveforms.size(0), samples = waveforms.size(1);
  const float* data = waveforms.data_ptr<float>();
  for (int64_t b = 0; b < batch; b++) {
    const float* x = data + b * samples;
    const int64_t n = ValidLength(lengths, b, samples);
    for (int64_t i = 0; i < n; i++) {
      if (std::isfinite(x[i])) continue;
      std::ostringstream m;
      m << "input";
      if (batch > 1) m << "[" << b << "]";
      m << ": expected finite samples, got " << Number(x[i]) << " at sample " << i << ". Check the audio decoding; NaN or Infinity would turn every emission into NaN.";
      throw CodedError("INVALID_INPUT", m.str());
    }
  }
}

void NormalizeItems(at::Tensor& waveforms, const std::optional<at::Tensor>& lengths, double eps) {
  const int64_t batch = waveforms.size(0), samples = waveforms.size(1);
  float* data = waveforms.data_ptr<float>();
  for (int64_t b = 0; b < batch; b++) {
    float* x = data + b * samples;
    const int64_t n = ValidLength(lengths, b, samples);
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += x[i];
    const double mean = sum / static_cast<double>(n);
    double squares = 0;
    for (int64_t i = 0; i < n; i++) {
      const double d = x[i] - mean;
      squares += d * d;
    }
    const double inv = 1 / std::sqrt(squares / static_cast<double>(n) + eps);
    for (int64_t i = 0; i < n; i++) x[i] = static_cast<float>((x[i] - mean) * inv);
    std::memset(x + n, 0, static_cast<size_t>(samples - n) * sizeof(float));
  }
}

Napi::Value NormalizeWaveforms(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  W2V_REQUIRE(env, info.Length() >= 4 && info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_float32_array,
              "data must be a Float32Array");
  W2V_REQUIRE(env, info[1].IsArray() && info[1].As<Napi::Array>().Length() == 2 && info[3].IsNumber(), "shape must be [batch, samples], eps a number");
  Napi::Array shape = info[1].As<Napi::Array>();
  W2V_REQUIRE(env, shape.Get(0u).IsNumber() && shape.Get(1u).IsNumber(), "shape must be [batch, samples]");
  const double b = shape.Get(0u).As<Napi::Number>().DoubleValue(), t = shape.Get(1u).As<Napi::Number>().DoubleValue();
  const double eps = info[3].As<Napi::Number>().DoubleValue();
  std::optional<std::vector<int32_t>> given;
  if (!info[2].IsNull() && !info[2].IsUndefined()) {
    W2V_REQUIRE(env, info[2].IsTypedArray() && info[2].As<Napi::TypedArray>().TypedArrayType() == napi_int32_array, "lengths must be an Int32Array");
    Napi::Int32Array js = info[2].As<Napi::Int32Array>();
    given = std::vector<int32_t>(js.Data(), js.Data() + js.ElementLength());
  }
  // The data last: reading the arguments above may run JS (getters), which could detach its buffer.
  Napi::Float32Array data = info[0].As<Napi::Float32Array>();
  W2V_REQUIRE(env, b >= 1 && t >= 1 && b == std::floor(b) && t == std::floor(t) && b * t == static_cast<double>(data.ElementLength()),
              "shape [batch, samples] does not match the data");
  W2V_REQUIRE(env, std::isfinite(eps) && eps >= 0, "eps must be a non-negative number");
  const int64_t batch = static_cast<int64_t>(b), samples = static_cast<int64_t>(t);
  W2V_REQUIRE(env, !given || static_cast<int64_t>(given->size()) == batch, "lengths must have one entry per batch item");
  try {
    std::optional<at::Tensor> lengths;
    if (given) {
      lengths = at::empty({batch}, at::kLong);
      for (int64_t i = 0; i < batch; i++) {
        const int32_t n = (*given)[static_cast<size_t>(i)];
        W2V_REQUIRE(env, n >= 1 && n <= samples, "each length must be within [1, samples]");
        lengths->data_ptr<int64_t>()[i] = n;
      }
    }
    at::Tensor w = at::empty({batch, samples}, at::kFloat);
    std::memcpy(w.data_ptr<float>(), data.Data(), static_cast<size_t>(batch * samples) * sizeof(float));
    NormalizeItems(w, lengths, eps);
    Napi::Float32Array out = Napi::Float32Array::New(env, static_cast<size_t>(batch * samples));
    std::memcpy(out.Data(), w.data_ptr<float>(), static_cast<size_t>(batch * samples) * sizeof(float));
    return out;
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw ToJsError(env, CurrentException("INFERENCE_FAILED"));
  }
}

}  // namespace w2v
