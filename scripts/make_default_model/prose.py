"""Sentences of real English prose, normalised to the model's labels (the second generation's text, issue #27).

Sources (Debian packages; licences from /usr/share/doc/PACKAGE/copyright):
- King James Bible (bible-kjv-text, read with bible-kjv's `bible`): the text is public domain (1611); verses are
  split into clauses at . ; : ? ! so that they fit the recipe's 3-18 words.
- WordNet 3.0 (wordnet-base): the glosses (definitions) and their quoted example sentences, under the WordNet 3.0
  licence (Princeton; use, copy, modify and distribute for any purpose, keeping its notice).
Not used: `fortunes` (the package's BSD licence covers the program; the cookies are quotations of many authors
with no licence of their own) and `dict-gcide` (GPL-2+/GPL-3+ text, whose quotations are mostly 1913 Webster's:
more archaic English, and a copyleft licence on text that is committed here).
"""
import re
import subprocess
from collections import Counter

from normalise import normalise

MIN_WORDS, MAX_WORDS = 3, 18  # as the first generation's sentences (2-18 words), fitting 24 s batches
MAX_CHARS = 120               # the first generation's longest was 123
WORDNET = '/usr/share/wordnet'


def kjv_clauses():
    out = subprocess.run(['bible', '-l', '100000', 'gen1:1-rev22:21'], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        m = re.match(r'\s+\d+ (.*)', line)
        if m:
            yield from re.split(r'(?<=[.;:?!])\s+', m.group(1))


def wordnet_texts():
    """Each gloss's definitions (split at ';') and its quoted examples."""
    for pos in ('noun', 'verb', 'adj', 'adv'):
        with open(f'{WORDNET}/data.{pos}') as f:
            for line in f:
                if line.startswith('  ') or ' | ' not in line:  # the licence header
                    continue
                gloss = line.split(' | ', 1)[1].strip()
                yield from re.findall(r'"([^"]+)"', gloss)
                yield from (d for d in re.sub(r'"[^"]*"', '', gloss).split(';') if d.strip())


SOURCES = {'kjv': kjv_clauses, 'wordnet': wordnet_texts}


def fits(sentence):
    n = len(sentence.split())
    return MIN_WORDS <= n <= MAX_WORDS and len(sentence) <= MAX_CHARS


def prose_sentences():
    """{normalised sentence: source}, first source wins; prints what each source gave and lost."""
    out = {}
    for name, read in SOURCES.items():
        raw = rejected = short_long = 0
        for text in read():
            raw += 1
            s = normalise(text)
            if s is None:
                rejected += 1
            elif not fits(s):
                short_long += 1
            else:
                out.setdefault(s, name)
        kept = sum(1 for v in out.values() if v == name)
        print(f'prose {name}: {raw} pieces, {rejected} not normalisable, {short_long} outside {MIN_WORDS}-{MAX_WORDS} '
              f'words / {MAX_CHARS} chars, {kept} unique kept', flush=True)
    return out


def word_counts(sentences):
    return Counter(w for s in sentences for w in s.split())
