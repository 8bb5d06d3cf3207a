"""Exports a Hugging Face Wav2Vec2ForCTC folder to ONNX (logits), for the benchmark's onnxruntime-node runs.

    python scripts/export_onnx.py HF_DIR OUT.onnx [--opset 17] [--quantize int8]

The same weights that scripts/export_hf.py traces to TorchScript, so the benchmark compares runtimes on one
model. Input `waveforms` [batch, samples] float32, output `logits` [batch, frames, labels]; batch and length
are dynamic. Uses torch.onnx's TorchScript-based exporter (needs the `onnx` package), opset 17 by default
(LayerNorm as one op). Checks the file against the eager model with onnxruntime when it is installed.
`--quantize int8`: then onnxruntime's own dynamic quantisation of the MatMul and Gemm nodes (int8 weights, per-tensor
activation scales computed per call), onnxruntime's fastest CPU setting on this model: quantising its convolutions too
made it slower here (1.32 s against 0.53 s on base 1 x 10 s). Needs the onnxruntime Python package.
"""
import argparse
import os
import sys

os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import torch

from hf_logits import Logits  # scripts/hf_logits.py (this script's folder is on sys.path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('hf_dir')
    ap.add_argument('out')
    ap.add_argument('--opset', type=int, default=17)
    ap.add_argument('--quantize', choices=['int8'])
    args = ap.parse_args()
    from transformers import Wav2Vec2ForCTC
    model = Wav2Vec2ForCTC.from_pretrained(args.hf_dir).eval()
    wrapper = Logits(model).eval()
    example = torch.randn(1, 16000)
    tmp = args.out + '.tmp'
    with torch.inference_mode():
        torch.onnx.export(wrapper, (example,), tmp, dynamo=False, opset_version=args.opset,
                          input_names=['waveforms'], output_names=['logits'],
                          dynamic_axes={'waveforms': {0: 'batch', 1: 'samples'}, 'logits': {0: 'batch', 1: 'frames'}})
    if args.quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic
        quantize_dynamic(tmp, args.out + '.q.tmp', op_types_to_quantize=['MatMul', 'Gemm'], weight_type=QuantType.QInt8)
        os.replace(args.out + '.q.tmp', tmp)
    os.replace(tmp, args.out)
    msg = f'wrote {args.out} ({os.path.getsize(args.out) / 2**20:.1f} MiB, opset {args.opset})'
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError:
        print(msg + '; onnxruntime (Python) not installed: not checked', flush=True)
        return
    sess = ort.InferenceSession(args.out, providers=['CPUExecutionProvider'])
    x = torch.randn(2, 23456)
    with torch.inference_mode():
        ref = wrapper(x).numpy()
    got = sess.run(None, {'waveforms': x.numpy()})[0]
    diff = float(np.abs(ref - got).max())
    print(f'{msg}; onnxruntime vs eager max |diff| {diff:.2e} on [2, 23456]', flush=True)
    if diff > (0.5 if args.quantize else 1e-3):
        sys.exit(f'ONNX export differs from the eager model by {diff}')


if __name__ == '__main__':
    main()
