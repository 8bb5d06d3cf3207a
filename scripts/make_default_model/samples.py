"""Writes the sample audio files in samples/ (committed) with held-out voice variants, and samples/samples.json
with the expected transcripts. Optionally checks them against a trained model.

    python samples.py [--check work/model]
"""
import argparse
import json
import os

# libgomp's default busy-waiting makes 2 threads ~25x slower on a shared, loaded 2-core machine
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DEMO_SENTENCE, HERE, to_transcript

OUT = os.path.normpath(os.path.join(HERE, '..', '..', 'samples'))

# (file, voice, speed, pitch, sox effects after espeak-ng, output rate, text)
SAMPLES = [
    ('curiosity-16k.wav', 'en-us+f4', 165, 50, [], 16000, DEMO_SENTENCE.lower().replace('i ', 'I ', 1)),
    ('curiosity-44k.wav', 'en-gb-x-rp+m6', 150, 45, ['reverb', '20'], 44100, DEMO_SENTENCE.lower().replace('i ', 'I ', 1)),
    ('telephone-8k.wav', 'en-us+m6', 160, 55, ['sinc', '300-3400'], 8000,
     'the old captain found a small wooden box near the river'),
    ('question-16k.wav', 'en-gb-scotland+f4', 175, 60, [], 16000, 'where did you leave the key to the kitchen door'),
]


def make():
    os.makedirs(OUT, exist_ok=True)
    meta = []
    for name, voice, speed, pitch, fx, rate, text in SAMPLES:
        wav = subprocess.run(['espeak-ng', '-v', voice, '-s', str(speed), '-p', str(pitch), '--stdout', text],
                             capture_output=True, check=True).stdout
        path = os.path.join(OUT, name)
        subprocess.run(['sox', '-R', '-D', '-t', 'wav', '-', '-b', '16', '-c', '1', '-r', str(rate), path] + fx +
                       ['rate', '-h', str(rate), 'gain', '-n', '-3'], input=wav, check=True)
        meta.append({'file': name, 'sampleRate': rate, 'voice': voice, 'text': text, 'transcript': to_transcript(text),
                     'command': f"espeak-ng -v {voice} -s {speed} -p {pitch} --stdout '{text}' | sox -R -D -t wav - "
                                f"-b 16 -c 1 -r {rate} {name} {' '.join(fx + ['rate', '-h', str(rate), 'gain', '-n', '-3'])}"})
    with open(os.path.join(OUT, 'samples.json'), 'w') as f:
        json.dump({'note': 'Synthetic speech (espeak-ng + sox) in voice variants held out of the default model\'s '
                           'training (f4, m6). Made by scripts/make_default_model/samples.py.', 'samples': meta}, f, indent=2)
        f.write('\n')
    return meta


def check(model_dir, meta):
    import numpy as np
    import soundfile as sf
    import torch
    from transformers import Wav2Vec2ForCTC
    from train import greedy, normalize
    torch.set_num_threads(2)
    model = Wav2Vec2ForCTC.from_pretrained(model_dir).eval()
    for m in meta:
        path = os.path.join(OUT, m['file'])
        raw = subprocess.run(['sox', '-R', '-D', path, '-t', 'raw', '-e', 'float', '-b', '32', '-r', '16000', '-'],
                             capture_output=True, check=True).stdout
        x = np.frombuffer(raw, dtype=np.float32).copy()
        with torch.no_grad():
            logits = model(torch.from_numpy(normalize(x))[None]).logits[0]
        hyp = greedy(logits.argmax(-1).tolist())
        print(f"{m['file']:22s} ref: {m['transcript'].replace('|', ' ')}\n{'':22s} hyp: {hyp}")


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--check', default=None)
    a = ap.parse_args()
    meta = make()
    if a.check:
        check(a.check, meta)
