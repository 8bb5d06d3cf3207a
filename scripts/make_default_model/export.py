"""Exports a trained Hugging Face Wav2Vec2ForCTC folder to TorchScript (traced, dynamic batch and length) plus
the manifest that lib/manifest.ts validates.

    python export.py work/model ../../models/default.pt

Traces forward(waveforms [B, T] float32) -> logits [B, F, 29], checks the traced module against the eager model
on other batch sizes and lengths, and writes <out>.json beside <out>.pt with the training provenance.
"""
import datetime
import subprocess
import json
import os

# libgomp's default busy-waiting makes 2 threads ~25x slower on a shared, loaded 2-core machine
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ACCENTS, DEMO_SENTENCE, HELDOUT_VARIANTS, LABELS, SAMPLE_RATE, SEED, TRAIN_VARIANTS

torch.set_num_threads(2)


class Logits(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, waveforms):
        return self.model(waveforms).logits


def save_processor(src):
    """Makes the HF folder self-describing: CTC tokenizer (vocab = our 29 labels, pad = blank '-', word delimiter
    '|') and feature extractor (16 kHz, do_normalize) next to config.json, as scripts/export_hf.py expects."""
    from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor
    with open(os.path.join(src, 'vocab.json'), 'w') as f:
        json.dump({label: i for i, label in enumerate(LABELS)}, f)
    Wav2Vec2CTCTokenizer(os.path.join(src, 'vocab.json'), unk_token='<unk>', pad_token='-', word_delimiter_token='|',
                         bos_token=None, eos_token=None).save_pretrained(src)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0, do_normalize=True,
                             return_attention_mask=False).save_pretrained(src)


def own_trace(wrapped, out):
    g = torch.Generator().manual_seed(0)
    example = torch.randn(2, 2 * SAMPLE_RATE, generator=g)
    with torch.no_grad():
        traced = torch.jit.trace(wrapped, example, check_trace=False)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    traced.save(out)
    return {'kind': 'traced by scripts/make_default_model/export.py', 'exampleShape': list(example.shape)}


def main():
    src, out = sys.argv[1], sys.argv[2]
    from transformers import Wav2Vec2ForCTC
    save_processor(src)
    model = Wav2Vec2ForCTC.from_pretrained(src).eval()
    cfg = model.config
    wrapped = Logits(model).eval()
    export_hf = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'export_hf.py')
    base = None
    if os.path.exists(export_hf) and not os.environ.get('OWN_TRACE'):
        subprocess.run([sys.executable, export_hf, src, out], check=True)
        with open(os.path.splitext(out)[0] + '.json') as f:
            base = json.load(f)
        exported = base.get('source', {})
    else:
        exported = own_trace(wrapped, out)
    # check the saved file against the eager model on more batch sizes and lengths
    traced = torch.jit.load(out)
    g = torch.Generator().manual_seed(1)
    worst = 0.0
    with torch.no_grad():
        for b, n in [(1, 16000), (3, 47123), (1, 7 * SAMPLE_RATE + 11), (5, 400), (4, 2 * SAMPLE_RATE)]:
            x = torch.randn(b, n, generator=g)
            ref, got = wrapped(x), traced(x)
            assert ref.shape == got.shape, (ref.shape, got.shape)
            worst = max(worst, float((ref - got).abs().max()))
    print(f'{out}: traced vs eager max |diff| {worst:.2e} over batch sizes 1-5 and lengths 400-112011; '
          f'{os.path.getsize(out) / 1e6:.2f} MB')
    assert worst < 1e-4, worst

    state, results = {}, None
    p = os.path.join(src, 'train_state.json')
    if os.path.exists(p):
        with open(p) as f:
            state = json.load(f)
    p = os.path.join(src, 'eval.json')
    if os.path.exists(p):
        with open(p) as f:
            results = json.load(f)['results']
    n_params = sum(p.numel() for p in model.parameters())
    manifest = {
        'format': 'wav2vec2-node-model/1',
        'labels': LABELS,
        'sampleRate': SAMPLE_RATE,
        'blank': 0,
        'wordDelimiter': '|',
        'normalizeWaveform': True,
        'frameStride': 320,
        'receptiveField': 400,
        'convLayers': [[k, s] for k, s in zip(cfg.conv_kernel, cfg.conv_stride)],
        'convention': 'traced',
        'numLayers': cfg.num_hidden_layers,
        'numHeads': cfg.num_attention_heads,
        'embedDim': cfg.hidden_size,
        'source': {
            'name': 'wav2vec2-node default model',
            'description': 'Wav2Vec2ForCTC trained from scratch with CTC on synthetic English speech (espeak-ng + sox); '
                           'a demonstration and test model for synthetic speech, not a general recogniser.',
            'script': 'scripts/make_default_model/run_all.sh',
            'architecture': {'class': 'transformers.Wav2Vec2ForCTC', 'parameters': n_params,
                             'convDim': list(cfg.conv_dim), 'hiddenSize': cfg.hidden_size,
                             'intermediateSize': cfg.intermediate_size, 'layers': cfg.num_hidden_layers,
                             'heads': cfg.num_attention_heads, 'featExtractNorm': cfg.feat_extract_norm,
                             'positionalConv': [cfg.num_conv_pos_embeddings, cfg.num_conv_pos_embedding_groups]},
            'seed': SEED,
            'training': {k: state.get(k) for k in ('step', 'note', 'train_seconds', 'audio_seconds_seen',
                                                  'training_utterances', 'training_hours')},
            'trainingPhase1': {k: (state.get('previous_phase') or {}).get(k) for k in
                               ('step', 'note', 'train_seconds', 'audio_seconds_seen')} if state.get('previous_phase') else None,
            'data': {'text': 'scripts/make_default_model/grammar.py (75 %) + random sequences of Faker en_US '
                             'lorem words (25 %); unique sentences',
                     'voices': {'accents': ACCENTS, 'trainVariants': len(TRAIN_VARIANTS),
                                'heldOutVariants': HELDOUT_VARIANTS},
                     'excludedSentence': DEMO_SENTENCE},
            'heldOutGreedy': results,
            'featureExtractor': {'doNormalize': True, 'normalizeEps': 1e-7, 'returnAttentionMask': False},
            'export': exported,
            'exportCheck': {'maxAbsDiff': worst, 'batchSizes': [1, 3, 5, 4], 'lengths': [400, 112011]},
            'torch': torch.__version__,
            'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d'),
        },
    }
    if base is not None:  # keep what export_hf.py derived from the tokenizer and config; they must agree
        for k in ('labels', 'sampleRate', 'blank', 'wordDelimiter', 'normalizeWaveform', 'frameStride',
                  'receptiveField', 'convLayers', 'convention', 'numLayers', 'numHeads', 'embedDim'):
            assert base[k] == manifest[k], (k, base[k], manifest[k])
    with open(os.path.splitext(out)[0] + '.json', 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    print('wrote', os.path.splitext(out)[0] + '.json')


if __name__ == '__main__':
    main()
