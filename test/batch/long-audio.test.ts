/**
 * A 3-minute espeak-ng recording through the default model, in 30 s windows with 5 s strides and whole: the windowed
 * transcript must be the unchunked one, up to the changes the shorter attention context makes anywhere (a few
 * words in ten with this small model), and no worse at the seams, where a lost or doubled word would show. Without
 * strides (20 s windows cut end to end) only about half of the seam words survive, which this test would catch.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MODEL_PATH as DEFAULT_MODEL } from '../../lib/paths';
import { runBatchJob } from '../../lib/jobs';
import { type Model } from '../../lib/model/model';
import { loadModel } from '../../lib/model/load';
import type { Word } from '../../lib/decode';
import { createDecoder, loadForModel } from '../../lib/pipeline/transcribe';
import { requireAddon } from '../helpers/native';
import { requireSpeechTools, lcs, sentences, speak } from '../helpers/speech';

/** Words of `ref` found in `got` with the same spelling and a start within 60 ms (3 frames). */
function matched(ref: readonly Word[], got: readonly Word[]): Word[] {
  return ref.filter((w) => got.some((v) => v.word === w.word && Math.abs(v.start - w.start) < 0.06));
}

describe('batch: long audio in overlapping windows', function () {
  this.timeout(120000);
  let model: Model;
  let file: string;
  let dir: string;
  before(async function () {
    requireAddon(this);
    requireSpeechTools(this);
    dir = mkdtempSync(join(tmpdir(), 'w2v-long-'));
    // About 75 held-out sentences make three minutes at espeak-ng's default speed.
    file = speak(sentences(80).join('\n'), join(dir, 'long.wav'));
    model = await loadModel(DEFAULT_MODEL);
  });
  after(() => model?.dispose());

  it('transcribes a 3-minute recording in windows as it does whole, seams included', async () => {
    const { samples, duration } = await loadForModel(model, file);
    assert.ok(duration >= 170 && duration <= 240, `recording of ${duration} s`);
    const { emissions } = await model.forward(samples);
    const whole = createDecoder(model).decode({ data: emissions.data, shape: emissions.shape.slice(1) });

    const out = join(dir, 'out');
    const s = await runBatchJob({ inputs: [file], out, model });
    assert.equal(s.done, 1);
    const rec = JSON.parse(readFileSync(join(out, 'transcripts.jsonl'), 'utf8'));
    assert.equal(rec.pieces, Math.ceil((duration - 30) / 20) + 1);
    const chunked: Word[] = rec.words;

    const agreeWords = lcs(whole.text.split(' '), rec.text.split(' ')) / Math.max(whole.words.length, chunked.length);
    const agreeTimed = matched(whole.words, chunked).length / whole.words.length;
    // Seams at 25 s, 45 s, ...: the unchunked words within half a second of one.
    const seams: number[] = [];
    for (let t = 25; t < duration - 5; t += 20) seams.push(t);
    const near = whole.words.filter((w) => seams.some((t) => w.end >= t - 0.5 && w.start <= t + 0.5));
    const agreeSeams = matched(near, chunked).length / near.length;
    const figures = `words in order ${(agreeWords * 100).toFixed(1)} %, same word and time ${(agreeTimed * 100).toFixed(1)} %, ` +
      `at the ${seams.length} seams ${(agreeSeams * 100).toFixed(1)} % of ${near.length}; ${whole.words.length} words whole, ${chunked.length} windowed`;
    // eslint-disable-next-line no-console
    console.log(`      ${figures}`);
    assert.ok(near.length >= 2 * seams.length, figures);
    assert.ok(agreeWords >= 0.85 && agreeTimed >= 0.8, figures);
    assert.ok(agreeSeams >= 0.8, figures);
    assert.ok(Math.abs(chunked.length - whole.words.length) <= 0.05 * whole.words.length, figures);
    for (let i = 1; i < chunked.length; i++) assert.ok(chunked[i]!.start >= chunked[i - 1]!.end, 'words in time order');
    assert.ok(chunked.at(-1)!.end <= duration);
  });
});
