#include "network.h"

#include <ATen/Context.h>
#include <torch/cuda.h>

#include "errors.h"

namespace w2v {

c10::Device ParseDevice(const std::string& text) {
  try {
    c10::Device device(text);
    if (device.is_cpu() || device.is_cuda()) return device;
  } catch (...) {
  }
  throw CodedError("INVALID_INPUT", "device: expected 'cpu', 'cuda' or 'cuda:N', got '" + text + "'");
}

at::ScalarType ParseDtype(const std::string& text) {
  if (text == "float32") return at::kFloat;
  if (text == "float16") return at::kHalf;
  if (text == "bfloat16") return at::kBFloat16;
  throw CodedError("INVALID_INPUT", "dtype: expected 'float32', 'float16' or 'bfloat16', got '" + text + "'");
}

void CheckCuda(const c10::Device& device) {
  if (!device.is_cuda()) return;
  if (!at::globalContext().hasCUDA()) {
    throw CodedError("CUDA_UNAVAILABLE",
                     "CUDA is not available: this addon was built against a CPU-only LibTorch. Rebuild it against a "
                     "CUDA-enabled torch (set LIBTORCH or install a CUDA torch wheel, then `npm run build:native`), or use device 'cpu'.");
  }
  const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
  if (count == 0 || !torch::cuda::is_available()) {
    throw CodedError("CUDA_UNAVAILABLE", "CUDA is not available: no CUDA device is visible (check the driver and CUDA_VISIBLE_DEVICES), or use device 'cpu'.");
  }
  if (device.has_index() && device.index() >= count) {
    throw CodedError("CUDA_UNAVAILABLE", "device cuda:" + std::to_string(device.index()) + " does not exist: " +
                                             std::to_string(count) + " CUDA device(s) visible (cuda:0.." + std::to_string(count - 1) + ").");
  }
}

}  // namespace w2v
