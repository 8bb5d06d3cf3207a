// at::Tensor -> TypedArray: outputs are handed to JS without copying (the ArrayBuffer owns the tensor). Inputs
// are copied by Model::Submit (model.cc), so the inference thread never reads memory JS can change.
#pragma once

#include <napi.h>
#include <torch/types.h>

#include <vector>

namespace w2v {

// Worker thread: the form an output must have before it can be wrapped (CPU, float32, contiguous).
at::Tensor ToHostFloat(const at::Tensor& t);

// Main thread: { data: Float32Array, shape: number[] } over `t` (which must come from ToHostFloat).
Napi::Object TensorToJs(Napi::Env env, const at::Tensor& t);

// Main thread: Int32Array of the values of an integer tensor (output lengths).
Napi::Int32Array LengthsToJs(Napi::Env env, const at::Tensor& t);

}  // namespace w2v
