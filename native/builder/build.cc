#include "build.h"

#include <c10/core/InferenceMode.h>

#include "../errors.h"
#include "../model.h"
#include "int8.h"
#include "network.h"

namespace w2v::builder {
namespace {

// A checkpoint's tensors, read and built into a NativeNetwork.
class BuildWorker : public NetworkLoader {
 public:
  BuildWorker(Napi::Env env, Napi::Promise::Deferred deferred, Spec spec, std::vector<TensorRef> tensors, std::string device,
              std::string dtype, int threads, bool optimize)
      : NetworkLoader(env, "wav2vec2:build", deferred, threads),
        spec_(std::move(spec)),
        tensors_(std::move(tensors)),
        device_(std::move(device)),
        dtype_(std::move(dtype)),
        optimize_(optimize) {}

 private:
  std::unique_ptr<Network> Make() override {
    // The weights are made here and only read by the inference thread (which also runs in InferenceMode).
    c10::InferenceMode guard;
    const c10::Device device = ParseDevice(device_);
    const bool int8 = dtype_ == "int8";
    const at::ScalarType dtype = int8 ? at::kFloat : ParseDtype(dtype_);
    CheckCuda(device);
    if (int8 && !(device.is_cpu() && Int8KernelsAvailable())) {
      throw CodedError("UNSUPPORTED_DTYPE", device.is_cpu() ? "dtype 'int8': this LibTorch has no int8 matrix product (_int_mm) on this CPU"
                                                           : "dtype 'int8' runs on the CPU only: use 'float16' or 'bfloat16' on CUDA");
    }
    return std::make_unique<NativeNetwork>(spec_, std::move(tensors_), device, dtype, dtype_, optimize_, int8);
  }

  Spec spec_;
  std::vector<TensorRef> tensors_;
  std::string device_, dtype_;
  bool optimize_;
};

}  // namespace

Napi::Value BuildModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  // Like every call of the binding, bad arguments reject the promise rather than throw.
  try {
    W2V_REQUIRE(env, info.Length() >= 6 && info[2].IsString() && info[3].IsString() && info[4].IsNumber() && info[5].IsBoolean(),
                "build(spec, tensors, device, dtype, threads, optimize): expected an object, an array, two strings, a thread count and a boolean");
    const double threads = info[4].As<Napi::Number>().DoubleValue();
    W2V_REQUIRE(env, threads >= 0 && threads <= 1024 && threads == static_cast<int>(threads), "build: threads must be an integer within [0, 1024]");
    Spec spec = ReadSpec(env, info[0]);
    std::vector<TensorRef> tensors = ReadTensorRefs(env, info[1]);
    auto* worker = new BuildWorker(env, deferred, std::move(spec), std::move(tensors), info[2].As<Napi::String>(), info[3].As<Napi::String>(),
                                   static_cast<int>(threads), info[5].As<Napi::Boolean>().Value());
    worker->Queue();
  } catch (const Napi::Error& e) {
    deferred.Reject(e.Value());
  } catch (...) {
    deferred.Reject(ToJsError(env, CurrentException("MODEL_UNSUPPORTED")).Value());
  }
  return deferred.Promise();
}

}  // namespace w2v::builder
