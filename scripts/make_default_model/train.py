"""Trains the default model (Hugging Face Wav2Vec2ForCTC, from scratch, CTC) on work/train_audio.npy and
evaluates it on the held-out set.

    python train.py --steps 3000 [--max-minutes 55] [--out work/model]
    python train.py --eval-only work/model      # greedy CER/WER per held-out subset and on training data

Checkpoints (a Hugging Face folder: config.json + model.safetensors) go to OUT every --ckpt-every steps and
at the end, with train_state.json (step, loss, eval figures).
"""
import argparse
import json
import math
import os

# Thread waiting is left to the environment: on an idle 2-core machine OMP_WAIT_POLICY=PASSIVE cost training a lot
# (one-minute probes: 47 audio-s/s against 58 with spinning threads in float32; 49 against 77 with libgomp's default
# in bfloat16); on a machine that other jobs share, set PASSIVE (busy-waiting threads there made 2 threads ~25x
# slower).
import random
import sys
import time

# oneDNN compiles its convolution and matmul kernels for each input shape and keeps 1024 of them: with batches padded
# to a grid of lengths (--pad-grid 0.25) an epoch has 74 shapes (979 without), dozens of kernels each, so the cache
# must be larger to hold them all
os.environ.setdefault('ONEDNN_PRIMITIVE_CACHE_CAPACITY', '8192')
os.environ.setdefault('LRU_CACHE_CAPACITY', '8192')
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import LABELS, SAMPLE_RATE, SEED, WORK, encode, to_transcript

torch.set_num_threads(2)


def conv_dims(spec):
    """'64' -> 7 x 64; '32,32,64,64,64,64,64' -> per layer."""
    dims = tuple(int(x) for x in str(spec).split(','))
    if len(dims) == 1:
        dims = dims * 7
    if len(dims) != 7:
        raise SystemExit(f'--conv-dim: one number or 7, got {spec}')
    return dims


def model_config(args):
    from transformers import Wav2Vec2Config
    return Wav2Vec2Config(
        vocab_size=len(LABELS), pad_token_id=0, bos_token_id=None, eos_token_id=None,
        conv_dim=conv_dims(args.conv_dim), conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2),
        conv_bias=False, feat_extract_norm='layer' if args.stable else 'group', feat_extract_activation='gelu',
        do_stable_layer_norm=args.stable,
        hidden_size=args.hidden, num_hidden_layers=args.layers, num_attention_heads=args.heads,
        intermediate_size=args.ffn or args.hidden * 4, num_conv_pos_embeddings=64, num_conv_pos_embedding_groups=16,
        hidden_dropout=args.dropout, attention_dropout=args.dropout, activation_dropout=args.dropout,
        feat_proj_dropout=args.dropout, final_dropout=args.dropout, layerdrop=0.0,
        apply_spec_augment=True, mask_time_prob=0.08, mask_time_length=5, mask_feature_prob=0.02,
        mask_feature_length=8, ctc_loss_reduction='mean', ctc_zero_infinity=True)


class AudioSet:
    def __init__(self, name):
        self.audio = np.load(os.path.join(WORK, f'{name}_audio.npy'), mmap_mode='r')
        with open(os.path.join(WORK, f'{name}_index.json')) as f:
            idx = json.load(f)
        self.offsets, self.lengths, self.items = idx['offsets'], idx['lengths'], idx['items']

    def trim_tails(self, keep_seconds):
        """Shortens each utterance to keep_seconds after its last 10 ms whose peak reaches 3 % of the utterance's
        peak (espeak-ng's closing silence and reverb tails were 9.5 % of the training audio: compute spent on
        frames that only teach the blank)."""
        keep, before = int(keep_seconds * SAMPLE_RATE), sum(self.lengths)
        for i, n in enumerate(self.lengths):
            x = np.abs(self.wave(i))
            frames = x[:n // 160 * 160].reshape(-1, 160).max(1)
            loud = np.nonzero(frames >= 0.03 * max(float(x.max()), 1 / 32768))[0]
            if len(loud):
                self.lengths[i] = min(n, (int(loud[-1]) + 1) * 160 + keep)
        return 1 - sum(self.lengths) / before

    def __len__(self):
        return len(self.items)

    def wave(self, i):
        o = self.offsets[i]
        return np.asarray(self.audio[o:o + self.lengths[i]], dtype=np.float32) / 32768.0


def normalize(x):
    return (x - x.mean()) / math.sqrt(x.var() + 1e-7)


def moving_average(x, k):
    c = np.cumsum(np.concatenate([np.zeros(k, np.float32), x]))
    return ((c[k:] - c[:-k]) / k).astype(np.float32)


NOISE_PROB = 0.5


def augment(x, r):
    """Additive noise (white, low-passed or brown) at 5-35 dB SNR, half the time (NOISE_PROB)."""
    if r.random() < NOISE_PROB:
        n = r.standard_normal(len(x)).astype(np.float32)
        kind = r.random()
        if kind < 0.33:
            n = moving_average(n, int(r.integers(2, 12)))
        elif kind < 0.66:
            n = np.cumsum(n).astype(np.float32)
            n = n - moving_average(n, 400)
        snr = r.uniform(5, 35)
        px = float(np.mean(x ** 2)) + 1e-10
        pn = float(np.mean(n ** 2)) + 1e-10
        x = x + n * math.sqrt(px / pn / 10 ** (snr / 10))
    return x


def padded(n, grid):
    return -(-n // grid) * grid if grid else n


def make_batches(lengths, max_samples, r=None, shuffle=True, grid=0, indices=None):
    """Batches of similar lengths, each at most max_samples once padded to its longest utterance rounded up to a
    multiple of grid (0: no rounding). Rounding makes the same few shapes recur, which oneDNN's per-shape kernels
    need: with a new shape for every batch, steps were 1.6x slower (120 against 193 audio-s/s in a microbenchmark;
    a 0.25 s grid leaves 74 shapes an epoch for 4.2 % more padding). Over indices (default: all), equal lengths in
    random order when r is given, else in the order of indices (evaluation: shuffle=False, r=None)."""
    indices = range(len(lengths)) if indices is None else indices
    key = (lambda i: (lengths[i], r.random())) if r else (lambda i: lengths[i])
    order = sorted(indices, key=key)
    batches, cur = [], []
    for i in order:
        n = padded(lengths[i], grid)
        if cur and ((len(cur) + 1) * n > max_samples or (grid and n != padded(lengths[cur[-1]], grid))):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    if shuffle:
        r.shuffle(batches)
    return batches


def collate(waves, grid=0):
    n = padded(max(len(w) for w in waves), grid)
    x = torch.zeros(len(waves), n)
    for j, w in enumerate(waves):
        x[j, :len(w)] = torch.from_numpy(normalize(w))
    return x, torch.tensor([len(w) for w in waves])


def keep_float32(module):
    """Runs module outside bfloat16 autocast. For the positional convolution (kernel 64, 16 groups) oneDNN's float32
    kernels are faster than its bfloat16 ones (7 % faster steps in a microbenchmark, within noise in a ten-minute
    probe). Patches the instance's forward, so the state dict and the saved model stay as they are."""
    inner = module.forward

    def forward(hidden_states):
        with torch.autocast('cpu', enabled=False):
            return inner(hidden_states.float())
    module.forward = forward


def out_lengths(model, lengths):
    return model._get_feat_extract_output_lengths(lengths).long()


# ---------------------------------------------------------------------------------------------- evaluation
def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]


def greedy(ids):
    out, last = [], None
    for t in ids:
        if t != last and t != 0:
            out.append(LABELS[t])
        last = t
    return ''.join(out).replace('|', ' ').strip()


@torch.no_grad()
def evaluate(model, ds, indices, batch_samples=16000 * 60):
    model.eval()
    hyps = {}
    for cur in make_batches(ds.lengths, batch_samples, shuffle=False, indices=indices):
        x, lens = collate([ds.wave(j) for j in cur])
        logits = model(x).logits
        ol = out_lengths(model, lens)
        for j, b in enumerate(cur):
            hyps[b] = greedy(logits[j, :ol[j]].argmax(-1).tolist())
    stats = {}
    for i in indices:
        ref = to_transcript(ds.items[i]['text']).replace('|', ' ')
        hyp = hyps[i]
        for key in (ds.items[i]['subset'], 'all'):
            s = stats.setdefault(key, [0, 0, 0, 0, 0])
            s[0] += edit_distance(ref, hyp)
            s[1] += len(ref)
            s[2] += edit_distance(ref.split(), hyp.split())
            s[3] += len(ref.split())
            s[4] += 1
    model.train()
    return ({k: {'cer': s[0] / s[1], 'wer': s[2] / s[3], 'utterances': s[4]} for k, s in stats.items()},
            hyps)


def eval_all(model, train_ds, held_ds, n_train=300, n_held=0):
    r = random.Random(SEED + 7)
    held_idx = list(range(len(held_ds)))
    if n_held:
        held_idx = random.Random(SEED + 8).sample(held_idx, n_held)
    res, hyps = evaluate(model, held_ds, held_idx)
    tr_idx = r.sample(range(len(train_ds)), min(n_train, len(train_ds)))
    tr, _ = evaluate(model, train_ds, tr_idx)
    res['train_sample'] = tr['all']
    return res, hyps


def fmt(res):
    return '  '.join(f"{k}: CER {v['cer']:.2%} WER {v['wer']:.2%} (n={v['utterances']})" for k, v in res.items())


# ---------------------------------------------------------------------------------------------- training
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--steps', type=int, default=3000)
    ap.add_argument('--max-minutes', type=float, default=0, help='stop early (and save) after this long')
    ap.add_argument('--batch-seconds', type=float, default=40)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--warmup', type=int, default=300)
    ap.add_argument('--conv-dim', default='64', help='channels: one for all 7 conv layers, or 7 comma-separated')
    ap.add_argument('--hidden', type=int, default=192)
    ap.add_argument('--layers', type=int, default=4)
    ap.add_argument('--heads', type=int, default=4)
    ap.add_argument('--ffn', type=int, default=0, help='feed-forward size (0 = 4 x --hidden)')
    ap.add_argument('--ckpt-every', type=int, default=500)
    ap.add_argument('--eval-every', type=int, default=1000)
    ap.add_argument('--stable', action='store_true', help='pre-layer-norm transformer, layer-norm convs')
    ap.add_argument('--attention', default='eager', choices=('eager', 'sdpa'),
                    help='attention kernels in training (eager: 1.4x faster steps than sdpa on 2 cores in bfloat16)')
    ap.add_argument('--pad-grid', type=float, default=0.25,
                    help='pad each batch to a multiple of this many seconds (0: to its longest utterance)')
    ap.add_argument('--sortagrad', action='store_true', help='first epoch ordered by length')
    ap.add_argument('--mask-after', type=int, default=0, help='SpecAugment masking from this step on')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--bf16', action='store_true',
                    help='bfloat16 autocast for the forward pass (CPUs with AVX-512 BF16 or AMX); weights, optimiser '
                         'state and the CTC loss stay float32')
    ap.add_argument('--stop-at', type=int, default=0, help='stop (and save) at this step; the schedule still spans --steps')
    ap.add_argument('--init-from', default=None, help='start from this HF folder (a second training phase)')
    ap.add_argument('--noise-prob', type=float, default=0.5)
    ap.add_argument('--mask-time-prob', type=float, default=0.08)
    ap.add_argument('--dropout', type=float, default=0.1)
    ap.add_argument('--trim-tail', type=float, default=0,
                    help='train on utterances cut to this many seconds after their last sound (0 = whole files)')
    ap.add_argument('--final-heldout', type=int, default=0,
                    help='final evaluation on this many held-out utterances (0 = all 600; fewer for quick probes)')
    ap.add_argument('--out', default=os.path.join(WORK, 'model'))
    ap.add_argument('--eval-only', default=None)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    from transformers import Wav2Vec2ForCTC
    train_ds, held_ds = AudioSet('train'), AudioSet('heldout')
    if args.eval_only:
        # the training sample is scored as the run trained on it, cut as in its train_state.json, so that this
        # reproduces the run's final evaluation (--trim-tail when there is no such file)
        state_file = os.path.join(args.eval_only, 'train_state.json')
        trim = json.load(open(state_file))['args'].get('trim_tail', 0) if os.path.exists(state_file) else args.trim_tail
        if trim:
            train_ds.trim_tails(trim)
        model = Wav2Vec2ForCTC.from_pretrained(args.eval_only)
        res, hyps = eval_all(model, train_ds, held_ds)
        print(fmt(res))
        with open(os.path.join(args.eval_only, 'eval.json'), 'w') as f:
            json.dump({'results': res, 'hypotheses': {held_ds.items[i]['id']: h for i, h in hyps.items()}}, f, indent=1)
        return

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    rb = random.Random(SEED)
    ra = np.random.default_rng(SEED)
    global NOISE_PROB
    NOISE_PROB = args.noise_prob
    if args.init_from:
        model = Wav2Vec2ForCTC.from_pretrained(args.init_from, attn_implementation=args.attention)
        prev = json.load(open(os.path.join(args.init_from, 'train_state.json')))
    else:
        config = model_config(args)
        # the exported model keeps Hugging Face's default (export.py): only training's kernels change
        config._attn_implementation = args.attention
        model = Wav2Vec2ForCTC(config)
        prev = None
    # Hugging Face marks the waveform itself as requiring grad in training (for gradient checkpointing), so every
    # step also computed the gradient with respect to the 1-channel input of the first conv: 60 ms of a 300 ms step.
    # The conv weights still train; only that unused input gradient goes. (A private attribute: say so if it is gone.)
    if not hasattr(model.wav2vec2.feature_extractor, '_requires_grad'):
        print('warning: transformers no longer has Wav2Vec2FeatureEncoder._requires_grad; steps may be slower',
              flush=True)
    model.wav2vec2.feature_extractor._requires_grad = False
    if args.bf16:
        keep_float32(model.wav2vec2.encoder.pos_conv_embed)
    model.config.mask_time_prob = args.mask_time_prob
    for name in ('hidden_dropout', 'attention_dropout'):
        setattr(model.config, name, args.dropout)
    for mod in model.modules():
        if isinstance(mod, torch.nn.Dropout) and mod.p in (0.1, args.dropout) and args.init_from:
            mod.p = args.dropout
    if args.trim_tail:
        print(f'--trim-tail {args.trim_tail}: {train_ds.trim_tails(args.trim_tail):.1%} of the training audio cut',
              flush=True)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    print(f'model: {n_params} parameters; {len(train_ds)} training utterances '
          f'({sum(train_ds.lengths) / SAMPLE_RATE / 3600:.2f} h)', flush=True)
    labels = [torch.tensor(encode(it['text'])) for it in train_ds.items]

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and 'masked_spec_embed' not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and 'masked_spec_embed' not in n)]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.01}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=args.lr, betas=(0.9, 0.98), eps=1e-8)

    def lr_at(step):
        # cosine decay over --steps, or over --max-minutes when that comes first (a loaded machine)
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        p = (step - args.warmup) / max(1, args.steps - args.warmup)
        if args.max_minutes:
            p = max(p, (time.time() - t0) / (args.max_minutes * 60))
        return args.lr * (0.03 + 0.97 * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))

    os.makedirs(args.out, exist_ok=True)
    state = {'seed': SEED, 'args': vars(args), 'parameters': n_params, 'training_utterances': len(train_ds),
             'training_hours': sum(train_ds.lengths) / SAMPLE_RATE / 3600, 'evals': [], 'previous_phase': prev}

    def save(step, note):
        model.save_pretrained(args.out)
        state.update(step=step, note=note, train_seconds=time.time() - t0, audio_seconds_seen=seen / SAMPLE_RATE)
        with open(os.path.join(args.out, 'train_state.json'), 'w') as f:
            json.dump(state, f, indent=1)

    t0 = time.time()
    step, seen, epoch, ema = 0, 0, 0, None
    max_samples = int(args.batch_seconds * SAMPLE_RATE)
    grid = int(args.pad_grid * SAMPLE_RATE)
    done = False
    while not done:
        epoch += 1
        # SortaGrad: the first epoch goes from the shortest utterances to the longest (CTC finds alignments on
        # short ones first), later epochs are shuffled
        batches = make_batches(train_ds.lengths, max_samples, rb, shuffle=not (args.sortagrad and epoch == 1),
                               grid=grid)
        for b in batches:
            waves = [augment(train_ds.wave(i), ra) for i in b]
            x, lens = collate(waves, grid)
            tgt = [labels[i] for i in b]
            model.config.apply_spec_augment = step >= args.mask_after
            for g in opt.param_groups:
                g['lr'] = lr_at(step)
            with torch.autocast('cpu', dtype=torch.bfloat16, enabled=args.bf16):
                logits = model(x).logits
            lp = F.log_softmax(logits.float(), -1).transpose(0, 1)
            ol = out_lengths(model, lens)
            tl = torch.tensor([len(t) for t in tgt])
            loss = F.ctc_loss(lp, torch.cat(tgt), ol, tl, blank=0, reduction='mean', zero_infinity=True)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gn = torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            step += 1
            seen += int(lens.sum())
            ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
            el = time.time() - t0
            if step % 25 == 0:
                print(f'step {step} epoch {epoch} loss {ema:.3f} lr {lr_at(step):.2e} gnorm {float(gn):.2f} '
                      f'{seen / SAMPLE_RATE / el:.1f} audio-s/s elapsed {el / 60:.1f} min', flush=True)
            stop = step >= args.steps or (args.max_minutes and el > args.max_minutes * 60) or \
                (args.stop_at and step >= args.stop_at)
            if step % args.ckpt_every == 0 or stop:
                state['lr_at_stop'] = lr_at(step)
                save(step, 'final' if step >= args.steps else
                     ('stopped at --stop-at' if args.stop_at and step >= args.stop_at else
                      ('stopped early at --max-minutes' if stop else 'checkpoint')))
            if step % args.eval_every == 0 and not stop:
                res, _ = eval_all(model, train_ds, held_ds, n_train=100, n_held=200)
                state['evals'].append({'step': step, 'results': res})
                print(f'eval step {step}: {fmt(res)}', flush=True)
            if stop:
                done = True
                break
    model.eval()
    res, hyps = eval_all(model, train_ds, held_ds, n_train=100 if args.final_heldout else 300,
                         n_held=args.final_heldout)
    state['final_eval'] = res
    save(step, state['note'])
    with open(os.path.join(args.out, 'eval.json'), 'w') as f:
        json.dump({'results': res, 'hypotheses': {held_ds.items[i]['id']: h for i, h in hyps.items()}}, f, indent=1)
    print(f'final eval step {step}: {fmt(res)}', flush=True)
    print(f'training took {(time.time() - t0) / 60:.1f} min', flush=True)


if __name__ == '__main__':
    main()
