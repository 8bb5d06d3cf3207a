// The JS-visible Model: owns a Network (a TorchScript file or a natively built network) and the thread that runs it. One Promise per call; inputs are
// copied when the call is made (the caller's array is never read afterwards); outputs are owned by JS.
//
// Lifetime rules:
//  - Calls run one at a time, in order, on the model's InferenceThread; concurrent calls queue.
//  - dispose() refuses new calls at once (DISPOSED); calls already accepted finish and resolve, then the
//    weights and the thread are released. A model with calls in flight is kept alive by them.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>
#include <optional>

#include "errors.h"
#include "inference_thread.h"
#include "network.h"

namespace w2v {

struct Job;

// Makes a Network and resolves with a Model that runs it: the one completion for every way of making a model (a
// TorchScript file, a native build). Subclasses say how to make it. The network is made on the model's own
// InferenceThread (the libuv worker only waits for it), so the OpenMP team that builds the weights is the one that
// runs them. Why: a second team left idle on a libuv thread counts against the cores, and libgomp then stops its
// workers spinning between parallel regions: measured on base 1 x 1 s, 250 thread sleeps and ~15 % per forward.
class NetworkLoader : public Napi::AsyncWorker {
 public:
  NetworkLoader(Napi::Env env, const char* name, Napi::Promise::Deferred deferred, int threads)
      : Napi::AsyncWorker(env, name), deferred_(deferred), threads_(threads) {}

 protected:
  // Runs on the inference thread, outside InferenceMode. Throw to reject: LibTorch's errors become
  // MODEL_LOAD_FAILED, coded errors keep their code.
  virtual std::unique_ptr<Network> Make() = 0;

 private:
  void Execute() final;
  void OnOK() final;

  Napi::Promise::Deferred deferred_;
  int threads_;
  std::unique_ptr<InferenceThread> thread_;
  std::unique_ptr<Network> network_;
  std::optional<CodedError> error_;
};

class Model : public Napi::ObjectWrap<Model> {
 public:
  static Napi::Function Define(Napi::Env env);
  // binding.load(path: string, device: string, dtype: string, threads: number) -> Promise<Model>
  static Napi::Value Load(const Napi::CallbackInfo& info);
  // binding.build(spec, tensors, device, dtype, threads, optimize) -> Promise<Model> (builder/build.h)
  static Napi::Value Build(const Napi::CallbackInfo& info);
  // Main thread: a JS Model that owns `network` and the thread that made it (from a loader's OnOK).
  static Napi::Object Wrap(Napi::Env env, std::unique_ptr<Network> network, std::unique_ptr<InferenceThread> thread);

  explicit Model(const Napi::CallbackInfo& info);
  ~Model() override;

 private:
  static void Complete(Napi::Env env, Napi::Function unused, Model* model, Job* job);
  using Completion = Napi::TypedThreadSafeFunction<Model, Job, Complete>;

  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value ExtractFeatures(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value GetInfo(const Napi::CallbackInfo& info);
  Napi::Value GetPending(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);

  Napi::Value Submit(const Napi::CallbackInfo& info, bool features);
  void Finish(Napi::Env env);
  void Shutdown();

  std::unique_ptr<Network> module_;
  std::unique_ptr<InferenceThread> thread_;
  Completion completion_;
  // Set when Node finalizes the completion channel. At process exit Node closes every channel before it
  // finalizes the objects that own them, and releasing a closed channel aborts: Shutdown checks this first.
  // Shared because the channel can also outlive this object (released in the destructor, finalized later).
  std::shared_ptr<std::atomic<bool>> completionClosed_ = std::make_shared<std::atomic<bool>>(false);
  int pending_ = 0;
  bool disposed_ = false;
  bool shutdown_ = false;
};

}  // namespace w2v
