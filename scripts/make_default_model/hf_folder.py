"""Rebuilds the default model's Hugging Face folder from the shipped TorchScript file, so that the native builder
can run it (`npm run eval -- --model DIR --dtype int8` measures what int8 costs it) without the training run's
work/ folder, which is not in the repository.

    python hf_folder.py ../../models/default.pt OUT_DIR

The traced module keeps the Wav2Vec2ForCTC it was traced from under `traced.inner.` (its positional convolution's
weight norm folded into a plain weight, which transformers loads into the parametrization below); the config
comes from the manifest's architecture. The folder's logits are checked against the TorchScript file's.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import LABELS  # noqa: E402
from export import save_processor  # noqa: E402

PREFIX = 'traced.inner.'


def main():
    pt, out = sys.argv[1], sys.argv[2]
    from transformers import Wav2Vec2Config, Wav2Vec2ForCTC
    with open(os.path.splitext(pt)[0] + '.json') as f:
        manifest = json.load(f)
    arch = manifest['source']['architecture']
    traced = torch.jit.load(pt).eval()
    state = {k[len(PREFIX):]: v for k, v in traced.state_dict().items() if k.startswith(PREFIX)}
    kernel, groups = arch['positionalConv']
    config = Wav2Vec2Config(
        vocab_size=len(LABELS), hidden_size=arch['hiddenSize'], num_hidden_layers=arch['layers'], num_attention_heads=arch['heads'],
        intermediate_size=arch['intermediateSize'], conv_dim=arch['convDim'],
        conv_kernel=[k for k, _ in manifest['convLayers']], conv_stride=[s for _, s in manifest['convLayers']], feat_extract_norm=arch['featExtractNorm'], conv_bias=False,
        num_conv_pos_embeddings=kernel, num_conv_pos_embedding_groups=groups, do_stable_layer_norm=False, pad_token_id=0,
        ctc_loss_reduction='mean')
    model = Wav2Vec2ForCTC(config).eval()
    pos = 'wav2vec2.encoder.pos_conv_embed.conv.'
    weight = state.pop(pos + 'weight')
    # Weight norm over dim 2 (transformers' choice): g = ||v|| per kernel position, v = the folded weight.
    state[pos + 'parametrizations.weight.original0'] = torch.linalg.vector_norm(weight, dim=(0, 1), keepdim=True)
    state[pos + 'parametrizations.weight.original1'] = weight
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(k == 'wav2vec2.masked_spec_embed' for k in missing), (missing, unexpected)
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out)
    save_processor(out)
    x = torch.randn(2, 23456, generator=torch.Generator().manual_seed(1))
    x = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + 1e-7)
    with torch.no_grad():
        diff = float((model(x).logits - traced(x)[0]).abs().max())
    print(f'{out}: Hugging Face folder of {pt}; logits within {diff:.1e} of the TorchScript file')
    assert diff < 1e-4, diff


if __name__ == '__main__':
    main()
