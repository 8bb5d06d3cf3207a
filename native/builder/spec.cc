#include "spec.h"

#include <cmath>

#include "../errors.h"

namespace w2v::builder {
namespace {

// Integers JS can hold exactly; every size below is far smaller, which keeps products from overflowing.
constexpr double kMaxSafe = 9007199254740991.0;

Napi::Value Field(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  W2V_REQUIRE(env, !v.IsUndefined(), std::string("spec.") + key + " is missing");
  return v;
}

int64_t Int(Napi::Env env, const Napi::Value& v, const std::string& what, double lo, double hi) {
  W2V_REQUIRE(env, v.IsNumber(), what + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  W2V_REQUIRE(env, d == std::floor(d) && d >= lo && d <= hi, what + " must be an integer within [" + std::to_string(static_cast<int64_t>(lo)) + ", " + std::to_string(static_cast<int64_t>(hi)) + "]");
  return static_cast<int64_t>(d);
}

int64_t IntField(Napi::Env env, const Napi::Object& o, const char* key, double lo, double hi) {
  return Int(env, Field(env, o, key), std::string("spec.") + key, lo, hi);
}

bool BoolField(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = Field(env, o, key);
  W2V_REQUIRE(env, v.IsBoolean(), std::string("spec.") + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string StringField(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = Field(env, o, key);
  W2V_REQUIRE(env, v.IsString(), std::string("spec.") + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::vector<int64_t> IntList(Napi::Env env, const Napi::Value& v, const std::string& what, size_t maxLength, double lo, double hi) {
  W2V_REQUIRE(env, v.IsArray(), what + " must be an array");
  Napi::Array a = v.As<Napi::Array>();
  W2V_REQUIRE(env, a.Length() <= maxLength, what + " has more than " + std::to_string(maxLength) + " entries");
  std::vector<int64_t> out;
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(Int(env, a.Get(i), what + "[" + std::to_string(i) + "]", lo, hi));
  return out;
}

Activation ParseActivation(const std::string& name, const char* field) {
  if (name == "gelu") return Activation::Gelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return Activation::GeluTanh;
  if (name == "relu") return Activation::Relu;
  if (name == "silu" || name == "swish") return Activation::Silu;
  throw CodedError("MODEL_UNSUPPORTED", std::string(field) + " \"" + name + "\" is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu, silu, swish)");
}

Arch ParseArch(const std::string& name) {
  if (name == "wav2vec2") return Arch::Wav2Vec2;
  if (name == "hubert") return Arch::Hubert;
  if (name == "wavlm") return Arch::WavLM;
  if (name == "data2vec-audio") return Arch::Data2VecAudio;
  throw CodedError("MODEL_UNSUPPORTED", "architecture \"" + name + "\" is not supported (wav2vec2, hubert, wavlm, data2vec-audio)");
}

}  // namespace

Spec ReadSpec(Napi::Env env, const Napi::Value& value) {
  W2V_REQUIRE(env, value.IsObject(), "spec must be an object");
  const Napi::Object o = value.As<Napi::Object>();
  Spec s;
  s.arch = ParseArch(StringField(env, o, "arch"));
  s.prefix = StringField(env, o, "weightPrefix");
  s.convDim = IntList(env, Field(env, o, "convDim"), "spec.convDim", 64, 1, 1 << 16);
  s.convKernel = IntList(env, Field(env, o, "convKernel"), "spec.convKernel", 64, 1, 1 << 16);
  s.convStride = IntList(env, Field(env, o, "convStride"), "spec.convStride", 64, 1, 1 << 16);
  W2V_REQUIRE(env, !s.convDim.empty() && s.convDim.size() == s.convKernel.size() && s.convDim.size() == s.convStride.size(),
              "spec.convDim, convKernel and convStride must be non-empty and of equal length");
  s.convBias = BoolField(env, o, "convBias");
  const std::string norm = StringField(env, o, "featExtractNorm");
  W2V_REQUIRE(env, norm == "group" || norm == "layer", "spec.featExtractNorm must be \"group\" or \"layer\"");
  s.groupNorm = norm == "group";
  s.featActivation = ParseActivation(StringField(env, o, "featExtractActivation"), "feat_extract_activation");
  s.featProjLayerNorm = BoolField(env, o, "featProjLayerNorm");
  s.hiddenSize = IntField(env, o, "hiddenSize", 1, 1 << 16);
  s.numLayers = IntField(env, o, "numLayers", 1, 1024);
  s.numHeads = IntField(env, o, "numHeads", 1, 1024);
  W2V_REQUIRE(env, s.hiddenSize % s.numHeads == 0, "spec.hiddenSize must be a multiple of spec.numHeads");
  s.intermediateSize = IntField(env, o, "intermediateSize", 1, 1 << 18);
  s.hiddenActivation = ParseActivation(StringField(env, o, "hiddenAct"), "hidden_act");
  Napi::Value eps = Field(env, o, "layerNormEps");
  W2V_REQUIRE(env, eps.IsNumber() && eps.As<Napi::Number>().DoubleValue() > 0 && eps.As<Napi::Number>().DoubleValue() < 1, "spec.layerNormEps must be in (0, 1)");
  s.layerNormEps = eps.As<Napi::Number>().DoubleValue();
  s.stableLayerNorm = BoolField(env, o, "stableLayerNorm");
  s.numConvPosEmbeddings = IntField(env, o, "numConvPosEmbeddings", 1, 1 << 12);
  s.numConvPosEmbeddingGroups = IntField(env, o, "numConvPosEmbeddingGroups", 1, 1 << 16);
  W2V_REQUIRE(env, s.hiddenSize % s.numConvPosEmbeddingGroups == 0, "spec.hiddenSize must be a multiple of spec.numConvPosEmbeddingGroups");
  if (s.arch == Arch::Data2VecAudio) s.convPosKernelSize = IntField(env, o, "convPosKernelSize", 1, 1 << 12);
  if (s.arch == Arch::WavLM) {
    s.numBuckets = IntField(env, o, "numBuckets", 4, 1 << 16);
    s.maxBucketDistance = IntField(env, o, "maxBucketDistance", 1, 1 << 24);
    W2V_REQUIRE(env, s.maxBucketDistance > s.numBuckets / 4, "spec.maxBucketDistance must exceed numBuckets / 4");
  }
  Napi::Value vocab = Field(env, o, "vocabSize");
  s.vocabSize = vocab.IsNull() ? 0 : Int(env, vocab, "spec.vocabSize", 1, 1 << 20);
  return s;
}

namespace {

WeightDType ParseDType(Napi::Env env, const std::string& text, const std::string& name) {
  if (text == "float32") return WeightDType::Float32;
  if (text == "float16") return WeightDType::Float16;
  if (text == "bfloat16") return WeightDType::BFloat16;
  if (text == "float64") return WeightDType::Float64;
  throw CodedError("CHECKPOINT_INVALID", "tensor " + name + ": dtype \"" + text + "\" is not one the builder reads (float32, float16, bfloat16, float64)");
}

TensorRef ReadTensorRef(Napi::Env env, const Napi::Value& v, uint32_t index) {
  const std::string where = "tensors[" + std::to_string(index) + "]";
  W2V_REQUIRE(env, v.IsObject(), where + " must be an object");
  const Napi::Object o = v.As<Napi::Object>();
  TensorRef t;
  Napi::Value name = o.Get("name"), file = o.Get("file"), dtype = o.Get("dtype");
  W2V_REQUIRE(env, name.IsString() && file.IsString() && dtype.IsString(), where + ": name, file and dtype must be strings");
  t.name = name.As<Napi::String>().Utf8Value();
  t.file = file.As<Napi::String>().Utf8Value();
  t.dtype = ParseDType(env, dtype.As<Napi::String>().Utf8Value(), t.name);
  t.shape = IntList(env, o.Get("shape"), where + ".shape", 8, 0, kMaxSafe);
  t.strides = IntList(env, o.Get("strides"), where + ".strides", 8, 0, kMaxSafe);
  W2V_REQUIRE(env, t.shape.size() == t.strides.size(), where + ": shape and strides must have the same length");
  t.offset = Int(env, o.Get("offset"), where + ".offset", 0, kMaxSafe);
  t.byteLength = Int(env, o.Get("byteLength"), where + ".byteLength", 0, kMaxSafe);
  return t;
}

}  // namespace

std::vector<TensorRef> ReadTensorRefs(Napi::Env env, const Napi::Value& value) {
  W2V_REQUIRE(env, value.IsArray(), "tensors must be an array of tensor references");
  Napi::Array a = value.As<Napi::Array>();
  std::vector<TensorRef> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(ReadTensorRef(env, a.Get(i), i));
  return out;
}

}  // namespace w2v::builder
