/** The shared path from audio to words: one error code per decoder mistake, whichever entry point it came through. */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CTCBeamSearchDecoder, GreedyCTCDecoder } from '../../lib/decode';
import { runBatchJob } from '../../lib/jobs';
import { loadModel } from '../../lib/model/load';
import type { Model } from '../../lib/model/model';
import { DEFAULT_MODEL_PATH } from '../../lib/paths';
import { createRecognizer } from '../../lib/recognizer';
import { createDecoder, transcribe, type DecoderOptions } from '../../lib/pipeline/transcribe';
import { runCli } from '../helpers/cli';
import { rejectsCode, throwsCode } from '../helpers/errors';
import { manifest } from '../helpers/fixtures';
import { requireAddon } from '../helpers/native';

const WAV = join(__dirname, '..', '..', 'samples', 'curiosity-16k.wav');

/** Each mistake, as the API takes it and as the command line does, and what its message names. */
const MISTAKES: Array<{ name: string; options: DecoderOptions; flags: string[]; pattern: RegExp }> = [
  { name: 'a beam size of 0', options: { type: 'beam', beamSize: 0 }, flags: ['--beam-size', '0'], pattern: /beam-?[sS]ize/ },
  { name: 'an unknown decoder', options: { type: 'viterbi' as never }, flags: ['--decoder', 'viterbi'], pattern: /decoder/ },
  { name: 'a language model with the greedy decoder', options: { type: 'greedy', lm: 'lm.arpa' }, flags: ['--decoder', 'greedy', '--lm', 'lm.arpa'], pattern: /lm/ },
  { name: 'a word score that is not a number', options: { type: 'beam', wordScore: NaN }, flags: ['--word-score', 'x'], pattern: /word-?[sS]core/ },
];

describe('transcribe: one error code per decoder mistake, whatever the entry point', () => {
  it('the decoders themselves: DECODE_INVALID_INPUT', () => {
    throwsCode(() => new CTCBeamSearchDecoder(manifest.labels, { beamSize: 0 }), 'DECODE_INVALID_INPUT', /beamSize/);
    throwsCode(() => new CTCBeamSearchDecoder(manifest.labels, { wordScore: NaN }), 'DECODE_INVALID_INPUT', /wordScore/);
    throwsCode(() => new GreedyCTCDecoder(manifest.labels, { frames: 'yes' as never }), 'DECODE_INVALID_INPUT', /frames/);
  });

  describe('with the default model', () => {
    let model: Model;
    before(async function () {
      requireAddon(this);
      model = await loadModel(DEFAULT_MODEL_PATH);
    });
    after(() => model?.dispose());

    for (const m of MISTAKES) {
      it(`${m.name}: createDecoder, createRecognizer and runBatchJob say DECODE_INVALID_INPUT`, async () => {
        throwsCode(() => createDecoder(model, m.options), 'DECODE_INVALID_INPUT', m.pattern);
        await rejectsCode(createRecognizer({ model, decoder: m.options }), 'DECODE_INVALID_INPUT', m.pattern);
        const out = join(mkdtempSync(join(tmpdir(), 'w2v-codes-')), 'out');
        await rejectsCode(runBatchJob({ inputs: [WAV], out, model, decoder: m.options }), 'DECODE_INVALID_INPUT', m.pattern);
      });
    }

    it('decoder options that are not an object: DECODE_INVALID_INPUT too', async () => {
      throwsCode(() => createDecoder(model, 42 as never), 'DECODE_INVALID_INPUT', /decoder options/);
      await rejectsCode(createRecognizer({ model, decoder: 42 as never }), 'DECODE_INVALID_INPUT', /decoder/);
    });

    it('transcribe() decodes item 0 of the model output with the bound decoder: words in seconds', async () => {
      const r = await transcribe(model, WAV, createDecoder(model));
      const beam = await transcribe(model, WAV, createDecoder(model, { type: 'beam', beamSize: 1 }));
      for (const t of [r, beam]) {
        for (const w of t.words) {
          // Times on the frame grid: a whole number of frames of frameStride / sampleRate seconds.
          for (const x of [w.start, w.end]) {
            const frames = (x * model.sampleRate) / model.frameStride;
            assert.ok(Math.abs(frames - Math.round(frames)) < 1e-9, `${w.word}: ${x} s is not on the frame grid`);
          }
          assert.ok(w.end > w.start && w.start >= 0 && w.end <= t.duration + model.frameStride / model.sampleRate, `${w.word}: [${w.start}, ${w.end}]`);
        }
      }
    });
  });

  for (const m of MISTAKES) {
    it(`${m.name}: the command line says DECODE_INVALID_INPUT (a usage error: exit 2)`, function () {
      requireAddon(this);
      const r = runCli(['transcribe', WAV, ...m.flags]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /\[DECODE_INVALID_INPUT\]$/m);
    });
  }
});
