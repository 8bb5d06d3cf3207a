// Registers the binding; every class and helper lives in its own file pair.
#include <napi.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <ATen/Context.h>
#include <ATen/Functions.h>
#include <ATen/cpu/Utils.h>
#include <c10/util/Logging.h>

#include "cpu_cache.h"
#include "errors.h"
#include "inference_thread.h"
#include "model.h"
#include "resample.h"
#include "waveforms.h"

namespace w2v {
namespace {

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  W2V_REQUIRE(env, info.Length() == 1 && info[0].IsNumber(), "setNumThreads(n): expected a number");
  const int n = info[0].As<Napi::Number>().Int32Value();
  W2V_REQUIRE(env, n >= 1 && n <= 1024, "setNumThreads(n): n must be within [1, 1024]");
  SetDefaultThreads(n);
  return env.Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), DefaultThreads()); }

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  try {
    return Napi::Number::New(info.Env(), static_cast<double>(torch::cuda::is_available() ? torch::cuda::device_count() : 0));
  } catch (...) {
    return Napi::Number::New(info.Env(), 0);
  }
}

Napi::Value SetCpuCacheLimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  W2V_REQUIRE(env, info.Length() == 1 && info[0].IsNumber(), "setCpuCacheLimit(bytes): expected a number >= 0");
  const double bytes = info[0].As<Napi::Number>().DoubleValue();
  W2V_REQUIRE(env, bytes >= 0 && bytes <= 9007199254740991.0, "setCpuCacheLimit(bytes): expected a number within [0, 2^53)");
  CpuCache::Instance().SetLimit(static_cast<size_t>(bytes));
  return env.Undefined();
}

Napi::Value CpuCacheInfo(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("limit", static_cast<double>(CpuCache::Instance().limit()));
  out.Set("cached", static_cast<double>(CpuCache::Instance().cached()));
  return out;
}

Napi::Value ReleaseCpuCache(const Napi::CallbackInfo& info) {
  CpuCache::Instance().Release();
  return info.Env().Undefined();
}

// The CPU's instruction sets as LibTorch sees them (cpuinfo): which precision runs fastest here (lib/model/precision.ts).
Napi::Value CpuFeatures(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
  try {
    for (const auto& [name, value] : at::cpu::get_cpu_capabilities()) {
      if (value.isBool()) out.Set(name, value.toBool());
    }
  } catch (...) {
    // No answer: every feature reads as absent, and 'auto' picks float32.
  }
  return out;
}

Napi::Value JoinInferenceThreads(const Napi::CallbackInfo& info) {
  InferenceThread::JoinAll();
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  CpuCache::Install();
  // On a CPU NNPACK does not support, LibTorch logs "Could not initialize NNPACK!" on every convolution it considers
  // for NNPACK (a line on stderr per forward of a traced model). Ask once here, with warnings muted for the question,
  // and turn NNPACK off if it cannot run: oneDNN and LibTorch's own kernels run those convolutions either way.
  const int logLevel = FLAGS_caffe2_log_level;
  FLAGS_caffe2_log_level = 2;  // errors only
  const bool nnpack = at::_nnpack_available();
  FLAGS_caffe2_log_level = logLevel;
  if (!nnpack) at::globalContext().setUserEnabledNNPACK(false);
  exports.Set("Model", Model::Define(env));
  exports.Set("load", Napi::Function::New(env, Model::Load, "load"));
  exports.Set("build", Napi::Function::New(env, Model::Build, "build"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, CudaDeviceCount, "cudaDeviceCount"));
  exports.Set("setCpuCacheLimit", Napi::Function::New(env, SetCpuCacheLimit, "setCpuCacheLimit"));
  exports.Set("cpuCacheInfo", Napi::Function::New(env, CpuCacheInfo, "cpuCacheInfo"));
  exports.Set("releaseCpuCache", Napi::Function::New(env, ReleaseCpuCache, "releaseCpuCache"));
  exports.Set("normalizeWaveforms", Napi::Function::New(env, NormalizeWaveforms, "normalizeWaveforms"));
  exports.Set("cpuFeatures", Napi::Function::New(env, CpuFeatures, "cpuFeatures"));
  exports.Set("joinInferenceThreads", Napi::Function::New(env, JoinInferenceThreads, "joinInferenceThreads"));
  // Only where a call can be kept on the calling thread (resample.h); lib/audio/resample-native.ts checks for it.
  if (ResampleAvailable()) exports.Set("resample", Napi::Function::New(env, Resample, "resample"));
  exports.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
  return exports;
}

}  // namespace
}  // namespace w2v

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return w2v::Init(env, exports); }

NODE_API_MODULE(wav2vec2, InitAddon)
