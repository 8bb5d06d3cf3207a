#include "model.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <future>
#include <optional>
#include <vector>

#include "builder/build.h"
#include "cpu_cache.h"
#include "errors.h"
#include "script_module.h"
#include "tensor.h"
#include "waveforms.h"

namespace w2v {

struct Job {
  Job(Napi::Env env, bool features) : features(features), deferred(Napi::Promise::Deferred::New(env)) {}
  bool features;
  Napi::Promise::Deferred deferred;
  at::Tensor waveforms;  // a copy of the caller's samples, padded, owned by the job
  std::optional<at::Tensor> lengths;
  std::optional<int64_t> numLayers;
  std::optional<double> normalizeEps;  // layer-normalise each item first (waveforms.h)
  bool padded = false;                 // copied item by item: the padding after each is not written yet
  std::vector<int64_t> itemLengths;    // then, each item's samples
  Output output;
  std::optional<CodedError> error;
};

namespace {

// On the inference thread, before the model: the padding after items copied one by one zeroed, NaN and infinities
// refused (anywhere: a caller's own padded tensor may hide them in its padding), items normalised if asked.
void PrepareWaveforms(Job& job) {
  const int64_t batch = job.waveforms.size(0), samples = job.waveforms.size(1);
  if (job.padded) {
    float* data = job.waveforms.data_ptr<float>();
    for (int64_t b = 0; b < batch; b++) {
      const int64_t n = job.itemLengths[static_cast<size_t>(b)];
      std::memset(data + b * samples + n, 0, static_cast<size_t>(samples - n) * sizeof(float));
    }
  }
  CheckFinite(job.waveforms, std::nullopt);
  if (job.normalizeEps) NormalizeItems(job.waveforms, job.lengths, *job.normalizeEps);
}

struct AddonData {
  Napi::FunctionReference constructor;
};

// A TorchScript file.
class LoadWorker : public NetworkLoader {
 public:
  LoadWorker(Napi::Env env, Napi::Promise::Deferred deferred, std::string path, std::string device, std::string dtype, int threads,
             bool optimize)
      : NetworkLoader(env, "wav2vec2:load", deferred, threads),
        path_(std::move(path)),
        device_(std::move(device)),
        dtype_(std::move(dtype)),
        optimize_(optimize) {}

 private:
  std::unique_ptr<Network> Make() override { return ScriptModule::Load(path_, device_, dtype_, optimize_); }

  std::string path_, device_, dtype_;
  bool optimize_;
};

const char* ConventionName(Convention c) {
  switch (c) {
    case Convention::Torchaudio: return "torchaudio";
    case Convention::Native: return "native";
    default: return "traced";
  }
}

}  // namespace

Napi::Function Model::Define(Napi::Env env) {
  Napi::Function ctor = DefineClass(env, "Model",
                                    {
                                        InstanceMethod<&Model::Forward>("forward"),
                                        InstanceMethod<&Model::ExtractFeatures>("extractFeatures"),
                                        InstanceMethod<&Model::Dispose>("dispose"),
                                        InstanceAccessor<&Model::GetInfo>("info"),
                                        InstanceAccessor<&Model::GetPending>("pending"),
                                        InstanceAccessor<&Model::GetDisposed>("disposed"),
                                    });
  auto* data = new AddonData();
  data->constructor = Napi::Persistent(ctor);
  env.SetInstanceData<AddonData>(data);
  return ctor;
}

Napi::Value Model::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // Like every call of the binding, bad arguments reject the promise rather than throw.
  const bool ok = info.Length() >= 5 && info[0].IsString() && info[1].IsString() && info[2].IsString() && info[3].IsNumber() &&
                  info[3].As<Napi::Number>().DoubleValue() >= 0 && info[3].As<Napi::Number>().DoubleValue() <= 1024 &&
                  info[4].IsBoolean();
  if (!ok) {
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(MakeJsError(env, "INVALID_INPUT", "load(path, device, dtype, threads, optimize): expected three strings, a thread count in [0, 1024] and a boolean").Value());
    return deferred.Promise();
  }
  const int threads = info[3].As<Napi::Number>().Int32Value();
  auto deferred = Napi::Promise::Deferred::New(env);
  auto* worker = new LoadWorker(env, deferred, info[0].As<Napi::String>(), info[1].As<Napi::String>(), info[2].As<Napi::String>(), threads,
                                info[4].As<Napi::Boolean>().Value());
  worker->Queue();
  return deferred.Promise();
}

void NetworkLoader::Execute() {
  thread_ = std::make_unique<InferenceThread>(threads_);
  std::promise<void> made;
  thread_->Post([this, &made] {
    try {
      c10::InferenceMode off(false);  // the inference thread holds InferenceMode; loading runs as it always has
      network_ = Make();
    } catch (...) {
      error_ = CurrentException("MODEL_LOAD_FAILED");
    }
    made.set_value();
  });
  made.get_future().wait();
}

void NetworkLoader::OnOK() {
  Napi::Env env = Env();
  if (error_) {
    deferred_.Reject(ToJsError(env, *error_).Value());
    return;
  }
  try {
    deferred_.Resolve(Model::Wrap(env, std::move(network_), std::move(thread_)));
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  } catch (...) {
    deferred_.Reject(ToJsError(env, CurrentException("MODEL_LOAD_FAILED")).Value());
  }
}

Napi::Object Model::Wrap(Napi::Env env, std::unique_ptr<Network> network, std::unique_ptr<InferenceThread> thread) {
  auto* data = env.GetInstanceData<AddonData>();
  // The Externals hand ownership to the constructor; if New throws before that, both are lost with it.
  return data->constructor.New({Napi::External<Network>::New(env, network.release()), Napi::External<InferenceThread>::New(env, thread.release())});
}

Napi::Value Model::Build(const Napi::CallbackInfo& info) { return builder::BuildModel(info); }

Model::Model(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Model>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsExternal() || !info[1].IsExternal()) {
    throw Napi::TypeError::New(env, "Model cannot be constructed directly: use loadModel()");
  }
  module_.reset(info[0].As<Napi::External<Network>>().Data());
  thread_.reset(info[1].As<Napi::External<InferenceThread>>().Data());
  completion_ = Completion::New(env, "wav2vec2:inference", 0, 1, this,
                                [](Napi::Env, std::shared_ptr<std::atomic<bool>>* closed, Model*) {
                                  (*closed)->store(true);
                                  delete closed;
                                },
                                new std::shared_ptr<std::atomic<bool>>(completionClosed_));
  // The completion channel must not keep the process alive while the model is idle; Submit refs it.
  completion_.Unref(env);
}

Model::~Model() { Shutdown(); }

void Model::Shutdown() {
  if (shutdown_) return;
  shutdown_ = true;
  thread_.reset();  // the queue is empty here: Shutdown runs with no call in flight
  module_.reset();
  // The weights and cached activations would otherwise stay in the CPU cache after dispose().
  CpuCache::Instance().Release();
  if (!completionClosed_->load()) completion_.Release();
}

Napi::Value Model::Submit(const Napi::CallbackInfo& info, bool features) {
  Napi::Env env = info.Env();
  auto* job = new Job(env, features);
  Napi::Promise promise = job->deferred.Promise();
  if (disposed_) {
    job->deferred.Reject(MakeJsError(env, "DISPOSED", "the model was disposed: load it again to run it").Value());
    delete job;
    return promise;
  }
  try {
    // TypeScript validated everything; these guards keep a bad direct call from crashing the process.
    // waveforms: one Float32Array of batch x samples, or an array of one Float32Array per item (lengths required),
    // padded here.
    const bool items = info.Length() >= 2 && info[0].IsArray();
    W2V_REQUIRE(env, info.Length() >= 2 && (items || (info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_float32_array)),
                "waveforms must be a Float32Array or an array of them");
    W2V_REQUIRE(env, info[1].IsArray() && info[1].As<Napi::Array>().Length() == 2, "shape must be [batch, samples]");
    Napi::Array shapeJs = info[1].As<Napi::Array>();
    W2V_REQUIRE(env, shapeJs.Get(0u).IsNumber() && shapeJs.Get(1u).IsNumber(), "shape must be [batch, samples]");
    const double b = shapeJs.Get(0u).As<Napi::Number>().DoubleValue();
    const double t = shapeJs.Get(1u).As<Napi::Number>().DoubleValue();
    // Whole numbers within bounds first, so the product below cannot overflow.
    const double n = items ? static_cast<double>(info[0].As<Napi::Array>().Length()) * t : static_cast<double>(info[0].As<Napi::Float32Array>().ElementLength());
    W2V_REQUIRE(env, b >= 1 && t >= 1 && t <= double(1ll << 40) && b == std::floor(b) && t == std::floor(t) && b * t == n,
                "shape [batch, samples] does not match the length of waveforms");
    const int64_t batch = static_cast<int64_t>(b);
    const int64_t samples = static_cast<int64_t>(t);
    W2V_REQUIRE(env, !items || (info.Length() >= 3 && info[2].IsTypedArray()), "an array of waveforms needs their lengths");

    if (info.Length() >= 3 && !info[2].IsNull() && !info[2].IsUndefined()) {
      W2V_REQUIRE(env, info[2].IsTypedArray() && info[2].As<Napi::TypedArray>().TypedArrayType() == napi_int32_array,
                  "lengths must be an Int32Array");
      Napi::Int32Array lengths = info[2].As<Napi::Int32Array>();
      W2V_REQUIRE(env, static_cast<int64_t>(lengths.ElementLength()) == batch, "lengths must have one entry per batch item");
      at::Tensor t = at::empty({batch}, at::kLong);
      int64_t* out = t.data_ptr<int64_t>();
      for (int64_t i = 0; i < batch; i++) {
        const int32_t n = lengths[static_cast<size_t>(i)];
        W2V_REQUIRE(env, n >= 1 && n <= samples, "each length must be within [1, samples]");
        out[i] = n;
      }
      job->lengths = t;
    }
    if (features && info.Length() >= 4 && !info[3].IsNull() && !info[3].IsUndefined()) {
      W2V_REQUIRE(env, info[3].IsNumber(), "numLayers must be a number");
      const double layers = info[3].As<Napi::Number>().DoubleValue();
      W2V_REQUIRE(env, layers == std::floor(layers) && std::abs(layers) < 1e9, "numLayers must be an integer");
      job->numLayers = static_cast<int64_t>(layers);
    }
    if (info.Length() >= 5 && !info[4].IsNull() && !info[4].IsUndefined()) {
      W2V_REQUIRE(env, info[4].IsNumber(), "normalizeEps must be a number");
      const double eps = info[4].As<Napi::Number>().DoubleValue();
      W2V_REQUIRE(env, std::isfinite(eps) && eps >= 0, "normalizeEps must be a non-negative number");
      job->normalizeEps = eps;
    }
    // Items: every one checked (a Float32Array of its entry in lengths, the longest as long as the batch) before any
    // memory is taken, so a bad shape cannot allocate more than the data there is.
    std::vector<Napi::Float32Array> list;
    if (items) {
      Napi::Array js = info[0].As<Napi::Array>();
      int64_t longest = 0;
      for (int64_t i = 0; i < batch; i++) {
        Napi::Value item = js.Get(static_cast<uint32_t>(i));
        W2V_REQUIRE(env, item.IsTypedArray() && item.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array, "each waveform must be a Float32Array");
        list.push_back(item.As<Napi::Float32Array>());
        const int64_t n = static_cast<int64_t>(list.back().ElementLength());
        W2V_REQUIRE(env, job->lengths && n == job->lengths->data_ptr<int64_t>()[i], "each waveform's length must be its entry in lengths");
        longest = std::max(longest, n);
      }
      W2V_REQUIRE(env, longest == samples, "the longest waveform must be as long as the batch (shape [batch, samples])");
    }
    // A copy, not a view: the caller may write to its array, transfer (detach) its ArrayBuffer or let it go while
    // the inference thread reads, and a reference to the array would keep none of that from happening. One
    // memcpy per item on this thread (no intra-op pool: that belongs to the inference thread), small next to the
    // model run; the padding after each item is zeroed on the inference thread (PrepareWaveforms). No JS runs
    // between the checks above and these copies.
    job->waveforms = at::empty({batch, samples}, at::kFloat);
    float* dst = job->waveforms.data_ptr<float>();
    if (!items) {
      std::memcpy(dst, info[0].As<Napi::Float32Array>().Data(), static_cast<size_t>(batch * samples) * sizeof(float));
    } else {
      for (int64_t i = 0; i < batch; i++) {
        const Napi::Float32Array& x = list[static_cast<size_t>(i)];
        std::memcpy(dst + i * samples, x.Data(), x.ElementLength() * sizeof(float));
        job->itemLengths.push_back(static_cast<int64_t>(x.ElementLength()));
      }
      job->padded = true;
      // Items all of the batch's length are no ragged batch: the model gets no lengths, as for one padded array.
      bool ragged = false;
      for (const int64_t len : job->itemLengths) ragged = ragged || len < samples;
      if (!ragged) job->lengths.reset();
    }
  } catch (const Napi::Error& e) {
    job->deferred.Reject(e.Value());
    delete job;
    return promise;
  } catch (...) {
    // Allocating the tensors above failed (out of memory): a coded rejection, never an exception across N-API.
    job->deferred.Reject(ToJsError(env, CurrentException("INFERENCE_FAILED")).Value());
    delete job;
    return promise;
  }

  // Reading the arguments can run JS (a getter on an array passed to the raw binding), which may have disposed the model.
  if (disposed_) {
    job->deferred.Reject(MakeJsError(env, "DISPOSED", "the model was disposed: load it again to run it").Value());
    delete job;
    return promise;
  }
  if (pending_++ == 0) {
    completion_.Ref(env);
    Ref();  // keep this object (and so the model) alive while calls are in flight
  }
  Network* module = module_.get();
  Completion completion = completion_;
  thread_->Post([module, completion, job]() mutable {
    try {
      PrepareWaveforms(*job);
      job->output = job->features ? module->ExtractFeatures(job->waveforms, job->lengths, job->numLayers)
                                  : module->Forward(job->waveforms, job->lengths);
    } catch (...) {
      job->error = CurrentException("INFERENCE_FAILED");
    }
    job->waveforms = at::Tensor();  // free the input's copy now, not when the main thread gets to Complete
    completion.BlockingCall(job);
  });
  return promise;
}

void Model::Complete(Napi::Env env, Napi::Function, Model* model, Job* job) {
  if (env == nullptr) {
    // The environment is shutting down: JS values can no longer be touched.
    delete job;
    return;
  }
  Napi::HandleScope scope(env);
  try {
    if (job->error) {
      job->deferred.Reject(ToJsError(env, *job->error).Value());
    } else {
      Napi::Object result = Napi::Object::New(env);
      if (job->features) {
        Napi::Array list = Napi::Array::New(env, job->output.tensors.size());
        for (size_t i = 0; i < job->output.tensors.size(); i++) list.Set(static_cast<uint32_t>(i), TensorToJs(env, job->output.tensors[i]));
        result.Set("features", list);
      } else {
        result.Set("emissions", TensorToJs(env, job->output.tensors[0]));
      }
      result.Set("lengths", job->output.lengths ? Napi::Value(LengthsToJs(env, *job->output.lengths)) : env.Null());
      job->deferred.Resolve(result);
    }
  } catch (...) {
    // Handing the result over failed (out of memory for a copy, ...): the call still settles, and the
    // model still counts it as finished.
    try {
      job->deferred.Reject(ToJsError(env, CurrentException("INFERENCE_FAILED")).Value());
    } catch (...) {
    }
  }
  delete job;
  model->Finish(env);
}

void Model::Finish(Napi::Env env) {
  if (--pending_ > 0) return;
  completion_.Unref(env);
  if (disposed_) Shutdown();
  Unref();
}

Napi::Value Model::Forward(const Napi::CallbackInfo& info) { return Submit(info, false); }
Napi::Value Model::ExtractFeatures(const Napi::CallbackInfo& info) { return Submit(info, true); }

Napi::Value Model::Dispose(const Napi::CallbackInfo& info) {
  disposed_ = true;
  if (pending_ == 0) Shutdown();
  return info.Env().Undefined();
}

Napi::Value Model::GetPending(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), pending_); }
Napi::Value Model::GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed_); }

Napi::Value Model::GetInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!module_) return env.Null();
  const ModuleInfo& m = module_->info();
  Napi::Object out = Napi::Object::New(env);
  out.Set("convention", ConventionName(m.convention));
  out.Set("hasExtractFeatures", m.hasExtractFeatures);
  Napi::Object methods = Napi::Object::New(env);
  for (const auto& [name, schema] : m.methods) methods.Set(name, schema);
  out.Set("methods", methods);
  out.Set("parameters", Napi::Number::New(env, static_cast<double>(m.parameters)));
  out.Set("numLayers", m.numLayers > 0 ? Napi::Value(Napi::Number::New(env, static_cast<double>(m.numLayers))) : env.Null());
  out.Set("numHeads", m.numHeads > 0 ? Napi::Value(Napi::Number::New(env, static_cast<double>(m.numHeads))) : env.Null());
  out.Set("device", m.device);
  out.Set("dtype", m.dtype);
  out.Set("file", m.file);
  Napi::Object rewrites = Napi::Object::New(env);
  for (const auto& [name, count] : m.rewrites) rewrites.Set(name, Napi::Number::New(env, static_cast<double>(count)));
  out.Set("rewrites", rewrites);
  return out;
}

}  // namespace w2v
