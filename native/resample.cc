#include "resample.h"

#include <ATen/Config.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/conv1d.h>
#include <ATen/ops/from_blob.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "errors.h"

// The thread-count controls that LibTorch itself calls in at::set_num_threads. Declared weak and looked up at load:
// the addon does not link OpenMP or MKL itself, and must still load where a LibTorch lacks one of them (then the
// pointer is null and ResampleAvailable() says so, or the MKL step is skipped).
#if AT_PARALLEL_OPENMP
extern "C" int omp_get_max_threads(void) __attribute__((weak));
extern "C" void omp_set_num_threads(int) __attribute__((weak));
#endif
#if AT_MKL_ENABLED()
// The C entry point, which mkl.h names mkl_set_num_threads_local by a macro: the exported lower-case symbol is MKL's
// Fortran one, which takes a pointer.
extern "C" int MKL_Set_Num_Threads_Local(int) __attribute__((weak));
#endif

namespace w2v {
namespace {

// Limits that no real rate pair comes near (44.1 kHz -> 16 kHz: 160 x 471 weights, tiles of 102 x 160 outputs). They
// keep a bad direct call from asking LibTorch for gigabytes.
constexpr double kMaxWeights = 1 << 24;     // phases * taps, as MAX_KERNEL_TAPS in lib/audio/resample.ts
constexpr double kMaxTileOutputs = 1 << 24;  // tile * phases
constexpr double kMaxTileInput = 1 << 26;    // (tile - 1) * stride + taps samples
constexpr double kMaxCount = 2147483647.0;   // outputs per call

// Keeps LibTorch's work in this call on the calling thread, and gives the thread back as it was.
//
// Why not at::set_num_threads(1): it also stores the count as the process-wide default (the count every thread that
// starts LibTorch work later takes, the models' inference threads included: native/inference_thread.cc), resizes the
// shared pthreadpool and clears oneDNN's cache. The count that matters here is per thread: OpenMP's nthreads ICV of
// the calling thread (omp_set_num_threads on a thread that is not inside a parallel region changes that thread only)
// and MKL's thread-local count, which is what at::set_num_threads sets on the calling thread. With both at 1,
// at::parallel_for runs inline, oneDNN and MKL run on this thread, and no OpenMP team is started or grown.
//
// at::get_num_threads() first: LibTorch initialises each thread's count on that thread's first parallel region, from
// the process-wide default, and would do it inside the first conv1d, after the count was set to 1 here. Calling it
// first runs that initialisation now, so the 1 set next holds for the conv. It runs once per thread and is what any
// thread's first LibTorch work does (an inference thread's too): where the default was set, it calls
// at::set_num_threads(default), which stores back the value it read and rebuilds the pthreadpool at that size.
class SingleThreadScope {
 public:
  SingleThreadScope() {
    at::get_num_threads();
#if AT_PARALLEL_OPENMP
    ompPrevious_ = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
#if AT_MKL_ENABLED()
    if (MKL_Set_Num_Threads_Local) mklPrevious_ = MKL_Set_Num_Threads_Local(1);
#endif
  }
  ~SingleThreadScope() {
    // The main thread can call this too: it must keep the count its other LibTorch work (DefaultThreads()) reads.
#if AT_PARALLEL_OPENMP
    omp_set_num_threads(ompPrevious_);
#endif
#if AT_MKL_ENABLED()
    if (MKL_Set_Num_Threads_Local) MKL_Set_Num_Threads_Local(mklPrevious_);  // 0 (its default) means "the global count"
#endif
  }
  SingleThreadScope(const SingleThreadScope&) = delete;
  SingleThreadScope& operator=(const SingleThreadScope&) = delete;

 private:
  int ompPrevious_ = 1;
  int mklPrevious_ = 0;
};

// An integer argument within [lo, hi], or INVALID_INPUT naming it.
int64_t IntArg(const Napi::CallbackInfo& info, size_t i, const char* name, double lo, double hi) {
  Napi::Env env = info.Env();
  const bool ok = info[i].IsNumber();
  const double v = ok ? info[i].As<Napi::Number>().DoubleValue() : 0;
  if (!ok || !(v >= lo && v <= hi) || v != std::floor(v)) {
    throw MakeJsError(env, "INVALID_INPUT",
                      std::string("resample(): ") + name + " must be an integer within [" + std::to_string(static_cast<int64_t>(lo)) + ", " +
                          std::to_string(static_cast<int64_t>(hi)) + "]");
  }
  return static_cast<int64_t>(v);
}

struct Args {
  int64_t n, phases, taps, stride, left, firstBlock, count, tile;
};

template <typename T>
void Run(const T* x, const T* weight, T* out, const Args& a, at::ScalarType dtype) {
  const int64_t tileLen = (a.tile - 1) * a.stride + a.taps;
  const int64_t tileOut = a.tile * a.phases;
  const auto options = at::TensorOptions().dtype(dtype);
  // The weight stays in JS memory for the call: nothing else runs on this thread meanwhile.
  const at::Tensor w = at::from_blob(const_cast<T*>(weight), {a.phases, 1, a.taps}, options);
  std::vector<T> edge;  // a tile that reaches past either end of x, zero-padded
  for (int64_t done = 0; done < a.count; done += tileOut) {
    const int64_t block = a.firstBlock + done / a.phases;
    const int64_t start = block * a.stride - a.left;  // input index of the tile's first tap (may be < 0)
    const T* src;
    if (start >= 0 && start + tileLen <= a.n) {
      src = x + start;
    } else {
      edge.assign(static_cast<size_t>(tileLen), T(0));
      const int64_t from = std::max<int64_t>(start, 0), to = std::min<int64_t>(start + tileLen, a.n);
      if (to > from) std::memcpy(edge.data() + (from - start), x + from, static_cast<size_t>(to - from) * sizeof(T));
      src = edge.data();
    }
    const at::Tensor input = at::from_blob(const_cast<T*>(src), {1, 1, tileLen}, options);
    const at::Tensor y = at::conv1d(input, w, {}, a.stride).contiguous();  // [1, phases, tile]
    const T* r = y.data_ptr<T>();
    // torchaudio's transpose(1, 2).reshape: block-major, phases interleaved.
    const int64_t take = std::min(tileOut, a.count - done);
    T* dst = out + done;
    for (int64_t k = 0; k < take; k++) dst[k] = r[(k % a.phases) * a.tile + k / a.phases];
  }
}

}  // namespace

bool ResampleAvailable() {
#if AT_PARALLEL_OPENMP
  return omp_get_max_threads != nullptr && omp_set_num_threads != nullptr;
#else
  return false;
#endif
}

Napi::Value Resample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  W2V_REQUIRE(env, ResampleAvailable(), "resample(): not available with this LibTorch (its intra-op threads are not OpenMP)");
  W2V_REQUIRE(env, info.Length() == 9, "resample(x, weight, phases, taps, stride, left, firstBlock, count, tile): expected 9 arguments");
  const auto kindOf = [](const Napi::Value& v) {
    return v.IsTypedArray() ? v.As<Napi::TypedArray>().TypedArrayType() : napi_int8_array;
  };
  const napi_typedarray_type kind = kindOf(info[0]);
  W2V_REQUIRE(env, kind == napi_float32_array || kind == napi_float64_array, "resample(): x must be a Float32Array or a Float64Array");
  W2V_REQUIRE(env, kindOf(info[1]) == kind, "resample(): weight must be a typed array of x's kind (Float32Array or Float64Array)");
  const auto xs = info[0].As<Napi::TypedArray>();
  const auto ws = info[1].As<Napi::TypedArray>();
  Args a{};
  a.n = static_cast<int64_t>(xs.ElementLength());
  a.phases = IntArg(info, 2, "phases", 1, kMaxWeights);
  a.taps = IntArg(info, 3, "taps", 1, kMaxWeights);
  a.stride = IntArg(info, 4, "stride", 1, kMaxTileInput);
  a.left = IntArg(info, 5, "left", 0, kMaxTileInput);
  a.firstBlock = IntArg(info, 6, "firstBlock", 0, kMaxCount);
  a.count = IntArg(info, 7, "count", 0, kMaxCount);
  a.tile = IntArg(info, 8, "tile", 1, kMaxTileOutputs);
  // Products in double: each factor is below 2^31, so they are exact up to 2^53 and cannot wrap.
  W2V_REQUIRE(env, static_cast<double>(a.phases) * a.taps <= kMaxWeights, "resample(): phases * taps must be at most 2^24");
  W2V_REQUIRE(env, static_cast<double>(ws.ElementLength()) == static_cast<double>(a.phases) * a.taps, "resample(): weight must hold phases * taps values");
  W2V_REQUIRE(env, static_cast<double>(a.tile) * a.phases <= kMaxTileOutputs, "resample(): tile * phases must be at most 2^24");
  W2V_REQUIRE(env, static_cast<double>(a.tile - 1) * a.stride + a.taps <= kMaxTileInput, "resample(): (tile - 1) * stride + taps must be at most 2^26");
  // The blocks asked for must start within x (plus one block): the output is bounded by the input the caller holds.
  const double blocks = std::ceil(static_cast<double>(a.count) / a.phases);
  W2V_REQUIRE(env, (static_cast<double>(a.firstBlock) + blocks) * a.stride <= static_cast<double>(a.n) + a.stride,
              "resample(): firstBlock and count ask for blocks past the end of x");

  Napi::TypedArray result;
  try {
    // Inside the try: V8 refusing the output's memory becomes a coded error like any other failure here.
    result = kind == napi_float32_array ? static_cast<Napi::TypedArray>(Napi::Float32Array::New(env, static_cast<size_t>(a.count)))
                                        : static_cast<Napi::TypedArray>(Napi::Float64Array::New(env, static_cast<size_t>(a.count)));
    if (a.count == 0) return result;
    c10::InferenceMode inference;  // no autograd bookkeeping for these tensors
    SingleThreadScope single;
    if (kind == napi_float32_array) {
      Run<float>(xs.As<Napi::Float32Array>().Data(), ws.As<Napi::Float32Array>().Data(), result.As<Napi::Float32Array>().Data(), a, at::kFloat);
    } else {
      Run<double>(xs.As<Napi::Float64Array>().Data(), ws.As<Napi::Float64Array>().Data(), result.As<Napi::Float64Array>().Data(), a, at::kDouble);
    }
  } catch (...) {
    throw ToJsError(env, CurrentException("INFERENCE_FAILED"));
  }
  return result;
}

}  // namespace w2v
