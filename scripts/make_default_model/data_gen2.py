"""The second generation's data (issue #27): real prose held out by sentence and by word, several synthesizers.

    python data_gen2.py text  [--grammar 12000] [--heldout-words 0.10]   # -> text/gen2/ (committed)
    python data_gen2.py audio [--train 48000] [--jobs 2] [--per-subset N]  # -> work/gen2/ (DEFAULT_MODEL_WORK=work/gen2 for train.py)

Text: prose.py's sentences (King James Bible, WordNet glosses and examples), plus the first --grammar sentences of
the first generation's training text (text/train.txt.gz), so the first generation's held-out set stays in domain.
Held out by word: a seeded --heldout-words share of the prose words that occur 3-100 times in the prose and never
in the first generation's text; every sentence holding one leaves the training text. The test list is drawn from
those sentences that hold at least two words absent from the training text (drawn from all of them, only 16-26 %
of the list's distinct words were unseen in trials; the issue asks for at least 30 %).

Audio: each utterance's spec (voice source, engine, voice, speed, pitch, sox chain) is drawn from a random.Random
seeded by (SEED, 'gen2', subset, index). espeak-ng keeps the first generation's speed, pitch and gap draws; the
other engines are synthesised plainly, then sox changes tempo (0.75-1.25, speech mode) and pitch (+-300 cents),
since pico has no such controls and one method keeps the engines alike. Then the first generation's sox chain
(data.sox_effects: telephone band, other rates, reverb, equaliser, overdrive, 16 kHz, level).
"""
import argparse
import gzip
import json
import os
import random
import sys
import time

os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np

from common import (DEMO_SENTENCE, HELDOUT_SOURCE, SAMPLE_RATE, SEED, TEXT, TRAIN_SOURCES, VOICE_SOURCES, WORK,
                    to_transcript)
from data import read_tsv, sox_effects
from prose import prose_sentences, word_counts
from synth import synth_all

TEXT2 = os.path.join(TEXT, 'gen2')
WORK2 = WORK if os.path.basename(WORK) == 'gen2' else os.path.join(WORK, 'gen2')
COLUMNS = ('id', 'subset', 'source', 'engine', 'voice', 'speed', 'pitch', 'gap', 'sox_effects', 'text')
HELDOUT_WORD_COUNTS = (3, 100)  # prose occurrences of a candidate held-out word: real words, not one-off names


def read_lines(path):
    with gzip.open(path, 'rt') as f:
        return [l.strip() for l in f if l.strip()]


def write_lines(path, lines):
    """Gzipped, byte-for-byte reproducible (mtime 0, no file name)."""
    with open(path, 'wb') as raw, gzip.GzipFile(filename='', mode='wb', fileobj=raw, mtime=0, compresslevel=9) as f:
        f.write(('\n'.join(lines) + '\n').encode())


def heldout_words(counts, known, share):
    lo, hi = HELDOUT_WORD_COUNTS
    candidates = sorted(w for w, n in counts.items() if lo <= n <= hi and len(w) >= 4 and "'" not in w
                        and w not in known)
    return set(random.Random(SEED + 10).sample(candidates, int(share * len(candidates))))


def split_text(args):
    """(training sentences, test sentences, held-out words) from the prose and the first generation's text."""
    gen1 = read_lines(os.path.join(TEXT, 'train.txt.gz'))
    gen1_held = {r['text'] for r in read_tsv(os.path.join(TEXT, 'heldout.tsv'))}
    # the first generation's held-out sentences stay unseen, as does the demonstration sentence
    prose = sorted(s for s in prose_sentences() if to_transcript(s) != DEMO_SENTENCE and s not in gen1_held)
    held_words = heldout_words(word_counts(prose), word_counts(gen1 + sorted(gen1_held)), args.heldout_words)
    out = {s for s in prose if not held_words.isdisjoint(s.split())}
    grammar = gen1[:args.grammar]
    taken = out | set(grammar)
    train = [s for s in prose if s not in taken] + grammar
    random.Random(SEED + 11).shuffle(train)
    train_words = word_counts(train)
    pool = [s for s in sorted(out) if sum(w not in train_words for w in s.split()) >= 2]
    test = random.Random(SEED + 12).sample(pool, args.test_sentences)
    assert not set(test) & set(train)
    print(f'text gen2: {len(train)} training sentences ({len(train) - len(grammar)} prose, {len(grammar)} grammar), '
          f'{len(train_words)} distinct training words; {len(held_words)} held-out words take {len(out)} prose '
          f'sentences out; test list {len(test)} sentences (from {len(pool)} with 2+ unseen words): '
          + unseen_share(test, train_words), flush=True)
    return train, test, held_words


def unseen_share(test, train_words):
    distinct = {w for s in test for w in s.split()}
    unseen = [w for w in distinct if w not in train_words]
    running = [w for s in test for w in s.split()]
    return (f'{len(unseen)} of {len(distinct)} distinct words ({len(unseen) / len(distinct):.1%}) and '
            f'{sum(w not in train_words for w in running) / len(running):.1%} of the words never occur in the '
            f'training text')


def gen2_spec(subset, i, text, sources):
    r = random.Random(f'{SEED}/gen2/{subset}/{i}')
    # training: by each source's share; the held-out source (share 0) is drawn alone, weight 1
    source = r.choices(sources, weights=[VOICE_SOURCES[s]['share'] or 1 for s in sources])[0]
    engine, voice = r.choice(VOICE_SOURCES[source]['voices'])
    row = {'id': f'{subset}-{i:05d}', 'subset': subset, 'source': source, 'engine': engine, 'voice': voice,
           'speed': '-', 'pitch': '-', 'gap': '-', 'text': text}
    if engine == 'espeak-ng':  # the first generation's draws
        row.update(speed=r.randint(120, 220), pitch=r.randint(15, 85), gap=r.choice([0, 0, 0, 0, 1, 2, 4]))
        row['sox_effects'] = sox_effects(r)
    else:
        row['sox_effects'] = f'tempo -s {r.uniform(0.75, 1.25):.2f} pitch {r.randint(-300, 300)} ' + sox_effects(r)
    return row


def cmd_text(args):
    os.makedirs(TEXT2, exist_ok=True)
    train, test, held_words = split_text(args)
    write_lines(os.path.join(TEXT2, 'train.txt.gz'), train)
    with open(os.path.join(TEXT2, 'heldout_words.txt'), 'w') as f:
        f.write('\n'.join(sorted(held_words)) + '\n')
    n = args.test_sentences * 2 // 3
    rows = [gen2_spec('unseen_words', i, s, TRAIN_SOURCES) for i, s in enumerate(test[:n])]
    rows += [gen2_spec('unseen_source_and_words', i, s, [HELDOUT_SOURCE]) for i, s in enumerate(test[n:])]
    # sentences voiced in training (the audio stage voices the first --train ones), from the prose
    grammar = set(read_lines(os.path.join(TEXT, 'train.txt.gz'))[:args.grammar])
    voiced = [s for s in train[:args.voiced] if s not in grammar]
    seen = random.Random(SEED + 13).sample(voiced, args.test_sentences - n)
    rows += [gen2_spec('unseen_source', i, s, [HELDOUT_SOURCE]) for i, s in enumerate(seen)]
    with open(os.path.join(TEXT2, 'heldout.tsv'), 'w') as f:
        f.write('\t'.join(COLUMNS) + '\n')
        f.writelines('\t'.join(str(row[k]) for k in COLUMNS) + '\n' for row in rows)


def gen1_rows():
    """The first generation's 600 held-out utterances (espeak-ng), as subsets gen1_*, so train.py scores them too."""
    rows = read_tsv(os.path.join(TEXT, 'heldout.tsv'))
    for r in rows:
        r.update(subset='gen1_' + r['subset'], source='espeak-ng', engine='espeak-ng')
    return rows


def save_set(name, rows, jobs):
    t0 = time.time()
    audio = synth_all(rows, jobs, os.path.join(WORK2, f'{name}_shards'))
    seconds = time.time() - t0
    lengths = np.array([len(a) for a in audio], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    np.save(os.path.join(WORK2, f'{name}_audio.npy'), np.concatenate(audio))
    with open(os.path.join(WORK2, f'{name}_index.json'), 'w') as f:
        json.dump({'offsets': offsets.tolist(), 'lengths': lengths.tolist(),
                   'items': [{k: r[k] for k in ('id', 'subset', 'source', 'engine', 'voice', 'text')} for r in rows]}, f)
    print(f'audio {name}: {len(rows)} utterances, {lengths.sum() / SAMPLE_RATE / 3600:.3f} h, {seconds:.0f} s '
          f'({seconds / len(rows) * 1000:.0f} s per 1,000)', flush=True)
    print_sources(rows, audio)
    return audio


def print_sources(rows, audio):
    """Per source and engine: utterances, seconds of audio per word (a plausibility check of each synthesizer)."""
    groups = {}
    for r, a in zip(rows, audio):
        groups.setdefault((r['source'], r['engine']), []).append((len(a) / SAMPLE_RATE, len(r['text'].split()),
                                                                   np.abs(a).max() / 32768))
    for (source, engine), g in sorted(groups.items()):
        sec, words, peak = (np.array(x) for x in zip(*g))
        print(f'  {source:11s} {engine:10s} {len(g):4d} utt  {sec.min():5.2f}-{sec.max():5.2f} s  '
              f'{sec.sum() / words.sum():.3f} s/word  peak {peak.min():.2f}-{peak.max():.2f}', flush=True)


def write_wavs(rows, audio):
    import soundfile as sf
    folder = os.path.join(WORK2, 'heldout')
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'manifest.tsv'), 'w') as f:
        f.write('path\tsubset\tsource\ttext\n')
        for r, a in zip(rows, audio):
            path = os.path.join(folder, r['id'] + '.wav')
            sf.write(path, a, SAMPLE_RATE, subtype='PCM_16')
            f.write(f"{path}\t{r['subset']}\t{r['source']}\t{to_transcript(r['text'])}\n")


def cmd_audio(args):
    os.makedirs(WORK2, exist_ok=True)
    held = read_tsv(os.path.join(TEXT2, 'heldout.tsv')) + ([] if args.per_subset else gen1_rows())
    if args.per_subset:  # a smoke test: the first N of each subset
        held = [r for r in held if int(r['id'].rsplit('-', 1)[1]) < args.per_subset]
    write_wavs(held, save_set('heldout', held, args.jobs))
    train = read_lines(os.path.join(TEXT2, 'train.txt.gz'))[:args.train]
    save_set('train', [gen2_spec('train', i, s, TRAIN_SOURCES) for i, s in enumerate(train)], args.jobs)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    t = sub.add_parser('text')
    t.add_argument('--grammar', type=int, default=12000, help="first generation's training sentences to keep")
    t.add_argument('--heldout-words', type=float, default=0.10, help='share of the candidate words held out')
    t.add_argument('--test-sentences', type=int, default=450)
    t.add_argument('--voiced', type=int, default=48000,
                   help="unseen_source's sentences come from the first N training sentences: audio --train N or more")
    a = sub.add_parser('audio')
    a.add_argument('--train', type=int, default=48000, help='training utterances: the first N training sentences')
    a.add_argument('--jobs', type=int, default=2)
    a.add_argument('--per-subset', type=int, default=0, help='smoke test: only the first N held-out utterances of each '
                   'subset (and no gen1 ones)')
    args = ap.parse_args()
    {'text': cmd_text, 'audio': cmd_audio}[args.cmd](args)


if __name__ == '__main__':
    main()
