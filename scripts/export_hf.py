#!/usr/bin/env python3
"""Export a Hugging Face CTC model (Wav2Vec2ForCTC, HubertForCTC, WavLMForCTC, ...) as traced TorchScript plus
its wav2vec2-node manifest.

    python scripts/export_hf.py MODEL_DIR_OR_ID OUT.pt [--example-seconds 1.25]

The model is wrapped to return the logits tensor and traced with `torch.jit.trace_module`; the trace takes a float32
[batch, samples] waveform of any batch size and length. A second traced method, `extract_features(waveforms)`,
returns the output of every transformer layer (Hugging Face's `hidden_states[1:]`), which loadModel's
`extractFeatures` serves (keeping the first `numLayers`). For pre-LN models (do_stable_layer_norm), the last
layer's output includes the encoder's final layer norm, as Hugging Face's hidden_states do. The script proves that by comparing the traced model with
the eager one on shapes other than the example's, and refuses to write a trace that does not match.

The manifest (OUT.json) gets: labels from the tokenizer's vocabulary (index = class id), blank = the pad token id
(the CTC blank of Hugging Face's CTC heads), word delimiter "|", sample rate and normalisation from the feature
extractor, the conv layout from config.conv_kernel / conv_stride, convention "traced", layer and head counts.

Notes for users:
- The feature extractor normalises with eps 1e-7 (recorded under source.featureExtractor); torchaudio bundles use 1e-5.
- A traced model takes no attention mask. Models with feat_extract_norm == "layer" (e.g. large-lv60) were trained
  with one: run their items at equal lengths (or one at a time) rather than zero-padded in a batch.
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
        "convention": "traced",
        "numLayers": int(config.num_hidden_layers),
        "numHeads": int(config.num_attention_heads),
        "embedDim": int(config.hidden_size),
        "source": source,
    })
    return manifest


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="a local directory saved with save_pretrained, or a Hugging Face model id")
    ap.add_argument("out", type=Path, help="output .pt file; the manifest goes to the same name with .json")
    ap.add_argument("--example-seconds", type=float, default=1.25, help="length of the tracing example (default 1.25 s)")
    args = ap.parse_args(argv)

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

    class Logits(torch.nn.Module):
        """forward(waveforms [B, T]) -> logits [B, frames, classes]: one tensor in, one out."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, waveforms):
            return self.inner(waveforms).logits

        def extract_features(self, waveforms):
            base = getattr(self.inner, self.inner.base_model_prefix)
            return tuple(base(waveforms, output_hidden_states=True).hidden_states[1:])

    wrapper = Logits(model).eval()
    example = torch.randn(2, int(rate * args.example_seconds)) * 0.1
    with torch.inference_mode(False), torch.no_grad():
        traced = torch.jit.trace_module(wrapper, {"forward": example, "extract_features": example}, check_trace=False)

    # A trace records one run; prove it generalises to other batch sizes and lengths before writing it.
    checks = []
    with torch.no_grad():
        for shape in [(1, int(rate * 0.77) + 3), (3, int(rate * 1.9) + 1), tuple(example.shape)]:
            x = torch.randn(*shape) * 0.1
            diff = (traced(x) - wrapper(x)).abs().max().item()
            feats = zip(traced.extract_features(x), wrapper.extract_features(x))
            diff = max([diff] + [(a - b).abs().max().item() for a, b in feats])
            checks.append({"shape": list(shape), "maxAbsDiff": diff})
            if not diff <= CHECK_TOLERANCE:
                sys.exit(f"error: the traced model differs from the eager one by {diff:g} on input shape {list(shape)}; not saved")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    traced.save(str(args.out))
    source = {
        "kind": "huggingface",
        "model": args.model,
        "modelClass": type(model).__name__,
        "exportedWith": {"torch": torch.__version__, "transformers": transformers.__version__},
        "trace": {"exampleShape": list(example.shape), "checks": checks},
        "featureExtractor": {
            "doNormalize": bool(getattr(feature_extractor, "do_normalize", False)),
            "normalizeEps": 1e-7,
            "returnAttentionMask": bool(getattr(feature_extractor, "return_attention_mask", False)),
        },
        "featExtractNorm": getattr(model.config, "feat_extract_norm", None),
    }
    manifest = build_manifest(model, tokenizer, feature_extractor, source)
    path = write_manifest(args.out, manifest)
    worst = max(c["maxAbsDiff"] for c in checks)
    print(f"wrote {args.out} and {path}: {len(manifest['labels'])} labels, traced model within {worst:.1e} of eager on {len(checks)} shapes")


if __name__ == "__main__":
    main()
