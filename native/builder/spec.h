// The checked network description lib/builder/config.ts makes from a config.json, and the checkpoint's tensor
// references (lib/checkpoint/types.ts TensorRef), read from JS on the main thread. TypeScript validated both;
// ReadSpec / ReadTensorRefs check again, so that a bad direct call is a coded error, never a crash.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace w2v::builder {

enum class Arch { Wav2Vec2, Hubert, WavLM, Data2VecAudio };
enum class Activation { Gelu, GeluTanh, Relu, Silu };

struct Spec {
  Arch arch = Arch::Wav2Vec2;
  std::string prefix;  // weight names' prefix ("wav2vec2." for a CTC checkpoint, "" for a bare model)
  std::vector<int64_t> convDim, convKernel, convStride;
  bool convBias = false;
  bool groupNorm = true;  // feat_extract_norm "group" (first conv layer only) or "layer" (every conv layer)
  Activation featActivation = Activation::Gelu;
  bool featProjLayerNorm = true;
  int64_t hiddenSize = 0, numLayers = 0, numHeads = 0, intermediateSize = 0;
  Activation hiddenActivation = Activation::Gelu;
  double layerNormEps = 1e-5;
  bool stableLayerNorm = false;
  int64_t numConvPosEmbeddings = 0, numConvPosEmbeddingGroups = 0;
  int64_t convPosKernelSize = 0;  // data2vec-audio: kernel of each of its numConvPosEmbeddings layers
  int64_t numBuckets = 0, maxBucketDistance = 0;  // wavlm
  int64_t vocabSize = 0;  // 0: no CTC head
};

enum class WeightDType { Float32, Float16, BFloat16, Float64 };

struct TensorRef {
  std::string name;
  WeightDType dtype = WeightDType::Float32;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // in elements
  std::string file;
  int64_t offset = 0;
  int64_t byteLength = 0;
};

// Throw Napi::Error INVALID_INPUT (a bad direct call) or CodedError MODEL_UNSUPPORTED (a value we do not build).
Spec ReadSpec(Napi::Env env, const Napi::Value& value);
std::vector<TensorRef> ReadTensorRefs(Napi::Env env, const Napi::Value& value);

}  // namespace w2v::builder
