// binding.build(spec, tensors, device, dtype, threads, optimize) -> Promise<Model>: reads the spec and tensor
// references on the main thread, then reads the weights and builds the network on a libuv worker (never on
// the JS thread), and hands a Model over on completion.
#pragma once

#include <napi.h>

namespace w2v::builder {

Napi::Value BuildModel(const Napi::CallbackInfo& info);

}  // namespace w2v::builder
