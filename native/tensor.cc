#include "tensor.h"

#include <cstring>
#include <memory>

namespace w2v {

at::Tensor ToHostFloat(const at::Tensor& t) {
  return t.detach().to(at::kCPU, at::kFloat).contiguous();
}

namespace {

void FreeTensor(Napi::Env env, void* /*data*/, at::Tensor* owner) {
  const int64_t bytes = static_cast<int64_t>(owner->nbytes());
  delete owner;
  // Tell V8 the memory is gone, as we told it when it arrived, so GC pressure reflects real usage.
  Napi::MemoryManagement::AdjustExternalMemory(env, -bytes);
}

}  // namespace

Napi::Object TensorToJs(Napi::Env env, const at::Tensor& t) {
  const size_t bytes = t.nbytes();
  const size_t count = static_cast<size_t>(t.numel());
  Napi::ArrayBuffer buffer;
  bool external = false;
  if (bytes > 0) {
    auto owner = std::make_unique<at::Tensor>(t);
    try {
      buffer = Napi::ArrayBuffer::New(env, owner->data_ptr(), bytes, FreeTensor, owner.get());
      owner.release();  // the ArrayBuffer's finalizer owns it now
      Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(bytes));
      external = true;
    } catch (const Napi::Error&) {
      // Runtimes with the V8 sandbox (Electron) refuse external buffers: fall back to a copy.
      external = false;
    }
  }
  if (!external) {
    buffer = Napi::ArrayBuffer::New(env, bytes);
    if (bytes > 0) std::memcpy(buffer.Data(), t.data_ptr(), bytes);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("data", Napi::Float32Array::New(env, count, buffer, 0));
  Napi::Array shape = Napi::Array::New(env, t.dim());
  for (int64_t i = 0; i < t.dim(); i++) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(t.size(i))));
  out.Set("shape", shape);
  return out;
}

Napi::Int32Array LengthsToJs(Napi::Env env, const at::Tensor& t) {
  const at::Tensor host = t.detach().to(at::kCPU, at::kLong).contiguous();
  const int64_t n = host.numel();
  Napi::Int32Array out = Napi::Int32Array::New(env, static_cast<size_t>(n));
  const int64_t* src = host.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; i++) out[static_cast<size_t>(i)] = static_cast<int32_t>(src[i]);
  return out;
}

}  // namespace w2v
