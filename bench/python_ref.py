"""The Python reference for benchmarks: torch.jit.load + inference_mode, driven over stdin/stdout so that a
Node benchmark can interleave its runs with ours on the same files, inputs and thread count.

Protocol: one JSON object per line in, one per line out (the same as bench/workers/*.ts).
  {"cmd": "load", "path": "m.pt", "threads": 2, "device": "cpu"}   -> {"ok": true, "convention": "torchaudio"|"traced"}
  {"cmd": "run", "input": "x.f32", "shape": [B, T], "lengths": [..]|null, "out": "y.f32"|null}
                                                                     -> {"ok": true, "ms": 123.4, "shape": [B, F, C], "rssPeakMB": ..}
  {"cmd": "e2e", "file": "a.wav", "normalize": true, "labels": [...]} -> {"ok": true, "ms": .., "text": ".."}
      file -> soundfile decode -> mono -> resample to 16 kHz (torchaudio's resample; our transcription of it in
      scripts/make_resample_fixtures.py when torchaudio is absent) -> normalise -> model -> greedy CTC
  {"cmd": "flops", "shape": [B, T]}                                -> {"ok": true, "gflop": .., "byOp": {op: gflop}}
      the loaded model's floating-point operations on that input, counted by torch.utils.flop_counter
      (convolutions, matrix multiplies, attention; element-wise work is not counted)
  {"cmd": "peak", "threads": 2, "dtype": "float32"}                  -> {"ok": true, "gflops": .., "shape": [M, K, N], "kernel": ..}
      the best matrix-multiply rate of that precision (float32, bfloat16 or int8) on these cores at that thread
      count (MKL's and oneDNN's kernels, int8 through torch._int_mm; large model-like shapes): with the flop
      count, a lower bound for a runtime using these kernels
  {"cmd": "quit"}
Inputs and outputs are raw little-endian float32 files.
"""
import json
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def count_flops(model, convention, shape, device):
    from torch.utils.flop_counter import FlopCounterMode

    # LibTorch's CPU attention kernel is not in the counter's table (a decomposed scaled_dot_product_attention
    # lands on it): Q K^T and the weighted sum of V, 2 flops per multiply-add each.
    def attention(q, k, v, *args, out_shape=None, **kwargs):
        b, h, tq, d = q
        return 2 * b * h * tq * k[-2] * d + 2 * b * h * tq * k[-2] * v[-1]

    mapping = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: attention}
    x = torch.zeros(shape, device=device)
    with torch.inference_mode(), FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        model(x, None) if convention == "torchaudio" else model(x)
    by_op = {str(op): n / 1e9 for op, n in counter.get_flop_counts()["Global"].items()}
    return {"gflop": counter.get_total_flops() / 1e9, "byOp": by_op}


def gemm_peak(threads, dtype="float32"):
    """The best matrix-multiply rate of one precision on these cores: the ceiling each configuration is held to."""
    torch.set_num_threads(threads)
    onednn = getattr(torch.ops.mkldnn, "_linear_pointwise", None) if torch.backends.mkldnn.is_available() else None
    best = {"gflops": 0.0}
    with torch.inference_mode():
        # a square one and the shapes of wav2vec2's layers (feed-forward both ways, a 3-tap convolution as GEMM)
        for m, k, n in [(2048, 2048, 2048), (4096, 768, 3072), (4096, 3072, 768), (16000, 1536, 512)]:
            for name, f in gemm_kernels(dtype, onednn, m, k, n):
                f()
                times = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    f()
                    times.append(time.perf_counter() - t0)
                rate = 2 * m * k * n / sorted(times)[2] / 1e9
                if rate > best["gflops"]:
                    best = {"gflops": rate, "shape": [m, k, n], "kernel": name}
    return best


def gemm_kernels(dtype, onednn, m, k, n):
    if dtype == "int8":
        # int8 x int8 -> int32 (VNNI where the CPU has it): the int8 paths' ceiling
        a, w = torch.randint(-128, 127, (m, k), dtype=torch.int8), torch.randint(-128, 127, (k, n), dtype=torch.int8)
        return [("int8 GEMM (torch._int_mm)", lambda: torch._int_mm(a, w))]
    t = torch.bfloat16 if dtype == "bfloat16" else torch.float32
    a, w = torch.randn(m, k).to(t), torch.randn(n, k).to(t)
    kernels = [(f"{'MKL sgemm' if t == torch.float32 else 'bf16 GEMM'} (torch.mm)", lambda: torch.mm(a, w.t()))]
    if onednn is not None:
        packed = torch.ops.mkldnn._reorder_linear_weight(w, None)
        kernels.append(("oneDNN matmul (mkldnn._linear_pointwise)", lambda: onednn(a, w, None, "none", [], None)))
        kernels.append(("oneDNN matmul, reordered weights", lambda: onednn(a, packed, None, "none", [], None)))
    return kernels


def resampler():
    try:
        import torchaudio.functional as F
        return F.resample
    except ImportError:
        from make_resample_fixtures import resample
        return resample


def main():
    model = None
    convention = None
    device = "cpu"
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if req["cmd"] == "load":
                torch.set_num_threads(int(req["threads"]))
                device = req.get("device") or "cpu"
                model = torch.jit.load(req["path"], map_location=device).eval()
                args = model.forward.schema.arguments
                convention = "torchaudio" if len(args) >= 3 else "traced"
                reply = {"ok": True, "convention": convention}
            elif req["cmd"] == "run":
                x = torch.from_numpy(np.fromfile(req["input"], dtype="<f4").reshape(req["shape"]))
                lengths = torch.tensor(req["lengths"], dtype=torch.int64) if req.get("lengths") else None
                with torch.inference_mode():
                    t0 = time.perf_counter()
                    x = x.to(device)
                    out = model(x, lengths) if convention == "torchaudio" else model(x)
                    if isinstance(out, dict):
                        out = out["logits"]
                    elif isinstance(out, (tuple, list)):
                        out = out[0]
                    out = out.cpu()
                    ms = (time.perf_counter() - t0) * 1000
                if req.get("out"):
                    out.contiguous().numpy().astype("<f4").tofile(req["out"])
                reply = {"ok": True, "ms": ms, "shape": list(out.shape), "rssPeakMB": peak_rss_mb()}
            elif req["cmd"] == "e2e":
                import soundfile as sf
                resample = resampler()
                t0 = time.perf_counter()
                audio, rate = sf.read(req["file"], dtype="float32", always_2d=True)
                x = torch.from_numpy(audio.mean(axis=1) if audio.shape[1] > 1 else audio[:, 0])
                if rate != 16000:
                    x = resample(x, rate, 16000)
                if req.get("normalize"):
                    x = (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-7)
                with torch.inference_mode():
                    out = model(x[None].to(device))
                    if isinstance(out, dict):
                        out = out["logits"]
                    elif isinstance(out, (tuple, list)):
                        out = out[0]
                    ids = torch.unique_consecutive(out[0].argmax(-1)).tolist()
                labels = req["labels"]
                text = " ".join("".join(labels[i] for i in ids if i != 0).split("|")).strip()
                text = " ".join(text.split())
                ms = (time.perf_counter() - t0) * 1000
                reply = {"ok": True, "ms": ms, "text": text, "rssPeakMB": peak_rss_mb()}
            elif req["cmd"] == "flops":
                reply = {"ok": True, **count_flops(model, convention, req["shape"], device)}
            elif req["cmd"] == "peak":
                threads = torch.get_num_threads()
                try:
                    reply = {"ok": True, **gemm_peak(int(req["threads"]), req.get("dtype", "float32"))}
                finally:
                    torch.set_num_threads(threads)
            elif req["cmd"] == "quit":
                return
            else:
                reply = {"ok": False, "error": "unknown command " + str(req["cmd"])}
        except Exception as e:  # report, keep serving
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
