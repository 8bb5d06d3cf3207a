"""Speech from several synthesizers, through one sox chain, as int16 samples at 16 kHz.

A row (data_gen2.py's held-out TSV columns) names an engine and a voice; every engine writes a WAV file at its own
rate (flite kal 8 kHz, festival's HTS slt 32 kHz, the rest 16 kHz) and sox resamples it in the row's chain. Rows
are synthesised in chunks so that festival, whose start-up (loading its lexicon) took ~2.5 s against well under a
second for an utterance, starts once per chunk.
"""
import os
import subprocess
import tempfile
import wave
from multiprocessing import Pool

import numpy as np

from common import SAMPLE_RATE

CHUNK = 32
SHARD = 1024  # rows per saved shard (synth_all's shards)


def espeak_ng(row, path):
    wav = subprocess.run(['espeak-ng', '-v', row['voice'], '-s', str(row['speed']), '-p', str(row['pitch']),
                          '-g', str(row['gap']), '--stdout', row['text']], capture_output=True, check=True).stdout
    with open(path, 'wb') as f:
        f.write(wav)


def flite(row, path):
    subprocess.run(['flite', '-voice', row['voice'], '-t', row['text'], '-o', path], capture_output=True, check=True)


def pico(row, path):
    subprocess.run(['pico2wave', '-l', row['voice'], '-w', path, row['text']], capture_output=True, check=True)


def festival(rows_paths, tmp):
    """All of a chunk's festival rows in one festival process (the text is [a-zA-Z' ] only: safe in a string).
    The script goes in a file: `festival --batch` reading stdin exited 0 having written nothing."""
    if not rows_paths:
        return
    script = os.path.join(tmp, 'festival.scm')
    with open(script, 'w') as f:
        f.writelines(f'(voice_{row["voice"]})\n(utt.save.wave (SynthText "{row["text"]}") "{path}" \'riff)\n'
                     for row, path in rows_paths)
    subprocess.run(['festival', '-b', script], capture_output=True, check=True)


ENGINES = {'espeak-ng': espeak_ng, 'flite': flite, 'pico': pico}


def to_16k(path, sox_effects):
    # flite's kal writes 8 kHz, where the chain's equaliser at 4 kHz would be at Nyquist (sox refuses it): a source
    # below 16 kHz is brought up to it before the chain
    with wave.open(path) as w:
        up = ['rate', '-h', str(SAMPLE_RATE)] if w.getframerate() < SAMPLE_RATE else []
    raw = subprocess.run(['sox', '-R', '-D', path, '-t', 'raw', '-e', 'signed', '-b', '16', '-c', '1',
                          '-r', str(SAMPLE_RATE), '-'] + up + sox_effects.split(), capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype=np.int16)


def synth_chunk(rows):
    with tempfile.TemporaryDirectory(prefix='synth-') as tmp:
        paths = [os.path.join(tmp, f'{i}.wav') for i in range(len(rows))]
        festival([(r, p) for r, p in zip(rows, paths) if r['engine'] == 'festival'], tmp)
        for r, p in zip(rows, paths):
            if r['engine'] != 'festival':
                ENGINES[r['engine']](r, p)
        return [to_16k(p, r['sox_effects']) for r, p in zip(rows, paths)]


def synth_rows(rows, jobs):
    chunks = [rows[i:i + CHUNK] for i in range(0, len(rows), CHUNK)]
    if jobs <= 1:
        done = [synth_chunk(c) for c in chunks]
    else:
        with Pool(jobs) as pool:
            done = pool.map(synth_chunk, chunks)
    return [a for chunk in done for a in chunk]


def synth_all(rows, jobs, shards=None):
    """int16 arrays in the rows' order; the result does not depend on jobs (every row carries its whole spec).
    With a shards folder, every SHARD rows are saved there as they finish and found there on a rerun: the training
    set takes hours on 2 cores, longer than one sitting, so a stopped run resumes where it stopped."""
    if shards is None:
        return synth_rows(rows, jobs)
    os.makedirs(shards, exist_ok=True)
    audio = []
    for start in range(0, len(rows), SHARD):
        part = rows[start:start + SHARD]
        # the shard's name holds its rows' ids, so a changed row list never reuses a stale shard
        path = os.path.join(shards, f'{part[0]["id"]}-{part[-1]["id"]}.npz')
        if not os.path.exists(path):
            done = synth_rows(part, jobs)
            tmp = path + '.tmp.npz'
            np.savez(tmp, samples=np.concatenate(done), lengths=np.array([len(a) for a in done], dtype=np.int64))
            os.replace(tmp, path)  # a shard is there whole or not at all
            print(f'  shard {os.path.basename(path)}: {start + len(part)}/{len(rows)}', flush=True)
        with np.load(path) as z:
            audio += np.split(z['samples'], np.cumsum(z['lengths'])[:-1])
    return audio
