/**
 * The embedded default model through the CLI, on the sentence held out of its training data: espeak-ng speaks
 * it here, `wav2vec2 transcribe` (no --model) must print its words.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MODEL_PATH as DEFAULT_MODEL } from '../../lib/paths';
import { runCli } from '../helpers/cli';
import { requireAddon } from '../helpers/native';
import { lcs, requireSpeechTools } from '../helpers/speech';

const SENTENCE = 'I HAD THAT CURIOSITY BESIDE ME AT THIS MOMENT';

/**
 * The default model is a small demonstration model (3.2 % CER on its held-out set, docs/default-model.md). With
 * Debian's espeak-ng it gets this sentence exactly, but a few misspelt or split words are within what it does on
 * unseen sentences (18 % WER), and another espeak-ng build may say it differently. Pinned: at least 6 of the 9
 * words, in order, and at least 80 % of the characters in order.
 */
function assertMostlyRight(text: string): void {
  const words = lcs(SENTENCE.split(' '), text.split(' '));
  const chars = lcs([...SENTENCE.replace(/ /g, '')], [...text.replace(/ /g, '')]);
  assert.ok(words >= 6 && chars >= 0.8 * SENTENCE.replace(/ /g, '').length, `"${text}": ${words}/9 words, ${chars} characters in order`);
}

describe('cli with the default model', function () {
  this.timeout(120000);
  let dir: string;
  before(function () {
    requireAddon(this);
    if (!existsSync(DEFAULT_MODEL)) throw new Error(`the default model ${DEFAULT_MODEL} is missing`);
    requireSpeechTools(this);
    dir = mkdtempSync(join(tmpdir(), 'w2v-default-'));
  });

  // espeak-ng's default voice at 22.05 kHz (resampled by the CLI), and a 44.1 kHz stereo MP3 of the same.
  it('transcribes most of the held-out sentence spoken by espeak-ng (22.05 kHz WAV)', () => {
    const wav = join(dir, 'curiosity.wav');
    assert.equal(spawnSync('espeak-ng', ['-w', wav, SENTENCE.toLowerCase()]).status, 0);
    const r = runCli(['transcribe', wav]);
    assert.equal(r.status, 0, r.stderr);
    assertMostlyRight(r.stdout.trim());
  });

  it('transcribes it from an MP3 at 44.1 kHz stereo, with word timestamps in order', () => {
    const wav = join(dir, 'curiosity.wav');
    const mp3 = join(dir, 'curiosity.mp3');
    if (!existsSync(wav)) assert.equal(spawnSync('espeak-ng', ['-w', wav, SENTENCE.toLowerCase()]).status, 0);
    const sox = spawnSync('sox', [wav, '-r', '44100', '-c', '2', mp3]);
    if (sox.status !== 0) return; // sox without MP3 support (libsox-fmt-mp3): covered by the WAV case
    const r = runCli(['transcribe', mp3, '--json', '--timestamps']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assertMostlyRight(out.text);
    assert.ok(out.words.length >= 9);
    for (let i = 1; i < out.words.length; i++) assert.ok(out.words[i].start >= out.words[i - 1].end, 'words in order');
    assert.ok(out.words.at(-1).end <= out.duration + 0.03);
  });
});
