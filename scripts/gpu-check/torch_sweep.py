"""The Python side of the GPU check (scripts/gpu-check/run.sh): makes the sweep's model and times PyTorch eager on it.

    python3 torch_sweep.py make LAYOUT DIR       Hugging Face folder with random weights (scripts/make_bench_models.py)
    python3 torch_sweep.py sweep DIR OUT.json --device cuda --dtypes float32,float16 --batches 1,2 --seconds 10
                           [--warmup 2] [--reps 5] [--deadline EPOCH_SECONDS]

The sweep runs transformers' Wav2Vec2ForCTC in eager mode (no torch.compile) as a user would: a float32 batch on the
host goes to the device in the model's dtype, the logits come back as float32 on the host, so each timed run holds
the same copies as this package's forward(). Cases not started before the deadline are reported as skipped.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from make_bench_models import save_hf  # noqa: E402

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def past(deadline):
    return bool(deadline) and time.time() > deadline


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_case(model, device, dtype, batch, seconds, warmup, reps):
    # Content does not change the work of a dense network: seeded noise at speech-like level.
    x = torch.randn(batch, int(seconds * 16000), generator=torch.Generator().manual_seed(batch)) * 0.1
    ms = []
    with torch.inference_mode():
        for i in range(warmup + reps):
            sync(device)
            t0 = time.perf_counter()
            logits = model(x.to(device=device, dtype=dtype)).logits.float().cpu()
            t1 = time.perf_counter()
            if i >= warmup:
                ms.append((t1 - t0) * 1000)
    assert logits.shape[0] == batch
    return ms


def sweep(args):
    from transformers import Wav2Vec2ForCTC

    out = {"runtime": f"PyTorch {torch.__version__} eager (transformers Wav2Vec2ForCTC)", "device": args.device,
           "gpu": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None,
           # Left at their defaults, which LibTorch shares: TF32 in cuDNN's convolutions, not in float32 matmuls.
           "float32_matmul_precision": torch.get_float32_matmul_precision(), "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
           "cases": []}
    if args.device == "cpu":
        # The smoke run only: on CPUs NNPACK does not support, torch warns once per convolution (as our addon avoids).
        torch.backends.nnpack.set_flags(False)
    batches = [int(b) for b in args.batches.split(",")]
    for name in args.dtypes.split(","):
        if past(args.deadline):
            out["cases"] += [{"dtype": name, "batch": b, "seconds": args.seconds, "skipped": "time budget spent"} for b in batches]
            continue
        model = Wav2Vec2ForCTC.from_pretrained(args.dir, dtype=DTYPES[name]).to(args.device).eval()
        out["attention"] = getattr(model.config, "_attn_implementation", None)
        for batch in batches:
            case = {"dtype": name, "batch": batch, "seconds": args.seconds}
            if past(args.deadline):
                case["skipped"] = "time budget spent"
            else:
                ms = time_case(model, args.device, DTYPES[name], batch, args.seconds, args.warmup, args.reps)
                case.update(ms=ms, median_ms=statistics.median(ms))
            out["cases"].append(case)
            print(f"torch {name} batch {batch}: {case.get('median_ms', case.get('skipped'))}", flush=True)
        del model
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    make = sub.add_parser("make")
    make.add_argument("layout")
    make.add_argument("dir")
    s = sub.add_parser("sweep")
    s.add_argument("dir")
    s.add_argument("out")
    s.add_argument("--device", default="cuda")
    s.add_argument("--dtypes", default="float32,float16,bfloat16")
    s.add_argument("--batches", default="1,2,4,8,16")
    s.add_argument("--seconds", type=float, default=10)
    s.add_argument("--warmup", type=int, default=2)
    s.add_argument("--reps", type=int, default=5)
    s.add_argument("--deadline", type=float, default=0)
    args = p.parse_args()
    if args.cmd == "make":
        save_hf(args.layout, args.dir)
    else:
        sweep(args)


if __name__ == "__main__":
    main()
