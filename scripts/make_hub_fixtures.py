#!/usr/bin/env python3
"""Tiny random-weight Hugging Face checkpoints of every architecture the native builder supports, written by
transformers' own `save_pretrained`, with transformers' outputs on fixed inputs as the expected values.

    .venv/bin/python scripts/make_hub_fixtures.py [OUT_DIR]     (default test/fixtures/hub)

Each fixture is a folder in the hub layout (config.json, weights, vocab.json + tokenizer_config.json,
preprocessor_config.json) plus `expected/`:

- `waveforms.npy` float32 [3, T]: three seeded randn waveforms, zero-padded to T; `lengths.npy` int64 [3]. These are
  the waveforms a user hands us, NOT normalised: when the preprocessor says `do_normalize`, each item is normalised
  here over its valid samples (Wav2Vec2FeatureExtractor's zero-mean unit-variance, eps in meta.json) before the
  model sees it, exactly as the feature extractor does, and meta.json says `normalized: true`.
- per item i alone: `logits_<i>.npy` [F_i, C] (CTC heads only) and `hidden_<i>.npy` [L, F_i, D], Hugging Face's
  `hidden_states[1:]` stacked (for pre-LN models the last includes the encoder's final layer norm, the convention
  of scripts/export_hf.py).
- models whose preprocessor has `return_attention_mask`: `batch_logits.npy` [3, F, C] and `batch_hidden.npy`
  [L, 3, F, D], transformers' padded batch with the attention mask; only each item's first F_i frames are
  meaningful (compare valid frames only).
- `meta.json`: frames per item, lengths, normalisation, versions.

wav2vec2-lv60 is saved through Wav2Vec2Processor, so it has transformers 5's processor_config.json (feature extractor
nested) where the others have 4.x's preprocessor_config.json. wav2vec2-bin is written as transformers 4.x wrote .bin
files (see save_legacy_bin).

All sizes are tiny and the conv layout is deliberately not wav2vec2's (kernels 10,3,3, strides 5,2,2: a 20-sample
hop and a 40-sample receptive field) so that a builder that assumes 320/400 fails. After transformers' init every
parameter gets seeded noise, so that layer norms are not identities and biases are not zero: a builder that swaps
or drops one of them must fail the comparison.
"""
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers import (
    Data2VecAudioConfig,
    Data2VecAudioForCTC,
    HubertConfig,
    HubertForCTC,
    Wav2Vec2Config,
    Wav2Vec2CTCTokenizer,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForCTC,
    Wav2Vec2Model,
    Wav2Vec2Processor,
    WavLMConfig,
    WavLMForCTC,
    WavLMModel,
)

ROOT = Path(__file__).resolve().parent.parent
NORMALIZE_EPS = 1e-7  # Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm
T = 2000
LENGTHS = [2000, 1550, 1100]

# Real hub vocabularies (facebook/wav2vec2-base-960h) carry <s> and </s>; without them the tokenizer would add them
# as added tokens past the head's size.
VOCAB = ["<pad>", "<s>", "</s>", "<unk>", "|", "e", "t", "a", "o", "n", "h", "'"]
WORDS = ["a", "at", "eat", "tea", "ten", "net", "the", "to", "not", "hat", "oh", "one", "on", "no", "ate", "neat"]

TINY = dict(
    vocab_size=len(VOCAB),
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    conv_dim=(16, 16, 16),
    conv_kernel=(10, 3, 3),
    conv_stride=(5, 2, 2),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=4,
    pad_token_id=0,
)
GROUP = dict(feat_extract_norm="group", do_stable_layer_norm=False, conv_bias=False)
LAYER = dict(feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True)

# name -> (model class, config class, config overrides, do_normalize/return_attention_mask, seed, how to save)
FIXTURES = {
    "wav2vec2-base": (Wav2Vec2ForCTC, Wav2Vec2Config, GROUP, False, 9101, {}),
    "wav2vec2-lv60": (Wav2Vec2ForCTC, Wav2Vec2Config, LAYER, True, 9102, {}),
    "wav2vec2-bin": (Wav2Vec2ForCTC, Wav2Vec2Config, GROUP, False, 9103, {"torch_save": True}),
    "wav2vec2-sharded": (Wav2Vec2ForCTC, Wav2Vec2Config, LAYER, True, 9104, {"max_shard_size": "40KB"}),
    "hubert": (HubertForCTC, HubertConfig, GROUP, False, 9105, {}),
    "wavlm": (WavLMForCTC, WavLMConfig, dict(LAYER, num_buckets=32, max_bucket_distance=100), True, 9106, {}),
    # Data2VecAudio: layer-norm extractor, post-LN encoder; num_conv_pos_embeddings is the NUMBER of stacked
    # positional conv layers there and conv_pos_kernel_size their kernel (Data2VecAudioPositionalConvEmbedding).
    "data2vec-audio": (Data2VecAudioForCTC, Data2VecAudioConfig,
                       dict(conv_bias=True, num_conv_pos_embeddings=3, conv_pos_kernel_size=5), True, 9107, {}),
    "wav2vec2-bare": (Wav2Vec2Model, Wav2Vec2Config, GROUP, False, 9108, {}),
    "wavlm-bare": (WavLMModel, WavLMConfig, dict(LAYER, num_buckets=32, max_bucket_distance=100), True, 9109, {}),
    "wav2vec2-lm": (Wav2Vec2ForCTC, Wav2Vec2Config, GROUP, False, 9110, {}),
}


def build(model_cls, config_cls, overrides, seed):
    torch.manual_seed(seed)
    # data2vec-audio's config has no feat_extract_norm / do_stable_layer_norm: its layout is fixed.
    config = config_cls(**{**TINY, **overrides}, architectures=[model_cls.__name__])
    model = model_cls(config).eval()
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for _, p in model.named_parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.1)
    return model


def save_legacy_bin(model, out: Path):
    """pytorch_model.bin as transformers 4.x wrote it (transformers 5 writes only safetensors): torch.save of the
    state dict, an OrderedDict with its `_metadata`, and the weight-norm halves under their pre-parametrization
    names `weight_g` / `weight_v`, which most .bin files on the hub still carry. Returns the model transformers
    loads back from that file, so the expected values come from what transformers reads, not from what we wrote."""
    model.save_pretrained(out)
    (out / "model.safetensors").unlink()
    state = model.state_dict()
    legacy = type(state)((k.replace("parametrizations.weight.original0", "weight_g")
                          .replace("parametrizations.weight.original1", "weight_v"), v) for k, v in state.items())
    legacy._metadata = state._metadata
    torch.save(legacy, out / "pytorch_model.bin")
    reloaded = type(model).from_pretrained(out).eval()
    for k, v in model.state_dict().items():
        assert torch.equal(v, reloaded.state_dict()[k]), f"transformers read {k} back differently"
    return reloaded


def save_processor(out: Path, normalize: bool, with_tokenizer: bool, as_processor: bool):
    """Most hub repos have transformers 4.x's preprocessor_config.json; transformers 5's Wav2Vec2Processor writes
    processor_config.json with the feature extractor nested in it instead (`as_processor`, one fixture)."""
    extractor = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                                         do_normalize=normalize, return_attention_mask=normalize)
    if not with_tokenizer:
        extractor.save_pretrained(out)
        return
    vocab = out / "vocab.json.tmp"
    vocab.write_text(json.dumps({t: i for i, t in enumerate(VOCAB)}))
    tokenizer = Wav2Vec2CTCTokenizer(str(vocab), unk_token="<unk>", pad_token="<pad>", word_delimiter_token="|",
                                     do_lower_case=False)
    assert len(tokenizer) == len(VOCAB), f"tokenizer has {len(tokenizer)} tokens, expected {len(VOCAB)}"
    if as_processor:
        Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(out)
    else:
        extractor.save_pretrained(out)
        tokenizer.save_pretrained(out)
    vocab.unlink()


def normalise(x: np.ndarray) -> np.ndarray:
    """Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm on one item's valid samples."""
    return ((x - x.mean()) / np.sqrt(x.var() + NORMALIZE_EPS)).astype(np.float32)


def base_of(model):
    return getattr(model, model.base_model_prefix) if hasattr(model, "lm_head") else model


def run_reference(model, out: Path, normalize: bool):
    rng = np.random.default_rng(1234)
    waveforms = np.zeros((len(LENGTHS), T), np.float32)
    for i, n in enumerate(LENGTHS):
        waveforms[i, :n] = (rng.standard_normal(n) * 0.1).astype(np.float32)
    items = [normalise(waveforms[i, :n]) if normalize else waveforms[i, :n].copy() for i, n in enumerate(LENGTHS)]
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "waveforms.npy", waveforms)
    np.save(out / "lengths.npy", np.array(LENGTHS, np.int64))
    has_head = hasattr(model, "lm_head")
    frames = [int(model._get_feat_extract_output_lengths(torch.tensor(n))) for n in LENGTHS]
    with torch.no_grad():
        for i, x in enumerate(items):
            o = model(torch.from_numpy(x)[None], output_hidden_states=True)
            hidden = torch.stack(o.hidden_states[1:])[:, 0]
            assert hidden.shape[1] == frames[i], (hidden.shape, frames[i])
            np.save(out / f"hidden_{i}.npy", hidden.numpy().astype(np.float32))
            if has_head:
                np.save(out / f"logits_{i}.npy", o.logits[0].numpy().astype(np.float32))
        if normalize:  # return_attention_mask: transformers' padded batch is the reference
            batch = np.zeros_like(waveforms)
            for i, x in enumerate(items):
                batch[i, : len(x)] = x
            mask = (np.arange(T)[None, :] < np.array(LENGTHS)[:, None]).astype(np.int64)
            o = model(torch.from_numpy(batch), attention_mask=torch.from_numpy(mask), output_hidden_states=True)
            np.save(out / "batch_hidden.npy", torch.stack(o.hidden_states[1:]).numpy().astype(np.float32))
            if has_head:
                np.save(out / "batch_logits.npy", o.logits.numpy().astype(np.float32))
            return frames, batch_vs_items(o, out, frames)
    return frames, None


def batch_vs_items(o, out: Path, frames) -> float:
    """Largest difference on valid frames between the padded batch and each item alone. Zero (to rounding) for
    every model but data2vec-audio: its stacked positional convs read the padded frames of the layer below, which
    are no longer zero after the first conv, so transformers' batch differs from the items alone near each item's
    end. The batched output stays the reference for it (the issue's rule for models that take a mask)."""
    hidden = torch.stack(o.hidden_states[1:]).numpy()
    return max(float(np.abs(hidden[:, i, :f] - np.load(out / f"hidden_{i}.npy")).max()) for i, f in enumerate(frames))


def write_language_model(out: Path, alpha=0.5, beta=1.5):
    """The files Wav2Vec2ProcessorWithLM.save_pretrained writes (pyctcdecode's BeamSearchDecoderCTC.save_to_dir):
    alphabet.json at the root, and language_model/ with attrs.json, unigrams.txt and the KenLM file, whose name
    is the original file's (here an ARPA written by hand: uniform unigrams, a few bigrams)."""
    labels = ["" if t == "<pad>" else " " if t == "|" else "\u2047" if t == "<unk>" else t for t in VOCAB]
    (out / "alphabet.json").write_text(json.dumps({"labels": labels, "is_bpe": False}))
    lm = out / "language_model"
    lm.mkdir(exist_ok=True)
    (lm / "attrs.json").write_text(json.dumps(
        {"alpha": alpha, "beta": beta, "unk_score_offset": -10.0, "score_boundary": True}))
    (lm / "unigrams.txt").write_text("".join(w + "\n" for w in sorted(WORDS)))
    bigrams = [("the", "tea"), ("eat", "the"), ("a", "net"), ("not", "the")]
    uni = ["<unk>", "<s>", "</s>"] + sorted(WORDS)
    lines = ["", "\\data\\", f"ngram 1={len(uni)}", f"ngram 2={len(bigrams)}", "", "\\1-grams:"]
    p = -round(float(np.log10(len(uni))), 4)
    for w in uni:
        prob = -99 if w == "<s>" else p
        lines.append(f"{prob}\t{w}\t-0.3" if w not in ("</s>", "<unk>") else f"{prob}\t{w}")
    lines += ["", "\\2-grams:"] + [f"-0.5\t{a} {b}" for a, b in bigrams] + ["", "\\end\\", ""]
    (lm / "4gram_tiny.arpa").write_text("\n".join(lines))


def make(name: str, spec, root: Path):
    model_cls, config_cls, overrides, normalize, seed, save_kwargs = spec
    out = root / name
    if out.exists():
        shutil.rmtree(out)
    model = build(model_cls, config_cls, overrides, seed)
    if save_kwargs.get("torch_save"):
        model = save_legacy_bin(model, out)
    else:
        model.save_pretrained(out, **save_kwargs)
    save_processor(out, normalize, with_tokenizer=hasattr(model, "lm_head"), as_processor=name == "wav2vec2-lv60")
    if name == "wav2vec2-lm":
        write_language_model(out)
    frames, batch_diff = run_reference(model, out / "expected", normalize)
    if batch_diff is not None and name != "data2vec-audio":
        assert batch_diff < 1e-4, f"{name}: the padded batch differs from the items alone by {batch_diff}"
    meta = {
        "architecture": model_cls.__name__,
        "seed": seed,
        "lengths": LENGTHS,
        "frames": frames,
        "normalized": normalize,
        "eps": NORMALIZE_EPS,
        "attentionMask": normalize,
        "batched": normalize,
        "batchVsItemsMaxAbs": batch_diff,
        "logits": hasattr(model, "lm_head"),
        "numLayers": model.config.num_hidden_layers,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
    }
    (out / "expected" / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"{name}: {sorted(p.name for p in out.iterdir())} frames {frames}")


def main(argv):
    root = Path(argv[1]) if len(argv) > 1 else ROOT / "test" / "fixtures" / "hub"
    torch.set_num_threads(1)
    root.mkdir(parents=True, exist_ok=True)
    for name, spec in FIXTURES.items():
        make(name, spec, root)
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    print(f"{root}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main(sys.argv)
