#!/usr/bin/env python3
"""torchaudio-named state dicts of the scripted fixture models, for building them natively from torchaudio's names.

    .venv/bin/python scripts/make_torchaudio_state_fixtures.py [FIXTURES_DIR] [OUT_DIR]
    (defaults: /work/shared/fixtures, else test/fixtures; test/fixtures/torchaudio-state)

For every TorchScript model in FIXTURES_DIR/manifest.json: torch.jit.load it, torch.save its state_dict() to
OUT_DIR/<name>.pth (a torch.save zip, what torchaudio's bundle URLs serve) and write OUT_DIR/<name>.json with the
model's construction parameters from the manifest (torchaudio's `wav2vec2_model` factory_kwargs for ta_*, the
Wav2Vec2Config kwargs for hf_*), so that a test can build it from those and compare with the stored outputs in
FIXTURES_DIR/outputs/<name>/. Models whose state dict is over MAX_BYTES are skipped (and listed) to keep the
repository small. hf_tiny_traced_tuple holds the same weights as hf_tiny_traced and is skipped as a duplicate.

ta_tiny_base_fairseq.pth is ta_tiny_base's state dict as torchaudio's bundle URLs ship an ASR checkpoint: the CTC
head ("aux") with three extra rows at 1, 2, 3 (fairseq's dictionary specials), which torchaudio's
`_remove_aux_axes` drops at load. A loader that removes them gives ta_tiny_base's stored outputs exactly.

Scripting folds the weight-norm parametrisation of the positional conv into a plain `weight` for the ta_*
models, so their state dicts name `encoder.transformer.pos_conv_embed.conv.weight`, not weight_g / weight_v.
"""
import hashlib
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
MAX_BYTES = 2_000_000
DUPLICATES = {"hf_tiny_traced_tuple": "hf_tiny_traced"}


def main(argv):
    shared = Path("/work/shared/fixtures")
    src = Path(argv[1]) if len(argv) > 1 else (shared if shared.exists() else ROOT / "test" / "fixtures")
    out = Path(argv[2]) if len(argv) > 2 else ROOT / "test" / "fixtures" / "torchaudio-state"
    out.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((src / "manifest.json").read_text())
    for name, entry in manifest["models"].items():
        if name in DUPLICATES:
            print(f"{name}: skipped, same weights as {DUPLICATES[name]}")
            continue
        scripted = torch.jit.load(str(src / entry["file"]), map_location="cpu")
        state = {k: v.detach().clone().contiguous() for k, v in scripted.state_dict().items()}
        path = out / f"{name}.pth"
        torch.save(state, path)
        size = path.stat().st_size
        if size > MAX_BYTES:
            path.unlink()
            print(f"{name}: skipped, its state dict is {size} bytes (limit {MAX_BYTES})")
            continue
        params = {k: entry[k] for k in ("kind", "factory_kwargs", "config_kwargs", "seed", "num_layers", "embed_dim",
                                        "num_labels", "note") if k in entry}
        params.update(source=entry["file"], outputs=f"outputs/{name}",
                      sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                      tensors={k: list(v.shape) for k, v in state.items()},
                      torch=torch.__version__)
        (out / f"{name}.json").write_text(json.dumps(params, indent=1) + "\n")
        print(f"{name}: {len(state)} tensors, {size} bytes")
        if name == "ta_tiny_base":
            write_fairseq_style(state, out / f"{name}_fairseq.pth")


def write_fairseq_style(state, path):
    """The state dict with fairseq's three unused CTC rows put back at 1, 2, 3 (seeded noise, never used)."""
    g = torch.Generator().manual_seed(7003)
    fair = dict(state)
    for key in ("aux.weight", "aux.bias"):
        mat = state[key]
        junk = torch.randn((3, *mat.shape[1:]), generator=g, dtype=mat.dtype)
        fair[key] = torch.cat([mat[:1], junk, mat[1:]]).contiguous()
    torch.save(fair, path)
    print(f"{path.name}: aux rows 1-3 added, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv)
