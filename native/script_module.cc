#include "script_module.h"

#include <ATen/Context.h>
#include <torch/cuda.h>

#include <sstream>

#include "errors.h"
#include "tensor.h"

namespace w2v {
namespace {

bool IsTensor(const c10::TypePtr& t) { return t->kind() == c10::TypeKind::TensorType; }

bool IsOptionalOf(const c10::TypePtr& t, c10::TypeKind inner) {
  if (t->kind() != c10::TypeKind::OptionalType) return false;
  return t->expectRef<c10::OptionalType>().getElementType()->kind() == inner;
}

std::string SchemaString(const c10::FunctionSchema& schema) {
  std::ostringstream out;
  out << schema;
  return out.str();
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Layer and head counts size the attention memory check in TypeScript. Scripted torchaudio models keep
// `num_heads` as an attribute; traced models keep the module tree but not plain attributes.
void FindArchitecture(const torch::jit::Module& m, ModuleInfo& info) {
  for (const auto& sub : m.named_modules()) {
    if (info.numLayers < 0 && (EndsWith(sub.name, "transformer.layers") || EndsWith(sub.name, "encoder.layers"))) {
      int64_t n = 0;
      for (const auto& child : sub.value.children()) {
        (void)child;
        n++;
      }
      if (n > 0) info.numLayers = n;
    }
    if (info.numHeads < 0 && sub.value.hasattr("num_heads")) {
      const c10::IValue v = sub.value.attr("num_heads");
      if (v.isInt()) info.numHeads = v.toInt();
    }
  }
}

// `withLengths`: the torchaudio convention returns (output, Optional[lengths]); a traced model's second tuple
// element is something else (hidden states, ...) and is ignored.
Output Parse(const c10::IValue& out, bool features, bool withLengths, int64_t batch, const char* method) {
  Output result;
  c10::IValue first = out;
  if (out.isTuple()) {
    const auto& elements = out.toTupleRef().elements();
    if (elements.empty()) throw CodedError("UNSUPPORTED_METHOD", std::string(method) + " returned an empty tuple");
    first = elements[0];
    if (withLengths && elements.size() > 1 && elements[1].isTensor()) {
      const at::Tensor& l = elements[1].toTensor();
      if (l.dim() != 1 || l.size(0) != batch || !at::isIntegralType(l.scalar_type(), /*includeBool=*/false)) {
        throw CodedError("UNSUPPORTED_METHOD", std::string(method) + " returned lengths that are not one integer per batch item");
      }
      result.lengths = l;
    }
  } else if (out.isGenericDict()) {
    const auto dict = out.toGenericDict();
    const auto it = dict.find(c10::IValue(std::string("logits")));
    if (it == dict.end()) throw CodedError("UNSUPPORTED_METHOD", std::string(method) + " returned a dict without \"logits\"");
    first = it->value();
  }
  if (features) {
    if (!first.isList()) throw CodedError("UNSUPPORTED_METHOD", std::string(method) + " did not return a list of tensors");
    for (const c10::IValue& v : first.toListRef()) {
      if (!v.isTensor()) throw CodedError("UNSUPPORTED_METHOD", std::string(method) + " returned a list holding a non-tensor");
      result.tensors.push_back(v.toTensor());
    }
  } else {
    if (!first.isTensor()) {
      throw CodedError("UNSUPPORTED_METHOD", std::string(method) + " returned " + first.tagKind() +
                                                 "; expected a Tensor, a tuple whose first element is the logits, or a dict with \"logits\"");
    }
    result.tensors.push_back(first.toTensor());
  }
  for (auto& t : result.tensors) {
    if (t.dim() != 3) {
      throw CodedError("UNSUPPORTED_METHOD", std::string(method) + " returned a tensor of " + std::to_string(t.dim()) +
                                                 " dimensions; expected [batch, frames, classes]");
    }
    t = ToHostFloat(t);
  }
  if (result.lengths) result.lengths = result.lengths->detach().to(at::kCPU, at::kLong).contiguous();
  return result;
}

}  // namespace

std::unique_ptr<ScriptModule> ScriptModule::Load(const std::string& path, const std::string& deviceText,
                                                 const std::string& dtypeText, bool optimize) {
  const c10::Device device = ParseDevice(deviceText);
  const at::ScalarType dtype = ParseDtype(dtypeText);
  CheckCuda(device);

  const auto loadFile = [&]() {
    try {
      torch::jit::Module m = torch::jit::load(path, device);
      m.eval();
      if (dtype != at::kFloat) m.to(dtype);
      return m;
    } catch (...) {
      const CodedError e = CurrentException("MODEL_LOAD_FAILED");
      throw CodedError("MODEL_LOAD_FAILED",
                       "cannot load the TorchScript model " + path + ": " + e.what() +
                           " (export models with scripts/export_torchaudio.py or scripts/export_hf.py)",
                       e.detail);
    }
  };
  torch::jit::Module module = loadFile();
  Rewrites rewrites;
  if (optimize && device.is_cpu() && dtype == at::kFloat && GraphRewritesAvailable()) {
    try {
      rewrites = RewriteForCpu(module);
    } catch (...) {
      // A pass that fails leaves the graphs half rewritten: run the model as exported instead.
      module = loadFile();
      rewrites.clear();
    }
  }

  ModuleInfo info;
  info.file = path;
  info.device = device.str();
  info.dtype = dtypeText;
  info.rewrites = std::move(rewrites);
  for (const auto& method : module.get_methods()) {
    info.methods.emplace_back(method.name(), SchemaString(method.function().getSchema()));
  }
  for (const auto& p : module.parameters()) info.parameters += p.numel();
  FindArchitecture(module, info);

  const auto forward = module.find_method("forward");
  if (!forward) throw CodedError("UNSUPPORTED_METHOD", "the model " + path + " has no forward method");
  const auto& args = forward->function().getSchema().arguments();  // args[0] is self
  if (args.size() >= 3 && IsTensor(args[1].type()) && IsOptionalOf(args[2].type(), c10::TypeKind::TensorType)) {
    info.convention = Convention::Torchaudio;
  } else if (args.size() >= 2 && IsTensor(args[1].type())) {
    for (size_t i = 2; i < args.size(); i++) {
      if (!args[i].default_value()) {
        throw CodedError("UNSUPPORTED_METHOD", "forward" + SchemaString(forward->function().getSchema()).substr(7) +
                                                   " is not supported: expected forward(waveforms) or forward(waveforms, lengths: Optional[Tensor])");
      }
    }
    info.convention = Convention::Traced;
  } else {
    throw CodedError("UNSUPPORTED_METHOD", "the forward method of " + path + " (" + SchemaString(forward->function().getSchema()) +
                                               ") is not supported: expected forward(waveforms) or forward(waveforms, lengths: Optional[Tensor])");
  }

  if (const auto ef = module.find_method("extract_features")) {
    const auto& a = ef->function().getSchema().arguments();
    info.hasExtractFeatures = a.size() == 4 && IsTensor(a[1].type()) && IsOptionalOf(a[2].type(), c10::TypeKind::TensorType) &&
                              IsOptionalOf(a[3].type(), c10::TypeKind::IntType);
    if (!info.hasExtractFeatures && a.size() == 2 && IsTensor(a[1].type())) {
      info.hasExtractFeatures = true;
      info.tracedFeatures = true;
    }
  }
  return std::unique_ptr<ScriptModule>(new ScriptModule(std::move(module), device, dtype, std::move(info)));
}

c10::IValue ScriptModule::LengthsArg(const std::optional<at::Tensor>& lengths) const {
  return lengths ? c10::IValue(lengths->to(device_)) : c10::IValue();
}

Output ScriptModule::Forward(const at::Tensor& waveforms, const std::optional<at::Tensor>& lengths) {
  std::vector<c10::IValue> inputs{waveforms.to(device_, dtype_)};
  if (info_.convention == Convention::Torchaudio) inputs.push_back(LengthsArg(lengths));
  return Parse(module_.forward(std::move(inputs)), false, info_.convention == Convention::Torchaudio, waveforms.size(0), "forward");
}

Output ScriptModule::ExtractFeatures(const at::Tensor& waveforms, const std::optional<at::Tensor>& lengths,
                                     std::optional<int64_t> numLayers) {
  if (!info_.hasExtractFeatures) {
    throw CodedError("UNSUPPORTED_METHOD",
                     "this model has no extract_features method; export it with scripts/export_torchaudio.py or "
                     "scripts/export_hf.py to get per-layer features");
  }
  if (info_.tracedFeatures) {
    // A trace cannot take num_layers: it returns every layer, and we keep the first N (same check and
    // message as torchaudio's scripted models).
    const c10::IValue out = module_.get_method("extract_features")(std::vector<c10::IValue>{waveforms.to(device_, dtype_)});
    std::vector<c10::IValue> items;
    if (out.isTuple()) items = out.toTupleRef().elements().vec();
    else if (out.isList()) items = out.toListRef().vec();
    else throw CodedError("UNSUPPORTED_METHOD", "extract_features returned " + std::string(out.tagKind()) + "; expected a tuple or list of tensors");
    const int64_t total = static_cast<int64_t>(items.size());
    if (numLayers && (*numLayers < 1 || *numLayers > total)) {
      throw CodedError("INVALID_INPUT", "`num_layers` must be between [1, " + std::to_string(total) + "]");
    }
    if (numLayers) items.resize(static_cast<size_t>(*numLayers));
    c10::List<at::Tensor> layers;
    for (const c10::IValue& v : items) {
      if (!v.isTensor()) throw CodedError("UNSUPPORTED_METHOD", "extract_features returned a non-tensor layer output");
      layers.push_back(v.toTensor());
    }
    return Parse(c10::IValue(layers), true, false, waveforms.size(0), "extract_features");
  }
  std::vector<c10::IValue> inputs{waveforms.to(device_, dtype_), LengthsArg(lengths),
                                  numLayers ? c10::IValue(*numLayers) : c10::IValue()};
  return Parse(module_.get_method("extract_features")(std::move(inputs)), true, true, waveforms.size(0), "extract_features");
}

}  // namespace w2v
