"""Builds the benchmark models: Hugging Face Wav2Vec2ForCTC with random weights in the real layouts, saved as
a Hugging Face folder and exported to TorchScript by scripts/export_hf.py (so the benchmark measures what
users run). No pretrained weights are involved.

    python scripts/make_bench_models.py base   -> bench/models/base.pt  (+ base.json, base-hf/)
    python scripts/make_bench_models.py large  -> bench/models/large.pt (+ large.json, large-hf/)
    python scripts/make_bench_models.py tiny   -> bench/models/tiny.pt  (for `npm run bench -- --quick`)
Each also gets <name>.onnx (scripts/export_onnx.py) for the onnxruntime-node runs when the `onnx` package is
installed; `--no-onnx` skips it.

base:  wav2vec2-base layout (group-norm conv extractor, post-LN encoder, 768 x 12 layers, 12 heads), 94.4M params
large: wav2vec2-large-lv60 layout (layer-norm conv extractor, pre-LN encoder, 1024 x 24 layers, 16 heads), 315M params
"""
import json
import os
import subprocess
import sys

import torch
from transformers import Wav2Vec2Config, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "models")

# The 29 labels of torchaudio's WAV2VEC2_ASR_BASE_960H (blank '-' first, '|' word delimiter), plus <unk>.
LABELS = ["-", "|", "E", "T", "A", "O", "N", "I", "H", "S", "R", "D", "L", "U", "M", "W", "C", "F", "G", "Y", "P", "B", "V", "K", "'", "X", "J", "Q", "Z"]

LAYOUTS = {
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                 conv_dim=(32,) * 7, feat_extract_norm="group", do_stable_layer_norm=False, conv_bias=False),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                 feat_extract_norm="group", do_stable_layer_norm=False, conv_bias=False),
    "large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                  feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True),
}


def save_hf(name, hf_dir):
    """The Hugging Face folder alone (scripts/gpu-check makes one on the GPU machine, where nothing is exported)."""
    torch.manual_seed({"tiny": 1000, "base": 1001, "large": 1002}[name])
    config = Wav2Vec2Config(vocab_size=len(LABELS), pad_token_id=0, **LAYOUTS[name])
    model = Wav2Vec2ForCTC(config).eval()
    model.save_pretrained(hf_dir)
    # Tokenizer and feature extractor as a real checkpoint has them, so export_hf.py reads labels the usual way.
    # do_normalize=False: the benchmark feeds both runtimes the same raw waveform.
    vocab_file = os.path.join(hf_dir, "vocab.json")
    with open(vocab_file, "w") as f:
        json.dump({label: i for i, label in enumerate(LABELS)}, f)
    Wav2Vec2CTCTokenizer(vocab_file, pad_token="-", unk_token="<unk>", word_delimiter_token="|").save_pretrained(hf_dir)
    Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=False).save_pretrained(hf_dir)
    params = sum(p.numel() for p in model.parameters())
    print(f"{name}: {params / 1e6:.1f}M parameters -> {hf_dir}", flush=True)


def build(name, onnx=True):
    os.makedirs(OUT, exist_ok=True)
    hf_dir = os.path.join(OUT, f"{name}-hf")
    save_hf(name, hf_dir)
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "export_hf.py"), hf_dir, os.path.join(OUT, f"{name}.pt")], check=True)
    if onnx:
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "export_onnx.py"), hf_dir, os.path.join(OUT, f"{name}.onnx")], check=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    onnx = "--no-onnx" not in args
    names = [a for a in args if a != "--no-onnx"] or ["base"]
    for n in names:
        if n not in LAYOUTS:
            sys.exit(f"unknown layout {n}; choose from {', '.join(LAYOUTS)}")
        build(n, onnx)
