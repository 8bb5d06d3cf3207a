#!/usr/bin/env python3
"""Float64 (and a few float32) reference outputs of torchaudio's resample, for test/audio/resample.test.ts.

torchaudio is not installable here, but its resample is pure torch code, so the three functions below are a
transcription of it (only the deprecated method-name warning and the error texts are shortened). Source:
pytorch/audio, src/torchaudio/functional/functional.py, commit b29b6ad97020c7ac98fdcad7c4d83492996322d0
(BSD-2-Clause, Copyright (c) 2017 Facebook Inc. (Soumith Chintala)): `_get_sinc_resample_kernel`,
`_apply_sinc_resample_kernel`, `resample`.

Before writing anything, the transcription is checked against the float32 fixtures in test/fixtures/resample,
which were made by torchaudio's own code: every case must reproduce them bit for bit.

Usage: .venv/bin/python scripts/make_resample_fixtures.py [OUT_DIR]   (default test/fixtures/resample64)
Writes OUT_DIR/manifest.json and raw little-endian .bin files. To add a rate pair, add it to CASES. Float32 cases
(FLOAT32_CASES) run the same code in float32, as torchaudio does for float32 waveforms; the shared fixtures have no
rate pair with a kernel as long as 11025 -> 16000 (455 taps), where torchaudio's own float32 rounding is largest.
"""
import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Optional

import torch

ROOT = Path(__file__).resolve().parent.parent
TORCHAUDIO_COMMIT = "b29b6ad97020c7ac98fdcad7c4d83492996322d0"


# ---- transcribed from torchaudio (see the module docstring) -------------------------------------------------
def _get_sinc_resample_kernel(
    orig_freq: int,
    new_freq: int,
    gcd: int,
    lowpass_filter_width: int = 6,
    rolloff: float = 0.99,
    resampling_method: str = "sinc_interp_hann",
    beta: Optional[float] = None,
    device: torch.device = torch.device("cpu"),
    dtype: Optional[torch.dtype] = None,
):
    if not (int(orig_freq) == orig_freq and int(new_freq) == new_freq):
        raise Exception("Frequencies must be of integer type to ensure quality resampling computation.")

    if resampling_method in ["sinc_interpolation", "kaiser_window"]:
        method_map = {
            "sinc_interpolation": "sinc_interp_hann",
            "kaiser_window": "sinc_interp_kaiser",
        }
        resampling_method = method_map[resampling_method]
    elif resampling_method not in ["sinc_interp_hann", "sinc_interp_kaiser"]:
        raise ValueError("Invalid resampling method: {}".format(resampling_method))

    orig_freq = int(orig_freq) // gcd
    new_freq = int(new_freq) // gcd

    if lowpass_filter_width <= 0:
        raise ValueError("Low pass filter width should be positive.")
    base_freq = min(orig_freq, new_freq)
    base_freq *= rolloff

    width = math.ceil(lowpass_filter_width * orig_freq / base_freq)
    idx_dtype = dtype if dtype is not None else torch.float64

    idx = torch.arange(-width, width + orig_freq, dtype=idx_dtype, device=device)[None, None] / orig_freq

    t = torch.arange(0, -new_freq, -1, dtype=dtype, device=device)[:, None, None] / new_freq + idx
    t *= base_freq
    t = t.clamp_(-lowpass_filter_width, lowpass_filter_width)

    if resampling_method == "sinc_interp_hann":
        window = torch.cos(t * math.pi / lowpass_filter_width / 2) ** 2
    else:
        # sinc_interp_kaiser
        if beta is None:
            beta = 14.769656459379492
        beta_tensor = torch.tensor(float(beta))
        window = torch.i0(beta_tensor * torch.sqrt(1 - (t / lowpass_filter_width) ** 2)) / torch.i0(beta_tensor)

    t *= math.pi

    scale = base_freq / orig_freq
    kernels = torch.where(t == 0, torch.tensor(1.0).to(t), t.sin() / t)
    kernels *= window * scale

    if dtype is None:
        kernels = kernels.to(dtype=torch.float32)

    return kernels, width


def _apply_sinc_resample_kernel(
    waveform: torch.Tensor,
    orig_freq: int,
    new_freq: int,
    gcd: int,
    kernel: torch.Tensor,
    width: int,
):
    if not waveform.is_floating_point():
        raise TypeError(f"Expected floating point type for waveform tensor, but received {waveform.dtype}.")

    orig_freq = int(orig_freq) // gcd
    new_freq = int(new_freq) // gcd

    # pack batch
    shape = waveform.size()
    waveform = waveform.view(-1, shape[-1])

    num_wavs, length = waveform.shape
    waveform = torch.nn.functional.pad(waveform, (width, width + orig_freq))
    resampled = torch.nn.functional.conv1d(waveform[:, None], kernel, stride=orig_freq)
    resampled = resampled.transpose(1, 2).reshape(num_wavs, -1)
    target_length = torch.ceil(torch.as_tensor(new_freq * length / orig_freq)).long()
    resampled = resampled[..., :target_length]

    # unpack batch
    resampled = resampled.view(shape[:-1] + resampled.shape[-1:])
    return resampled


def resample(
    waveform: torch.Tensor,
    orig_freq: int,
    new_freq: int,
    lowpass_filter_width: int = 6,
    rolloff: float = 0.99,
    resampling_method: str = "sinc_interp_hann",
    beta: Optional[float] = None,
) -> torch.Tensor:
    if orig_freq <= 0.0 or new_freq <= 0.0:
        raise ValueError("Original frequency and desired frequecy should be positive")

    if orig_freq == new_freq:
        return waveform

    gcd = math.gcd(int(orig_freq), int(new_freq))

    kernel, width = _get_sinc_resample_kernel(
        orig_freq,
        new_freq,
        gcd,
        lowpass_filter_width,
        rolloff,
        resampling_method,
        beta,
        waveform.device,
        waveform.dtype,
    )
    resampled = _apply_sinc_resample_kernel(waveform, orig_freq, new_freq, gcd, kernel, width)
    return resampled


# ---- end of transcription ---------------------------------------------------------------------------------------

# name, orig, new, params, input samples (short: the whole set stays well under 1 MB), channels
CASES = [
    ("11025_to_16000", 11025, 16000, {}, 2205, 1),
    ("22050_to_16000", 22050, 16000, {}, 4410, 1),
    ("44100_to_16000_stereo", 44100, 16000, {}, 4410, 2),
    ("48000_to_16000", 48000, 16000, {}, 4800, 1),
    ("8000_to_16000", 8000, 16000, {}, 1600, 1),
    ("16000_to_16000", 16000, 16000, {}, 1000, 1),
    ("32000_to_16000_w12_r095", 32000, 16000, {"lowpass_filter_width": 12, "rolloff": 0.95}, 3200, 1),
    ("44100_to_16000_kaiser", 44100, 16000, {"resampling_method": "sinc_interp_kaiser"}, 4410, 1),
    ("48000_to_16000_kaiser_b8_w16_r085", 48000, 16000, {"lowpass_filter_width": 16, "rolloff": 0.85, "resampling_method": "sinc_interp_kaiser", "beta": 8.0}, 4800, 1),
    ("16000_to_44100", 16000, 44100, {}, 1600, 1),
    ("44100_to_16000_n7", 44100, 16000, {}, 7, 1),
    ("8000_to_16000_n1", 8000, 16000, {}, 1, 1),
]


# Cases (by name) also written in float32: input = the float64 input rounded, output = torchaudio's float32 path.
FLOAT32_CASES = {"11025_to_16000", "22050_to_16000", "44100_to_16000_kaiser"}


def signal(n: int, channels: int, rate: int, seed: int) -> torch.Tensor:
    """Sines near and above the target Nyquist (so the filter's stop band matters) plus noise."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n, dtype=torch.float64) / rate
    out = []
    for c in range(channels):
        x = 0.3 * torch.sin(2 * math.pi * (220.0 + 50 * c) * t)
        x += 0.2 * torch.sin(2 * math.pi * 3100.0 * t + 0.3)
        x += 0.1 * torch.sin(2 * math.pi * min(7900.0, 0.45 * rate) * t)
        x += 0.05 * torch.randn(n, dtype=torch.float64, generator=g)
        out.append(x)
    x = torch.stack(out)
    return x[0] if channels == 1 else x


def write(path: Path, x: torch.Tensor) -> dict:
    dtype = {torch.float64: ("<f8", "float64"), torch.float32: ("<f4", "float32")}[x.dtype]
    data = x.contiguous().numpy().astype(dtype[0]).tobytes()
    path.write_bytes(data)
    return {"file": path.name, "dtype": dtype[1], "shape": list(x.shape), "sha256": hashlib.sha256(data).hexdigest()}


def check_against_torchaudio_fixtures() -> float:
    """Runs the transcription in float32 on every float32 fixture (made by torchaudio itself); returns the max diff."""
    import numpy as np

    fx = ROOT / "test" / "fixtures"
    man = json.loads((fx / "manifest.json").read_text())["resample"]

    def load(entry):
        return torch.from_numpy(np.fromfile(fx / entry["file"], dtype="<f4").reshape(entry["shape"]))

    worst = 0.0
    for case in man["cases"]:
        p = case["params"]
        for sig in case["signals"].values():
            y = resample(load(sig["input"]), case["orig_freq"], case["new_freq"], p["lowpass_filter_width"], p["rolloff"], p["resampling_method"], p["beta"])
            worst = max(worst, (y - load(sig["output"])).abs().max().item())
    for case in man["edge_cases"]:
        y = resample(load(case["input"]), case["orig_freq"], case["new_freq"])
        ref = load(case["output"])
        assert y.shape == ref.shape, (case["what"], y.shape, ref.shape)
        worst = max(worst, (y - ref).abs().max().item())
    return worst


def main() -> None:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "test" / "fixtures" / "resample64"
    torch.set_num_threads(1)
    diff = check_against_torchaudio_fixtures()
    if diff != 0.0:
        sys.exit(f"the transcription does not reproduce torchaudio's float32 fixtures (max diff {diff:g}); fix it first")
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, (name, orig, new, params, n, channels) in enumerate(CASES):
        x64 = signal(n, channels, orig, seed=9100 + i)
        full = {"lowpass_filter_width": 6, "rolloff": 0.99, "resampling_method": "sinc_interp_hann", "beta": None}
        full.update(params)
        for x in [x64] + ([x64.float()] if name in FLOAT32_CASES else []):
            y = resample(x, orig, new, **params)
            assert y.dtype == x.dtype
            suffix = "" if x.dtype == torch.float64 else "_f32"
            entries.append({
                "name": name + suffix,
                "dtype": "float64" if x.dtype == torch.float64 else "float32",
                "orig_freq": orig,
                "new_freq": new,
                "params": full,
                "input": write(out_dir / f"{name}{suffix}_in.bin", x),
                "output": write(out_dir / f"{name}{suffix}_out.bin", y),
            })
    manifest = {
        "format": "wav2vec2-node-resample64/1",
        "produced_by": "scripts/make_resample_fixtures.py",
        "reference": f"torchaudio.functional.resample transcribed from pytorch/audio@{TORCHAUDIO_COMMIT}, run in each case's dtype",
        "torch": torch.__version__,
        "check": "the transcription reproduces test/fixtures/resample (torchaudio float32 outputs) exactly",
        "byte_order": "little",
        "cases": entries,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(p.stat().st_size for p in out_dir.iterdir())
    print(f"wrote {len(entries)} cases to {out_dir} ({total / 1024:.0f} KiB); float32 fixture check: max diff {diff:g}")


if __name__ == "__main__":
    main()
