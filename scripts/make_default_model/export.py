"""Exports a trained Hugging Face Wav2Vec2ForCTC folder to TorchScript (traced, dynamic batch and length) plus
the manifest that lib/model/manifest.ts validates.

    python export.py work/model ../../models/default.pt

Saves the tokenizer and feature extractor into the folder, exports it with scripts/export_hf.py (the one traced
export and manifest of the project), checks the saved file against the eager model on more batch sizes and
lengths, and adds the training provenance to the manifest export_hf.py wrote.
"""
import datetime
import subprocess
import json
import os
from pathlib import Path

# libgomp's default busy-waiting makes 2 threads ~25x slower on a shared, loaded 2-core machine
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from hf_logits import Logits  # scripts/hf_logits.py
from model_manifest import manifest_path_for, write_manifest  # scripts/model_manifest.py
from common import ACCENTS, DEMO_SENTENCE, HELDOUT_VARIANTS, LABELS, SAMPLE_RATE, SEED, TRAIN_VARIANTS

torch.set_num_threads(2)


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


def main():
    src, out = sys.argv[1], sys.argv[2]
    from transformers import Wav2Vec2ForCTC
    save_processor(src)
    model = Wav2Vec2ForCTC.from_pretrained(src).eval()
    cfg = model.config
    wrapped = Logits(model).eval()
    export_hf = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'export_hf.py')
    subprocess.run([sys.executable, export_hf, src, out], check=True)
    with open(manifest_path_for(Path(out))) as f:
        base = json.load(f)
    exported = base.get('source', {})
    # check the saved file against the eager model on more batch sizes and lengths
    traced = torch.jit.load(out)
    g = torch.Generator().manual_seed(1)
    worst = 0.0
    with torch.no_grad():
        for b, n in [(1, 16000), (3, 47123), (1, 7 * SAMPLE_RATE + 11), (5, 400), (4, 2 * SAMPLE_RATE)]:
            x = torch.randn(b, n, generator=g)
            ref, got = wrapped(x), traced(x)[0]
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
    # What export_hf.py derived from the tokenizer, feature extractor and config must be what training used.
    expected = {
        'labels': LABELS, 'sampleRate': SAMPLE_RATE, 'blank': 0, 'wordDelimiter': '|', 'normalizeWaveform': True,
        'normalizeEps': 1e-7, 'frameStride': 320, 'receptiveField': 400,
        'convLayers': [[k, s] for k, s in zip(cfg.conv_kernel, cfg.conv_stride)], 'convention': 'torchaudio', 'paddedBatchExact': True,
        'numLayers': cfg.num_hidden_layers, 'numHeads': cfg.num_attention_heads, 'embedDim': cfg.hidden_size,
    }
    for k, v in expected.items():
        assert base[k] == v, (k, base[k], v)
    manifest = {
        **base,
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
            'training': {**{k: state.get(k) for k in ('step', 'note', 'train_seconds', 'audio_seconds_seen',
                                                     'training_utterances', 'training_hours')},
                         # the train.py command line that made it (bf16, steps, learning rate, augmentation, ...)
                         'args': {k: v for k, v in (state.get('args') or {}).items() if k not in ('out', 'eval_only')}},
            'trainingPhase1': {k: (state.get('previous_phase') or {}).get(k) for k in
                               ('step', 'note', 'train_seconds', 'audio_seconds_seen')} if state.get('previous_phase') else None,
            'data': {'text': 'scripts/make_default_model/grammar.py (75 %) + random sequences of its words (25 %), '
                             'small vocabulary (grammar.SMALL_VOCAB, 696 words); unique sentences',
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
    print('wrote', write_manifest(Path(out), manifest))


if __name__ == '__main__':
    main()
