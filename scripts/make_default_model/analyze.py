"""Breaks the held-out greedy errors (work/model/eval.json) down by voice variant kind, sox effect and text source.

    python analyze.py [work/model]
"""
import json
import os
import random
import re
import sys

os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DEMO_SENTENCE, SEED, to_transcript
from data import MAX_WORDS, read_tsv, salad_words
from grammar import Grammar
from train import edit_distance


def sentence_sources(n):
    """Replays data.make_sentences, remembering which generator made each sentence."""
    g = Grammar('small', SEED)
    words, r = salad_words('small', g), random.Random(SEED)
    seen, out = set(), {}
    while len(out) < n:
        if r.random() < 0.75:
            s, src = g.sentence(r), 'grammar'
        else:
            s, src = ' '.join(r.choice(words) for _ in range(r.randint(3, 10))), 'word salad'
        s = re.sub(r"\bi'", "I'", re.sub(r"\bi\b", 'I', ' '.join(s.split()).lower()))
        t = to_transcript(s)
        if len(s.split()) > MAX_WORDS or t == DEMO_SENTENCE or t in seen:
            continue
        seen.add(t)
        out[t] = src
    return out


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'work', 'model')
    hyps = json.load(open(os.path.join(d, 'eval.json')))['hypotheses']
    rows = read_tsv(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'text', 'heldout.tsv'))
    src = sentence_sources(24450)  # the held-out sentences are drawn from the stream's first 24,000 + 450 (data.py)
    odd = ('whisper', 'croak', 'robo', 'Robot', 'klatt', 'Demonic', 'Storm', 'Tweaky')
    groups = {}
    for row in rows:
        ref = to_transcript(row['text']).replace('|', ' ')
        hyp = hyps[row['id']]
        variant = row['voice'].split('+')[1]
        fx = row['sox_effects']
        keys = [('subset', row['subset']), ('text', src.get(to_transcript(row['text']), '?')),
                ('voice', 'unusual variant' if any(o in variant for o in odd) else 'plain variant'),
                ('accent', row['voice'].split('+')[0]),
                ('effect', 'telephone' if 'sinc' in fx else 'other rate' if fx.count('rate') > 1 else 'none'),
                ('reverb', 'reverb' in fx), ('overdrive', 'overdrive' in fx),
                ('speed', 'fast (>190)' if int(row['speed']) > 190 else 'slow (<140)' if int(row['speed']) < 140 else 'medium')]
        for k in keys:
            s = groups.setdefault(k, [0, 0, 0, 0, 0])
            s[0] += edit_distance(ref, hyp); s[1] += len(ref)
            s[2] += edit_distance(ref.split(), hyp.split()); s[3] += len(ref.split()); s[4] += 1
    for k in sorted(groups, key=str):
        s = groups[k]
        print(f'{k[0]:10s} {str(k[1]):28s} n={s[4]:4d}  CER {s[0] / s[1]:6.2%}  WER {s[2] / s[3]:6.2%}')


if __name__ == '__main__':
    main()
