#include "weights.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "../errors.h"

namespace w2v::builder {
namespace {

// Dimensions and elements: far above any real weight, low enough that the products below cannot overflow.
constexpr int64_t kMaxElements = int64_t{1} << 40;

CodedError Invalid(const TensorRef& ref, const std::string& what) {
  return CodedError("CHECKPOINT_INVALID", "tensor " + ref.name + " in " + ref.file + ": " + what);
}

int64_t ElementSize(WeightDType d) {
  switch (d) {
    case WeightDType::Float16:
    case WeightDType::BFloat16: return 2;
    case WeightDType::Float64: return 8;
    default: return 4;
  }
}

at::ScalarType StoredType(WeightDType d) {
  switch (d) {
    case WeightDType::Float16: return at::kHalf;
    case WeightDType::BFloat16: return at::kBFloat16;
    case WeightDType::Float64: return at::kDouble;
    default: return at::kFloat;
  }
}

// Bytes from element [0, ..., 0] to the end of the last element, or throws when a size is out of range.
int64_t SpanBytes(const TensorRef& ref) {
  if (ref.shape.size() != ref.strides.size()) throw Invalid(ref, "shape and strides differ in length");
  int64_t last = 0, elements = 1;
  for (size_t i = 0; i < ref.shape.size(); i++) {
    const int64_t n = ref.shape[i], s = ref.strides[i];
    if (n < 0 || s < 0 || n > kMaxElements || s > kMaxElements) throw Invalid(ref, "shape or strides out of range");
    if (n == 0) return 0;
    elements *= n;
    if (elements > kMaxElements) throw Invalid(ref, "more than 2^40 elements");
    last += (n - 1) * s;
    if (last > kMaxElements) throw Invalid(ref, "strides reach past 2^40 elements");
  }
  return (last + 1) * ElementSize(ref.dtype);
}

}  // namespace

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); i++) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

Weights::Weights(std::vector<TensorRef> refs, c10::Device device, at::ScalarType dtype) : device_(device), dtype_(dtype) {
  for (auto& r : refs) {
    const std::string name = r.name;
    if (!refs_.emplace(name, std::move(r)).second) throw CodedError("CHECKPOINT_INVALID", "tensor " + name + " is named twice");
  }
}

Weights::~Weights() {
  for (const auto& [path, fd] : files_) ::close(fd);
}

int Weights::Open(const std::string& file) {
  const auto it = files_.find(file);
  if (it != files_.end()) return it->second;
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw CodedError("CHECKPOINT_INVALID", "cannot open " + file + ": " + std::strerror(errno));
  files_.emplace(file, fd);
  return fd;
}

// pread rather than mmap: a file truncated after the size check gives a short read, an error here; a mapping
// would give SIGBUS and take the process down. The copy costs less than the dtype conversion that follows.
at::Tensor Weights::Read(const TensorRef& ref) {
  const int64_t span = SpanBytes(ref);
  if (span > ref.byteLength) throw Invalid(ref, "shape " + ShapeString(ref.shape) + " spans " + std::to_string(span) + " bytes, more than its " + std::to_string(ref.byteLength));
  const int fd = Open(ref.file);
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) throw Invalid(ref, "not a regular file");
  if (ref.offset < 0 || ref.offset > st.st_size || span > st.st_size - ref.offset) {
    throw Invalid(ref, "bytes [" + std::to_string(ref.offset) + ", " + std::to_string(ref.offset + span) + ") are not inside the file's " + std::to_string(st.st_size));
  }
  at::Tensor bytes = at::empty({std::max<int64_t>(span, 1)}, at::kByte);
  auto* out = static_cast<uint8_t*>(bytes.data_ptr());
  for (int64_t done = 0; done < span;) {
    const ssize_t n = ::pread(fd, out + done, static_cast<size_t>(span - done), static_cast<off_t>(ref.offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Invalid(ref, n == 0 ? "the file ended early (changed while loading?)" : std::string("read failed: ") + std::strerror(errno));
    done += n;
  }
  // The buffer holds the elements at their strides from offset 0 (little-endian, as safetensors and torch.save
  // store them); at::empty aligns it for any element type.
  return at::from_blob(out, ref.shape, ref.strides, [bytes](void*) mutable { bytes.reset(); }, at::TensorOptions(StoredType(ref.dtype)));
}

at::Tensor Weights::TakeFloat(const std::string& name, const std::vector<int64_t>& shape) {
  const auto it = refs_.find(name);
  if (it == refs_.end()) throw CodedError("CHECKPOINT_INVALID", "the checkpoint has no tensor " + name + " (expected " + ShapeString(shape) + ")");
  if (it->second.shape != shape) {
    throw CodedError("CHECKPOINT_INVALID", "tensor " + name + " has shape " + ShapeString(it->second.shape) + "; the config makes it " + ShapeString(shape));
  }
  at::Tensor t = Read(it->second).to(at::kFloat).contiguous();
  parameters_ += t.numel();
  return t;
}

at::Tensor Weights::Take(const std::string& name, const std::vector<int64_t>& shape) { return ToModel(TakeFloat(name, shape)); }

}  // namespace w2v::builder
