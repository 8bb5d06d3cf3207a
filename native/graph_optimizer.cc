#include "graph_optimizer.h"

#include "first_layer.h"
#include "shape_buckets.h"

#include <ATen/Context.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/ir/subgraph_matcher.h>
#include <torch/csrc/jit/passes/subgraph_rewrite.h>

namespace w2v {
namespace {

constexpr const char* kFusedLinear = "mkldnn::_linear_pointwise";

// GELU first: once a linear is rewritten alone, its GELU can no longer join it. `%approx` ('none' = erf,
// 'tanh') passes through as oneDNN's algorithm, so either GELU keeps its own formula.
const char* kLinearGelu = R"IR(
graph(%x, %w, %b, %approx):
  %y = aten::linear(%x, %w, %b)
  %r = aten::gelu(%y, %approx)
  return (%r))IR";
const char* kFusedLinearGelu = R"IR(
graph(%x, %w, %b, %approx):
  %attr : str = prim::Constant[value="gelu"]()
  %scalars : Scalar?[] = prim::ListConstruct()
  %r = w2v::linear_rows(%x, %w, %b, %attr, %scalars, %approx)
  return (%r))IR";

const char* kLinear = R"IR(
graph(%x, %w, %b):
  %r = aten::linear(%x, %w, %b)
  return (%r))IR";
const char* kFusedLinearPlain = R"IR(
graph(%x, %w, %b):
  %attr : str = prim::Constant[value="none"]()
  %scalars : Scalar?[] = prim::ListConstruct()
  %algorithm : str? = prim::Constant()
  %r = w2v::linear_rows(%x, %w, %b, %attr, %scalars, %algorithm)
  return (%r))IR";

// A convolution followed by GELU: oneDNN applies the GELU while the output is still in cache (the feature
// extractor's layers after the first, whose GELU follows a norm instead). Traced models record
// aten::_convolution (only a non-transposed one is fused); scripted ones aten::conv1d.
const char* kConvGeluTraced = R"IR(
graph(%x, %w, %b, %stride, %pad, %dil, %transposed, %outpad, %groups, %bench, %det, %cudnn, %tf32, %approx):
  %y = aten::_convolution(%x, %w, %b, %stride, %pad, %dil, %transposed, %outpad, %groups, %bench, %det, %cudnn, %tf32)
  %r = aten::gelu(%y, %approx)
  return (%r))IR";
const char* kConvGeluScripted = R"IR(
graph(%x, %w, %b, %stride, %pad, %dil, %groups, %approx):
  %y = aten::conv1d(%x, %w, %b, %stride, %pad, %dil, %groups)
  %r = aten::gelu(%y, %approx)
  return (%r))IR";
const char* kFusedConvGeluTraced = R"IR(
graph(%x, %w, %b, %stride, %pad, %dil, %transposed, %outpad, %groups, %bench, %det, %cudnn, %tf32, %approx):
  %attr : str = prim::Constant[value="gelu"]()
  %scalars : Scalar?[] = prim::ListConstruct()
  %r = w2v::conv_frames(%x, %w, %b, %pad, %stride, %dil, %groups, %attr, %scalars, %approx)
  return (%r))IR";
const char* kFusedConvGeluScripted = R"IR(
graph(%x, %w, %b, %stride, %pad, %dil, %groups, %approx):
  %attr : str = prim::Constant[value="gelu"]()
  %scalars : Scalar?[] = prim::ListConstruct()
  %r = w2v::conv_frames(%x, %w, %b, %pad, %stride, %dil, %groups, %attr, %scalars, %approx)
  return (%r))IR";
constexpr const char* kFusedConv = "mkldnn::_convolution_pointwise";

// The feature encoder's first layer (convolution, GroupNorm, GELU) as first_layer.h's operator, which runs LibTorch's
// three where its own kernel does not apply.
const char* kFirstLayerTraced = R"IR(
graph(%x, %w, %b, %stride, %pad, %dil, %transposed, %outpad, %groups, %bench, %det, %cudnn, %tf32, %ng, %gw, %gb, %eps, %gcudnn, %approx):
  %y = aten::_convolution(%x, %w, %b, %stride, %pad, %dil, %transposed, %outpad, %groups, %bench, %det, %cudnn, %tf32)
  %n = aten::group_norm(%y, %ng, %gw, %gb, %eps, %gcudnn)
  %r = aten::gelu(%n, %approx)
  return (%r))IR";
const char* kFirstLayerScripted = R"IR(
graph(%x, %w, %b, %stride, %pad, %dil, %groups, %ng, %gw, %gb, %eps, %gcudnn, %approx):
  %y = aten::conv1d(%x, %w, %b, %stride, %pad, %dil, %groups)
  %n = aten::group_norm(%y, %ng, %gw, %gb, %eps, %gcudnn)
  %r = aten::gelu(%n, %approx)
  return (%r))IR";
const char* kFirstLayerFusedTraced = R"IR(
graph(%x, %w, %b, %stride, %pad, %dil, %transposed, %outpad, %groups, %bench, %det, %cudnn, %tf32, %ng, %gw, %gb, %eps, %gcudnn, %approx):
  %r = w2v::conv_group_norm_gelu(%x, %w, %b, %stride, %pad, %dil, %groups, %ng, %gw, %gb, %eps, %approx)
  return (%r))IR";
const char* kFirstLayerFusedScripted = R"IR(
graph(%x, %w, %b, %stride, %pad, %dil, %groups, %ng, %gw, %gb, %eps, %gcudnn, %approx):
  %r = w2v::conv_group_norm_gelu(%x, %w, %b, %stride, %pad, %dil, %groups, %ng, %gw, %gb, %eps, %approx)
  return (%r))IR";

// aten::conv1d also has an overload with padding as a string ('same', 'valid'); oneDNN's takes numbers only.
// A transposed aten::_convolution is another operation: only a constant `false` is fused.
bool Fusable(const torch::jit::Match& match, const std::unordered_map<std::string, torch::jit::Value*>& vmap) {
  const torch::jit::Value* pad = match.values_map.at(vmap.at("pad"));
  if (pad->type()->kind() != c10::TypeKind::ListType) return false;
  const auto transposed = vmap.find("transposed");
  if (transposed == vmap.end()) return true;
  const auto value = torch::jit::toIValue(match.values_map.at(transposed->second));
  return value && value->isBool() && !value->toBool();
}

struct Counts {
  int64_t fused = 0;
  int64_t withGelu = 0;
  int64_t convGelu = 0;
  int64_t firstLayer = 0;
};

void Count(torch::jit::Block* block, Counts& counts) {
  static const c10::Symbol fused = c10::Symbol::fromQualString(kLinearRowsOp);
  static const c10::Symbol conv = c10::Symbol::fromQualString(kConvFramesOp);
  static const c10::Symbol first = c10::Symbol::fromQualString(kFirstLayerOp);
  for (torch::jit::Node* node : block->nodes()) {
    if (node->kind() == conv) counts.convGelu++;
    if (node->kind() == first) counts.firstLayer++;
    if (node->kind() == fused) {
      counts.fused++;
      const auto attr = torch::jit::toIValue(node->input(3));
      if (attr && attr->isString() && attr->toStringRef() == "gelu") counts.withGelu++;
    }
    for (torch::jit::Block* sub : node->blocks()) Count(sub, counts);
  }
}

}  // namespace

bool GraphRewritesAvailable() {
  if (!at::hasMKLDNN() || !at::globalContext().userEnabledMkldnn()) return false;
  for (const char* name : {kFusedLinear, kFusedConv}) {
    const auto op = c10::Dispatcher::singleton().findSchema({name, ""});
    if (!op.has_value() || !op->hasKernelForDispatchKey(c10::DispatchKey::CPU)) return false;
  }
  return true;
}

Rewrites RewriteForCpu(torch::jit::Module& module) {
  torch::jit::SubgraphRewriter withGelu;
  withGelu.RegisterRewritePattern(kLinearGelu, kFusedLinearGelu);
  torch::jit::SubgraphRewriter plain;
  plain.RegisterRewritePattern(kLinear, kFusedLinearPlain);
  torch::jit::SubgraphRewriter firstLayer;
  firstLayer.RegisterRewritePattern(kFirstLayerTraced, kFirstLayerFusedTraced);
  firstLayer.RegisterRewritePattern(kFirstLayerScripted, kFirstLayerFusedScripted);
  torch::jit::SubgraphRewriter convGelu;
  convGelu.RegisterRewritePattern(kConvGeluTraced, kFusedConvGeluTraced);
  convGelu.RegisterRewritePattern(kConvGeluScripted, kFusedConvGeluScripted);

  Counts counts;
  for (const torch::jit::Method& method : module.get_methods()) {
    // Methods call their submodules' methods; inlining puts every linear and the GELU after it in one graph,
    // where the patterns can see them. The graph executor is built on the first call, after this.
    std::shared_ptr<torch::jit::Graph> graph = method.graph();
    torch::jit::Inline(*graph);
    firstLayer.runOnGraph(graph, Fusable);
    withGelu.runOnGraph(graph);
    plain.runOnGraph(graph);
    convGelu.runOnGraph(graph, Fusable);
    Count(graph->block(), counts);
  }
  Rewrites out;
  if (counts.fused > 0) {
    out["onednnLinear"] = counts.fused;
    if (counts.withGelu > 0) out["linearGeluFusion"] = counts.withGelu;
  }
  if (counts.convGelu > 0) out["convGeluFusion"] = counts.convGelu;
  if (counts.firstLayer > 0) out["firstLayer"] = counts.firstLayer;
  return out;
}

}  // namespace w2v
