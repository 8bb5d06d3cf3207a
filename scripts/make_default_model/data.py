"""Text and synthetic speech for the default model.

    python data.py text  [--vocab small|full] --train N --heldout-sentences M   # sentence lists -> text/ (committed)
    python data.py audio [--jobs 2] [--limit N]              # espeak-ng + sox -> work/*.npy, work/heldout/*.wav

Text: our grammar (grammar.py) for 75 % of the sentences, and for 25 % random word sequences, so the model also
hears words in orders the grammar never produces. `--vocab small` (the default model): a seeded subset of the
grammar's open word classes, 696 words in all, and the word sequences use the same words; `--vocab full` (the first
model): the whole grammar (~1,700 words) and Faker's English word list (faker.providers.lorem.en_US, ~960 common
words) for the sequences. Sentences are unique; the held-out sentences are drawn from the same
pool and never appear in training. DEMO_SENTENCE is excluded everywhere.

Audio: every utterance is fully described by a spec (voice, speed, pitch, word gap, sox effects) drawn from a
random.Random seeded by (SEED, split, index), so the result does not depend on the number of jobs or the order.
"""
import argparse
import gzip
import json
import os

# libgomp's default busy-waiting makes 2 threads ~25x slower on a shared, loaded 2-core machine
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import random
import re
import subprocess
import sys
import time
from multiprocessing import Pool

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (ACCENTS, DEMO_SENTENCE, HELDOUT_VARIANTS, LABELS, SAMPLE_RATE, SEED, TEXT, TRAIN_VARIANTS, WORK,
                    to_transcript)
from grammar import Grammar

MAX_WORDS = 18


def faker_words():
    from faker.providers.lorem.en_US import Provider
    return sorted({w for w in Provider.word_list if re.fullmatch(r"[A-Za-z']+", w) and w not in ('Mr', 'Mrs', 'PM', 'TV')})


def salad_words(vocab, g):
    """Words for the 25 % random word sequences: Faker's list with the full vocabulary, the grammar's own
    (restricted) words with the small one, so that no word is outside the vocabulary."""
    if vocab == 'full':
        return faker_words()
    from grammar import words_in_grammar
    return sorted(words_in_grammar(g))


def make_sentences(n, seed, vocab='small'):
    g = Grammar(vocab, seed)
    words = salad_words(vocab, g)
    r = random.Random(seed)
    seen, out = set(), []
    while len(out) < n:
        if r.random() < 0.75:
            s = g.sentence(r)
        else:
            s = ' '.join(r.choice(words) for _ in range(r.randint(3, 10)))
        s = ' '.join(s.split()).lower()
        s = re.sub(r"\bi\b", 'I', s)
        s = re.sub(r"\bi'", "I'", s)
        t = to_transcript(s)
        if len(s.split()) > MAX_WORDS or t == DEMO_SENTENCE or t in seen:
            continue
        assert all(c in LABELS for c in t), s
        seen.add(t)
        out.append(s)
    return out


def cmd_text(args):
    os.makedirs(TEXT, exist_ok=True)
    # --more-train sentences come from the same stream after the first --train + held-out ones, so the held-out set
    # (drawn from those first ones) and the first --train utterances stay those of a run without them: models trained
    # on more text are measured on the same held-out utterances
    first = args.train + args.heldout_sentences
    stream = make_sentences(first + args.more_train, SEED, args.vocab)
    sents = stream[:first]
    r = random.Random(SEED + 1)
    r.shuffle(sents)
    held, train = sents[:args.heldout_sentences], sents[args.heldout_sentences:]
    all_train = train + stream[first:]
    assert not {to_transcript(s) for s in held} & {to_transcript(s) for s in all_train}
    write_train_text(all_train)
    # held-out utterance specs: unseen sentences (training voices), unseen voice (training sentences),
    # unseen voice and sentences
    n_us = args.heldout_sentences * 2 // 3
    rows = []
    for i, s in enumerate(held[:n_us]):
        rows.append(spec('unseen_sentences', i, s, TRAIN_VARIANTS))
    for i, s in enumerate(held[n_us:]):
        rows.append(spec('unseen_voice_and_sentences', i, s, HELDOUT_VARIANTS))
    rv = random.Random(SEED + 2)
    for i, s in enumerate(rv.sample(train, args.heldout_sentences - n_us)):
        rows.append(spec('unseen_voice', i, s, HELDOUT_VARIANTS))
    with open(os.path.join(TEXT, 'heldout.tsv'), 'w') as f:
        f.write('id\tsubset\tvoice\tspeed\tpitch\tgap\tsox_effects\ttext\n')
        for row in rows:
            f.write('\t'.join(str(row[k]) for k in ('id', 'subset', 'voice', 'speed', 'pitch', 'gap', 'sox', 'text')) + '\n')
    words_train = {w for s in all_train for w in s.split()}
    oov = sum(1 for s in held for w in s.split() if w not in words_train) / sum(len(s.split()) for s in held)
    print(f'text: {len(all_train)} training sentences, {len(held)} held-out sentences, {len(words_train)} distinct '
          f'training words, held-out word OOV rate {oov:.2%}; demo sentence words in training: '
          f'{[w for w in DEMO_SENTENCE.lower().split() if w.lower() in {x.lower() for x in words_train}]}')


def write_train_text(train):
    """text/train.txt.gz, byte-for-byte reproducible (gzip mtime 0, no file name)."""
    with open(os.path.join(TEXT, 'train.txt.gz'), 'wb') as raw:
        with gzip.GzipFile(filename='', mode='wb', fileobj=raw, mtime=0, compresslevel=9) as f:
            f.write(('\n'.join(train) + '\n').encode())


def read_train_text():
    with gzip.open(os.path.join(TEXT, 'train.txt.gz'), 'rt') as f:
        return [l.strip() for l in f if l.strip()]


def spec(subset, i, text, variants):
    """A deterministic utterance spec for item i of a subset."""
    r = random.Random(f'{SEED}/{subset}/{i}')
    voice = f'{r.choice(ACCENTS)}+{r.choice(variants)}'
    speed = r.randint(120, 220)
    pitch = r.randint(15, 85)
    gap = r.choice([0, 0, 0, 0, 1, 2, 4])
    return {'id': f'{subset}-{i:05d}', 'subset': subset, 'voice': voice, 'speed': speed, 'pitch': pitch,
            'gap': gap, 'sox': sox_effects(r), 'text': text}


def sox_effects(r):
    """The sox augmentation chain, drawn from r (the draws stay in this order: held-out specs depend on it)."""
    fx = []
    x = r.random()
    if x < 0.15:
        fx += ['rate', '-h', '8000', 'sinc', '300-3400']  # telephone band
    elif x < 0.40:
        fx += ['rate', '-h', str(r.choice([11025, 12000, 24000, 32000, 44100, 48000]))]  # other source rate
    if r.random() < 0.3:
        fx += ['reverb', str(r.randint(10, 70)), str(r.randint(20, 80)), str(r.randint(30, 100))]
    if r.random() < 0.2:
        fx += ['equalizer', str(r.choice([250, 500, 1000, 2000, 4000])), '1q', str(r.randint(-10, 10))]
    if r.random() < 0.15:
        fx += ['overdrive', str(r.randint(5, 20))]
    fx += ['rate', '-h', str(SAMPLE_RATE), 'gain', '-n', str(-r.randint(1, 20))]
    return ' '.join(fx)


def synth(sp):
    """espeak-ng -> sox -> int16 samples at 16 kHz."""
    wav = subprocess.run(['espeak-ng', '-v', sp['voice'], '-s', str(sp['speed']), '-p', str(sp['pitch']),
                          '-g', str(sp['gap']), '--stdout', sp['text']], capture_output=True, check=True).stdout
    raw = subprocess.run(['sox', '-R', '-D', '-t', 'wav', '-', '-t', 'raw', '-e', 'signed', '-b', '16', '-c', '1',
                          '-r', str(SAMPLE_RATE), '-'] + sp['sox'].split(), input=wav, capture_output=True,
                         check=True).stdout
    return np.frombuffer(raw, dtype=np.int16)


def read_tsv(path):
    with open(path) as f:
        head = f.readline().rstrip('\n').split('\t')
        return [dict(zip(head, line.rstrip('\n').split('\t'))) for line in f if line.strip()]


def save_set(name, specs, jobs):
    t0 = time.time()
    with Pool(jobs) as pool:
        audio = pool.map(synth, specs, chunksize=16)
    lengths = np.array([len(a) for a in audio], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    np.save(os.path.join(WORK, f'{name}_audio.npy'), np.concatenate(audio))
    with open(os.path.join(WORK, f'{name}_index.json'), 'w') as f:
        json.dump({'offsets': offsets.tolist(), 'lengths': lengths.tolist(),
                   'items': [{k: s[k] for k in ('id', 'subset', 'voice', 'text')} for s in specs]}, f)
    print(f'audio {name}: {len(specs)} utterances, {lengths.sum() / SAMPLE_RATE / 3600:.2f} h, '
          f'{time.time() - t0:.0f} s', flush=True)
    return audio


def cmd_audio(args):
    os.makedirs(WORK, exist_ok=True)
    train = read_train_text()
    if args.limit:
        train = train[:args.limit]
    specs = [spec('train', i, s, TRAIN_VARIANTS) for i, s in enumerate(train)]
    held = read_tsv(os.path.join(TEXT, 'heldout.tsv'))
    for h in held:
        for k in ('speed', 'pitch', 'gap'):
            h[k] = int(h[k])
        h['sox'] = h.pop('sox_effects')
    audio = save_set('heldout', held, args.jobs)
    import soundfile as sf
    os.makedirs(os.path.join(WORK, 'heldout'), exist_ok=True)
    with open(os.path.join(WORK, 'heldout', 'manifest.tsv'), 'w') as f:
        f.write('path\tsubset\ttext\n')
        for h, a in zip(held, audio):
            p = os.path.join(WORK, 'heldout', h['id'] + '.wav')
            sf.write(p, a, SAMPLE_RATE, subtype='PCM_16')
            f.write(f"{p}\t{h['subset']}\t{to_transcript(h['text'])}\n")
    save_set('train', specs, args.jobs)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    t = sub.add_parser('text')
    t.add_argument('--train', type=int, default=20000)
    t.add_argument('--more-train', type=int, default=0,
                   help='further training sentences that leave the held-out set as --train alone draws it')
    t.add_argument('--heldout-sentences', type=int, default=450)
    t.add_argument('--vocab', choices=['small', 'full'], default='small',
                   help="small: ~680 words (grammar.SMALL_VOCAB; the default model); full: ~2,200 words with Faker's")
    a = sub.add_parser('audio')
    a.add_argument('--jobs', type=int, default=2)
    a.add_argument('--limit', type=int, default=0)
    args = ap.parse_args()
    {'text': cmd_text, 'audio': cmd_audio}[args.cmd](args)


if __name__ == '__main__':
    main()
