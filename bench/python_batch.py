"""The Python side of bench/batch.ts: the simple loop a Python user writes over a folder of files with the same
TorchScript model. Per file: soundfile.read, mono, torchaudio.functional.resample to 16 kHz (ported below: torchaudio
cannot be installed here), the model's layer normalisation, model(x) on the whole file, greedy CTC decoding.

  python bench/python_batch.py MODEL.pt MANIFEST.json THREADS FILE_LIST OUT.jsonl
Prints one JSON line: {"seconds": wall time of the loop, "audio_seconds": ..., "files": n}.
"""
import json
import math
import sys
import time

import numpy as np
import soundfile as sf
import torch


def sinc_resample(x: torch.Tensor, orig: int, new: int) -> torch.Tensor:
    """torchaudio.functional.resample (sinc_interp_hann, width 6, rolloff 0.99), same arithmetic."""
    if orig == new:
        return x
    g = math.gcd(orig, new)
    o, n = orig // g, new // g
    base = min(o, n) * 0.99
    width = math.ceil(6 * o / base)
    idx = torch.arange(-width, width + o, dtype=x.dtype)[None, None] / o
    t = torch.arange(0, -n, -1, dtype=x.dtype)[:, None, None] / n + idx
    t *= base
    t = t.clamp_(-6, 6)
    window = torch.cos(t * math.pi / 6 / 2) ** 2
    t *= math.pi
    kernels = torch.where(t == 0, torch.tensor(1.0).to(t), t.sin() / t)
    kernels *= window * (base / o)
    length = x.shape[-1]
    y = torch.nn.functional.pad(x[None], (width, width + o))
    y = torch.nn.functional.conv1d(y[:, None], kernels, stride=o)
    y = y.transpose(1, 2).reshape(1, -1)
    return y[0, : int(math.ceil(n * length / o))]


def main():
    model_path, manifest_path, threads, list_path, out_path = sys.argv[1:6]
    torch.set_num_threads(int(threads))
    manifest = json.load(open(manifest_path))
    labels = manifest["labels"]
    eps = manifest.get("normalizeEps", 1e-5)
    model = torch.jit.load(model_path, map_location="cpu").eval()
    files = [line.strip() for line in open(list_path) if line.strip()]
    audio = 0.0
    t0 = time.perf_counter()
    with open(out_path, "w") as out, torch.inference_mode():
        for f in files:
            data, rate = sf.read(f, dtype="float32", always_2d=True)
            x = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))
            x = sinc_resample(x, rate, 16000)
            audio += x.shape[0] / 16000
            if manifest.get("normalizeWaveform"):
                x = torch.nn.functional.layer_norm(x, x.shape, eps=eps)
            logits = model(x[None])
            if isinstance(logits, dict):
                logits = logits["logits"]
            elif isinstance(logits, (tuple, list)):
                logits = logits[0]
            ids = torch.unique_consecutive(logits[0].argmax(-1)).tolist()
            text = "".join(labels[i] for i in ids if i != manifest.get("blank", 0))
            out.write(json.dumps({"file": f, "text": " ".join(w for w in text.split("|") if w)}) + "\n")
    print(json.dumps({"seconds": time.perf_counter() - t0, "audio_seconds": audio, "files": len(files)}))


if __name__ == "__main__":
    main()
