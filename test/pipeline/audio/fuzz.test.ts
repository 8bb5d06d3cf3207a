/**
 * The audio stage on damaged files (the mutations of `npm run fuzz:audio`), against loadAudio + the stage's resampling
 * (resampleLikeStage, as loadForModel) on the same bytes: the same samples, or the same coded error. The stage may refuse more, never less: an input whose header
 * declares more than the limit or a rate outside the range (INPUT_TOO_LONG, AUDIO_UNSUPPORTED_RATE).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAudio } from '../../../lib/audio';
import { checkBudget, decodeToRate, resampleLikeStage } from '../../../lib/pipeline/audio';
import { makeInput } from '../../../scripts/fuzz-audio';
import { requireCorpus } from '../../helpers/audio-corpus';

const STAGE_ONLY = new Set(['INPUT_TOO_LONG', 'AUDIO_UNSUPPORTED_RATE']);

async function outcome(f: () => Promise<Float32Array>): Promise<{ samples?: Float32Array; code?: string }> {
  try {
    return { samples: await f() };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string') throw err; // an uncoded error fails the test
    return { code };
  }
}

describe('pipeline/audio: 150 damaged files, the stage against loadAudio', function () {
  let seeds: Array<{ name: string; bytes: Uint8Array }> = [];
  before(function () {
    const corpus = requireCorpus(this);
    seeds = [...corpus.files.map((f) => f.file), ...[corpus.lame, corpus.flacCli, corpus.oggFlac].filter((f): f is string => !!f)]
      .map((f) => ({ name: f, bytes: readFileSync(f.startsWith('/') ? f : join(corpus.dir, f)) }));
  });

  it('gives the same samples or the same coded error', async function () {
    this.timeout(300000);
    const budget = checkBudget({ maxSeconds: 600 });
    const counts = { decoded: 0, refused: 0 };
    for (let i = 0; i < 150; i++) {
      const { bytes, seed, mutation } = makeInput(seeds, 20261206, i);
      const stage = await outcome(async () => {
        const parts: Float32Array[] = [];
        for await (const c of decodeToRate({ input: bytes, targetRate: 16000, budget })) parts.push(c.samples);
        return Float32Array.from(parts.flatMap((p) => [...p]));
      });
      // Resampled as the stage resamples (the addon's conv1d where it can: resampleLikeStage), as loadForModel does.
      const ref = await outcome(async () => {
        const a = await loadAudio(bytes, { mono: true });
        return a.sampleRate === 16000 ? a.channels[0]! : resampleLikeStage(a.channels[0]!, a.sampleRate, 16000);
      });
      const what = `${seed} (${mutation}): stage ${stage.code ?? `${stage.samples!.length} samples`}, loadAudio ${ref.code ?? `${ref.samples!.length} samples`}`;
      if (stage.code && STAGE_ONLY.has(stage.code)) continue;
      assert.equal(stage.code, ref.code, what);
      if (stage.samples) {
        assert.deepEqual(stage.samples, ref.samples, what);
        counts.decoded++;
      } else counts.refused++;
    }
    // Inputs that all failed the same way would test nothing.
    assert.ok(counts.decoded > 20 && counts.refused > 20, JSON.stringify(counts));
  });
});
