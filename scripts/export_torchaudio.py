#!/usr/bin/env python3
"""Export a torchaudio wav2vec2-family bundle as a TorchScript file plus its wav2vec2-node manifest.

    python scripts/export_torchaudio.py BUNDLE_NAME OUT.pt
    python scripts/export_torchaudio.py BUNDLE_NAME OUT.pt --manifest-only   # no torchaudio needed

With torchaudio installed: `bundle.get_model()` (torchaudio downloads and caches the weights), `torch.jit.script`,
save to OUT.pt, and write OUT.json (the manifest: labels, sample rate, blank, word delimiter, normalisation flag,
frame stride and receptive field, conv layout, convention "torchaudio", source).

Bundles whose waveform torchaudio layer-normalises (the LV60K, XLS-R, HuBERT large/xlarge, WavLM large ones) come
wrapped in a module that normalises the whole input tensor, padding and batch included. The wrapper is not exported:
the manifest says `normalizeWaveform: true` and wav2vec2-node normalises each item over its valid samples instead,
so an item gives the same result alone or in a padded batch.

--manifest-only writes only OUT.json, from the bundle facts in scripts/data/torchaudio-bundles.json (the same facts
lib/model/bundles-table.ts is generated from). It is what the tests run, since torchaudio is not installable everywhere.
"""
import argparse
import json
import sys
from pathlib import Path

from model_manifest import MANIFEST_FORMAT, receptive_field, write_manifest

ROOT = Path(__file__).resolve().parent.parent
FACTS = ROOT / "scripts" / "data" / "torchaudio-bundles.json"




def manifest_from_facts(facts: dict, source: dict) -> dict:
    """The manifest for a bundle, from its facts in the shape of scripts/data/torchaudio-bundles.json."""
    params = facts["params"]
    conv_layers = [[int(k), int(s)] for _, k, s in params["extractor_conv_layer_config"]]
    stride = 1
    for _, s in conv_layers:
        stride *= s
    manifest = {"format": MANIFEST_FORMAT}
    labels = facts.get("labels")
    if labels:
        manifest["labels"] = list(labels)
    manifest["sampleRate"] = int(facts["sample_rate"])
    if labels:
        # torchaudio's get_labels(blank="-") puts the blank first and the word delimiter "|" second.
        manifest["blank"] = labels.index("-")
        manifest["wordDelimiter"] = "|"
    manifest.update({
        "normalizeWaveform": bool(facts["normalize_waveform"]),
        "frameStride": stride,
        "receptiveField": receptive_field(conv_layers),
        "convLayers": conv_layers,
        "convention": "torchaudio",
        "numLayers": int(params["encoder_num_layers"]),
        "numHeads": int(params["encoder_num_heads"]),
        "embedDim": int(params["encoder_embed_dim"]),
        "source": source,
    })
    return manifest


def facts_from_table(name: str) -> dict:
    table = json.loads(FACTS.read_text())
    for b in table["bundles"]:
        if b["name"] == name:
            return b
    names = ", ".join(b["name"] for b in table["bundles"])
    sys.exit(f"error: unknown bundle {name!r}. Known: {names}")


def facts_from_torchaudio(bundle, name: str) -> dict:
    """The same facts, read from a live torchaudio bundle."""
    return {
        "name": name,
        "labels": list(bundle.get_labels()) if hasattr(bundle, "get_labels") else None,
        "sample_rate": bundle.sample_rate,
        "normalize_waveform": bool(getattr(bundle, "_normalize_waveform", False)),
        "params": {k: (list(map(list, v)) if k == "extractor_conv_layer_config" else v) for k, v in bundle._params.items()},
        "path": getattr(bundle, "_path", None),
    }


def export_model(name: str, out: Path) -> None:
    import importlib.util

    try:
        # Look before importing: importing torch alone takes seconds, and it is torchaudio that is usually missing.
        if importlib.util.find_spec("torchaudio") is None:
            raise ImportError("No module named 'torchaudio'")
        import torch
        import torchaudio
    except ImportError as err:
        sys.exit(f"error: exporting the model needs torch and torchaudio ({err}). Install them (pip install torch torchaudio), "
                 "or run with --manifest-only to write only the manifest.")
    bundle = getattr(torchaudio.pipelines, name, None)
    if bundle is None:
        sys.exit(f"error: torchaudio {torchaudio.__version__} has no pipelines.{name}")
    facts = facts_from_torchaudio(bundle, name)
    model = bundle.get_model().eval()
    inner = getattr(model, "model", None)
    if inner is not None and hasattr(model, "normalize_waveform"):
        # torchaudio's _Wav2Vec2Model wrapper: normalisation (whole tensor), optional log_softmax and star column.
        if getattr(model, "apply_log_softmax", False) or getattr(model, "append_star", False):
            sys.exit(f"error: {name} applies log_softmax / a star token in its wrapper, which this exporter does not reproduce")
        model = inner
    scripted = torch.jit.script(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    scripted.save(str(out))
    # Check the saved file against the eager model on one waveform (normalised here when the bundle says so).
    reloaded = torch.jit.load(str(out))
    with torch.inference_mode():
        x = torch.randn(1, 16000) * 0.1
        if facts["normalize_waveform"]:
            x = torch.nn.functional.layer_norm(x, x.shape)
        diff = (reloaded(x)[0] - model(x)[0]).abs().max().item()
    source = {
        "kind": "torchaudio",
        "bundle": name,
        "checkpoint": facts["path"],
        "exportedWith": {"torch": torch.__version__, "torchaudio": torchaudio.__version__},
        "checkMaxAbsDiff": diff,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    path = write_manifest(out, manifest_from_facts(facts, source))
    print(f"wrote {out} and {path} (reloaded vs eager: max abs diff {diff:.2e})")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bundle", help="torchaudio.pipelines name, e.g. WAV2VEC2_ASR_BASE_960H")
    ap.add_argument("out", type=Path, help="output .pt file; the manifest goes to the same name with .json")
    ap.add_argument("--manifest-only", action="store_true", help="write only the manifest, from the bundle facts table")
    args = ap.parse_args(argv)
    name = args.bundle.upper()
    if args.manifest_only:
        facts = facts_from_table(name)
        source = {"kind": "torchaudio", "bundle": name, "checkpoint": facts["path"], "facts": "scripts/data/torchaudio-bundles.json"}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        path = write_manifest(args.out, manifest_from_facts(facts, source))
        print(f"wrote {path}")
    else:
        export_model(name, args.out)


if __name__ == "__main__":
    main()
