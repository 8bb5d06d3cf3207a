"""The Python reference for benchmarks: torch.jit.load + inference_mode, driven over stdin/stdout so that a
Node benchmark can interleave its runs with ours on the same files, inputs and thread count.

Protocol: one JSON object per line in, one per line out.
  {"cmd": "load", "path": "m.pt", "threads": 2}                     -> {"ok": true, "convention": "torchaudio"|"traced"}
  {"cmd": "run", "input": "x.f32", "shape": [B, T], "lengths": [..]|null, "out": "y.f32"|null}
                                                                     -> {"ok": true, "ms": 123.4, "shape": [B, F, C]}
  {"cmd": "quit"}
Inputs and outputs are raw little-endian float32 files.
"""
import json
import sys
import time

import numpy as np
import torch


def main():
    model = None
    convention = None
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if req["cmd"] == "load":
                torch.set_num_threads(int(req["threads"]))
                model = torch.jit.load(req["path"], map_location="cpu").eval()
                args = model.forward.schema.arguments
                convention = "torchaudio" if len(args) >= 3 else "traced"
                reply = {"ok": True, "convention": convention}
            elif req["cmd"] == "run":
                x = torch.from_numpy(np.fromfile(req["input"], dtype="<f4").reshape(req["shape"]))
                lengths = torch.tensor(req["lengths"], dtype=torch.int64) if req.get("lengths") else None
                with torch.inference_mode():
                    t0 = time.perf_counter()
                    out = model(x, lengths) if convention == "torchaudio" else model(x)
                    ms = (time.perf_counter() - t0) * 1000
                if isinstance(out, dict):
                    out = out["logits"]
                elif isinstance(out, (tuple, list)):
                    out = out[0]
                if req.get("out"):
                    out.contiguous().numpy().astype("<f4").tofile(req["out"])
                reply = {"ok": True, "ms": ms, "shape": list(out.shape)}
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
