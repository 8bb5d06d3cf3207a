#!/usr/bin/env python3
"""Export a Hugging Face CTC model (Wav2Vec2ForCTC, HubertForCTC, WavLMForCTC, ...) as traced TorchScript plus
its wav2vec2-node manifest.

    python scripts/export_hf.py MODEL_DIR_OR_ID OUT.pt [--example-seconds 1.25]

The model is traced with `torch.jit.trace_module` (any batch size and length) and wrapped in a small scripted
module with torchaudio's calling convention, so that loadModel runs it as it runs torchaudio's models:

- `forward(waveforms [B, T], lengths: Optional[Tensor] = None) -> (logits [B, frames, classes], frame lengths or
  None)`. Without lengths it runs the plain trace. With lengths (a zero-padded batch) it runs a second trace that
  passes Hugging Face's attention mask and computes the first conv layer's GroupNorm (BASE-style models) over each
  item's valid frames only, so that every item gets the result it gets alone. Hugging Face's own batched inference
  normalises over the padded length, which is why its docs tell BASE users not to pad; here padding is exact
  (checked at export within 1e-4; the manifest says `paddedBatchExact: true`), so batches of different lengths run
  as one batch.
- `extract_features(waveforms, lengths=None, num_layers=None) -> (per-layer outputs, frame lengths or None)`:
  Hugging Face's `hidden_states[1:]` (for pre-LN models the last one includes the encoder's final layer norm, as
  Hugging Face's does); `num_layers` keeps the first N, with torchaudio's check and message.

The script proves the export by comparing it with the eager model on shapes other than the tracing example's and on
a padded batch against each item alone, and refuses to write a file that does not match.

The manifest (OUT.json) gets: labels from the tokenizer's vocabulary (index = class id), blank = the pad token id
(the CTC blank of Hugging Face's CTC heads), word delimiter "|", sample rate and normalisation from the feature
extractor, the conv layout from config.conv_kernel / conv_stride, convention "torchaudio", layer and head counts.

`--quantize int8`: dynamic int8 quantisation of the Linear layers (CPU only), with its measured difference from the
float32 logits recorded under source.quantization.

Note: the feature extractor normalises with eps 1e-7 (recorded as normalizeEps); torchaudio bundles use 1e-5.
"""
import argparse
import math
import sys
from pathlib import Path

from model_manifest import MANIFEST_FORMAT, receptive_field, write_manifest

CHECK_TOLERANCE = 1e-4




def labels_from_tokenizer(tokenizer, num_classes: int):
    """Label of each class id. Ids the tokenizer does not name get a placeholder (and a warning)."""
    labels = [None] * num_classes
    for token, idx in tokenizer.get_vocab().items():
        if 0 <= idx < num_classes:
            labels[idx] = token
    missing = [i for i, l in enumerate(labels) if l is None]
    if missing:
        print(f"warning: the tokenizer names no label for class ids {missing}; using <unused_N>", file=sys.stderr)
        labels = [l if l is not None else f"<unused_{i}>" for i, l in enumerate(labels)]
    return labels


def build_manifest(model, tokenizer, feature_extractor, source: dict) -> dict:
    config = model.config
    num_classes = model.lm_head.out_features if hasattr(model, "lm_head") else config.vocab_size
    labels = labels_from_tokenizer(tokenizer, num_classes)
    conv_layers = [[int(k), int(s)] for k, s in zip(config.conv_kernel, config.conv_stride)]
    blank = tokenizer.pad_token_id
    if blank is None or not 0 <= blank < num_classes:
        sys.exit(f"error: the tokenizer has no pad token inside the {num_classes} classes (pad_token_id={blank}); "
                 "Hugging Face CTC heads use it as the blank")
    delimiter = getattr(tokenizer, "word_delimiter_token", None) or "|"
    manifest = {
        "format": MANIFEST_FORMAT,
        "labels": labels,
        "sampleRate": int(getattr(feature_extractor, "sampling_rate", 16000)),
        "blank": int(blank),
    }
    if delimiter in labels:
        manifest["wordDelimiter"] = delimiter
    manifest.update({
        "normalizeWaveform": bool(getattr(feature_extractor, "do_normalize", False)),
        # Hugging Face's Wav2Vec2FeatureExtractor normalises with eps 1e-7 (torchaudio bundles: 1e-5).
        "normalizeEps": 1e-7,
        "frameStride": math.prod(s for _, s in conv_layers),
        "receptiveField": receptive_field(conv_layers),
        "convLayers": conv_layers,
        "convention": "torchaudio",
        # Padded batches with lengths give each item its result alone (attention mask, masked GroupNorm).
        "paddedBatchExact": True,
        "numLayers": int(config.num_hidden_layers),
        "numHeads": int(config.num_attention_heads),
        "embedDim": int(config.hidden_size),
        "source": source,
    })
    return manifest


def fold_weight_norm(model) -> int:
    """The positional convolution keeps its weight weight-normalised (g and v); a trace would recompute
    g * v / |v| on every call (2-4 ms on a base model). At inference the weight is constant: store it once.
    Returns how many weights were folded."""
    import torch
    from torch.nn.utils import parametrize

    folded = 0
    for module in model.modules():
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
            folded += 1
        elif hasattr(module, "weight_g") and hasattr(module, "weight_v"):
            torch.nn.utils.remove_weight_norm(module)
            folded += 1
    return folded


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="a local directory saved with save_pretrained, or a Hugging Face model id")
    ap.add_argument("out", type=Path, help="output .pt file; the manifest goes to the same name with .json")
    ap.add_argument("--example-seconds", type=float, default=1.25, help="length of the tracing example (default 1.25 s)")
    ap.add_argument("--quantize", choices=["int8"], default=None,
                    help="int8: dynamic int8 quantisation of the Linear layers (weights int8, activations quantised per "
                         "call; fbgemm kernels on x86 CPUs; CPU only). Faster on CPU at a measured accuracy cost, recorded "
                         "in the manifest as source.quantization")
    ap.add_argument("--device", default="cpu", help="trace on this device (cpu, cuda, cuda:1): a trace records the device "
                    "and dtype of the tensors it makes, so the file runs on that device kind and dtype only (default cpu)")
    ap.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32",
                    help="trace in this dtype (load the file with the same dtype option; default float32)")
    args = ap.parse_args(argv)
    if args.quantize and (args.device != "cpu" or args.dtype != "float32"):
        sys.exit("error: --quantize int8 is for CPU float32 exports (dynamic quantisation runs on CPU only)")

    import torch
    import transformers
    from transformers import AutoFeatureExtractor, AutoModelForCTC, AutoTokenizer

    torch.manual_seed(0)
    try:
        model = AutoModelForCTC.from_pretrained(args.model).eval()
        tokenizer = AutoTokenizer.from_pretrained(args.model)
        feature_extractor = AutoFeatureExtractor.from_pretrained(args.model)
    except (OSError, ValueError, KeyError) as err:
        sys.exit(f"error: cannot load a CTC model with its tokenizer and feature extractor from {args.model!r}: {err}")
    rate = int(getattr(feature_extractor, "sampling_rate", 16000))
    folded = fold_weight_norm(model)

    quantization = None
    if args.quantize:
        import copy
        float_model = copy.deepcopy(model)
        # Linear layers hold ~95 % of a wav2vec2's weights and most of its time; convolutions stay float32.
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        quantization = {"kind": "dynamic int8", "modules": "torch.nn.Linear", "engine": torch.backends.quantized.engine}

    dev, dt = torch.device(args.device), getattr(torch, args.dtype)
    model = model.to(device=dev, dtype=dt)
    # Checks compare the export with the eager model in the same dtype; reduced precision gets looser bounds.
    tolerance = {"float32": CHECK_TOLERANCE, "float16": 2e-2, "bfloat16": 1e-1}[args.dtype]

    def rand(*shape):
        return (torch.randn(*shape) * 0.1).to(device=dev, dtype=dt)

    base = getattr(model, model.base_model_prefix)
    conv_layers = [[int(k), int(st)] for k, st in zip(model.config.conv_kernel, model.config.conv_stride)]
    first = base.feature_extractor.conv_layers[0]
    group_norm = isinstance(getattr(first, "layer_norm", None), torch.nn.GroupNorm)

    class MaskedFeatureEncoder(torch.nn.Module):
        """The conv feature encoder, with its first layer's GroupNorm (BASE-style models) computed over each item's
        valid frames only. Hugging Face's own batched inference normalises over the padded length, so a padded item
        would get a different result from the one it gets alone; this one gives the same. Later conv layers need no
        mask: a valid output frame only reads valid input frames. Shares the model's parameters."""

        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder
            self.lengths = None  # set by the caller for the duration of one call (a traced input)

        def forward(self, input_values):
            layers = self.encoder.conv_layers
            h = input_values[:, None]
            if group_norm:
                gn = layers[0].layer_norm
                h = layers[0].conv(h)
                k, st = conv_layers[0]
                n = torch.div(self.lengths - k, st, rounding_mode="floor") + 1
                valid = (torch.arange(h.shape[-1], device=h.device)[None, :] < n[:, None]).to(h.dtype)[:, None, :]
                count = valid.sum(-1, keepdim=True)
                mean = (h * valid).sum(-1, keepdim=True) / count
                var = (((h - mean) * valid) ** 2).sum(-1, keepdim=True) / count
                h = (h - mean) / torch.sqrt(var + gn.eps) * gn.weight[None, :, None] + gn.bias[None, :, None]
                h = layers[0].activation(h)
                rest = layers[1:]
            else:
                rest = layers
            for layer in rest:
                h = layer(h)
            return h

    class Logits(torch.nn.Module):
        """forward(waveforms [B, T]) -> logits [B, frames, classes]: one tensor in, one out; *_masked(waveforms,
        lengths): the same for a zero-padded batch, each item as if alone (attention mask + masked GroupNorm)."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            self.masked_encoder = MaskedFeatureEncoder(base.feature_extractor)

        def forward(self, waveforms):
            return self.inner(waveforms).logits

        def extract_features(self, waveforms):
            return torch.stack(base(waveforms, output_hidden_states=True).hidden_states[1:])

        def _masked(self, waveforms, lengths, hidden):
            mask = (torch.arange(waveforms.shape[1], device=waveforms.device)[None, :] < lengths[:, None]).long()
            plain = base.feature_extractor
            self.masked_encoder.lengths = lengths
            base.feature_extractor = self.masked_encoder
            try:
                if hidden:
                    return torch.stack(base(waveforms, attention_mask=mask, output_hidden_states=True).hidden_states[1:])
                return self.inner(waveforms, attention_mask=mask).logits
            finally:
                base.feature_extractor = plain
                self.masked_encoder.lengths = None

        def forward_masked(self, waveforms, lengths):
            return self._masked(waveforms, lengths, False)

        def features_masked(self, waveforms, lengths):
            return self._masked(waveforms, lengths, True)

    from typing import List, Optional, Tuple

    class Exported(torch.nn.Module):
        """The torchaudio calling convention around the traces: forward(waveforms, lengths=None) ->
        (emissions, frame lengths or None); extract_features(waveforms, lengths=None, num_layers=None)."""

        def __init__(self, traced, num_layers: int, conv: List[List[int]]):
            super().__init__()
            self.traced = traced
            self.num_layers = num_layers
            self.conv = conv

        def frames(self, lengths: torch.Tensor) -> torch.Tensor:
            n = lengths.to(torch.long)
            for ks in self.conv:
                n = torch.div(n - ks[0], ks[1], rounding_mode="floor") + 1
            return n

        def forward(self, waveforms: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
            if lengths is None:
                # no padding: the plain trace (attention without a mask keeps the fastest SDPA kernel)
                return self.traced(waveforms), None
            return self.traced.forward_masked(waveforms, lengths.to(torch.long)), self.frames(lengths)

        @torch.jit.export
        def extract_features(self, waveforms: torch.Tensor, lengths: Optional[torch.Tensor] = None,
                             num_layers: Optional[int] = None) -> Tuple[List[torch.Tensor], Optional[torch.Tensor]]:
            if num_layers is not None:
                if num_layers < 1 or num_layers > self.num_layers:
                    raise ValueError(f"`num_layers` must be between [1, {self.num_layers}]")
            if lengths is None:
                stacked = self.traced.extract_features(waveforms)
                frames: Optional[torch.Tensor] = None
            else:
                stacked = self.traced.features_masked(waveforms, lengths.to(torch.long))
                frames = self.frames(lengths)
            layers = list(torch.unbind(stacked, 0))
            if num_layers is not None:
                layers = layers[:num_layers]
            return layers, frames

    wrapper = Logits(model).eval()
    example = rand(2, int(rate * args.example_seconds))
    # A padded example (second item shorter): traced control flow that depends on the mask's content then
    # takes the general path.
    example_lengths = torch.tensor([example.shape[1], example.shape[1] * 2 // 3], device=dev)
    with torch.inference_mode(False), torch.no_grad():
        traced = torch.jit.trace_module(wrapper, {"forward": example, "extract_features": example,
                                                  "forward_masked": (example, example_lengths),
                                                  "features_masked": (example, example_lengths)}, check_trace=False)
        exported = torch.jit.script(Exported(traced, int(model.config.num_hidden_layers), conv_layers))

    # A trace records one run; prove it generalises to other batch sizes and lengths before writing it, and that
    # each item of a padded batch gets what it gets alone.
    checks = []
    with torch.no_grad():
        for shape in [(1, int(rate * 0.77) + 3), (3, int(rate * 1.9) + 1), tuple(example.shape)]:
            x = rand(*shape)
            out, none = exported(x)
            diff = (out - wrapper(x)).abs().max().item() if none is None else float("inf")
            feats, _ = exported.extract_features(x)
            diff = max([diff] + [(a - b).abs().max().item() for a, b in zip(feats, wrapper.extract_features(x))])
            checks.append({"shape": list(shape), "maxAbsDiff": diff})
            if not diff <= tolerance:
                sys.exit(f"error: the traced model differs from the eager one by {diff:g} on input shape {list(shape)}; not saved")
        lens = [int(rate * 1.9) + 1, int(rate * 0.6) + 7, int(rate * 1.3)]
        items = [rand(1, n) for n in lens]
        x = torch.zeros(len(lens), max(lens), device=dev, dtype=dt)
        for i, it in enumerate(items):
            x[i, :it.shape[1]] = it[0]
        out, frames = exported(x, torch.tensor(lens, device=dev))
        feats, _ = exported.extract_features(x, torch.tensor(lens, device=dev))
        diff = 0.0
        for i, it in enumerate(items):
            alone = wrapper(it)[0]
            f = int(frames[i])
            if f != alone.shape[0]:
                sys.exit(f"error: padded item {i}: {f} frames, alone {alone.shape[0]}; not saved")
            diff = max(diff, (out[i, :f] - alone).abs().max().item())
            for a, b in zip(feats, wrapper.extract_features(it)):
                diff = max(diff, (a[i, :f] - b[0]).abs().max().item())
        checks.append({"paddedBatch": lens, "maxAbsDiffVsAlone": diff})
        # Dynamic int8 quantises activations with one scale per call, from the whole batch: other items (and
        # padding) shift it, so a batched item cannot equal its result alone. In float16 / bfloat16 an item's
        # result depends on the kernels its batch shape gets, to the format's precision (0.1 on the base
        # benchmark model in bfloat16). Both recorded, not enforced; such exports are not paddedBatchExact.
        if not quantization and args.dtype == "float32" and not diff <= tolerance:
            sys.exit(f"error: an item of a padded batch differs from its result alone by {diff:g}; not saved")
    padded_exact = not quantization and args.dtype == "float32" and diff <= CHECK_TOLERANCE

    if quantization:
        # The accuracy cost: logits of the quantised model against the float32 one on speech-length noise.
        with torch.no_grad():
            x = torch.randn(2, rate * 4) * 0.1
            ref = float_model(x).logits
            quantization["maxAbsDiffVsFloat32"] = (exported(x)[0] - ref).abs().max().item()
            quantization["logitScale"] = ref.abs().max().item()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    exported.save(str(args.out))
    source = {
        "kind": "huggingface",
        "model": args.model,
        "modelClass": type(model).__name__,
        "exportedWith": {"torch": torch.__version__, "transformers": transformers.__version__},
        "trace": {"exampleShape": list(example.shape), "device": dev.type, "dtype": args.dtype, "checks": checks,
                  "foldedWeightNorms": folded},
        "featureExtractor": {
            "doNormalize": bool(getattr(feature_extractor, "do_normalize", False)),
            "normalizeEps": 1e-7,
            "returnAttentionMask": bool(getattr(feature_extractor, "return_attention_mask", False)),
        },
        "featExtractNorm": getattr(model.config, "feat_extract_norm", None),
    }
    if quantization:
        source["quantization"] = quantization
    manifest = build_manifest(model, tokenizer, feature_extractor, source)
    manifest["paddedBatchExact"] = padded_exact
    path = write_manifest(args.out, manifest)
    worst = max(c.get("maxAbsDiff", c.get("maxAbsDiffVsAlone")) for c in checks)
    print(f"wrote {args.out} and {path}: {len(manifest['labels'])} labels, traced model within {worst:.1e} of eager on {len(checks)} shapes")


if __name__ == "__main__":
    main()
