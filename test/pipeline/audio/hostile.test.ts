/**
 * Hostile audio against the Recognizer and the server: decompression bombs and odd sample rates made for real
 * (test/helpers/bombs.ts), with what each costs measured while it runs (test/helpers/load-watch.ts). Each is
 * answered with its coded error, quickly, without memory growing with the bomb's size and without holding the
 * event loop (the decoding happens on the audio stage's worker thread).
 *
 * Bounds: the event loop's p99 delay under 50 ms and its largest under 400 ms (a shared 2-core machine can deschedule
 * the main thread for ~150 ms; the code before the audio stage held the loop 4-5 s for a 1 h FLAC bomb, 2.4 s for a
 * 1,300,001 Hz WAV and 0.7 s for a 383,999 Hz one), and RSS growth under 64 MiB (before: 440 MiB for a 1 h bomb).
 */
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import type { Model } from '../../../lib/model/model';
import { createRecognizer, type Recognizer } from '../../../lib/recognizer';
import { createServer } from '../../../lib/serve';
import { loadForModel } from '../../../lib/pipeline/transcribe';
import { flacBomb, wavDeclaring } from '../../helpers/bombs';
import { wavBytes } from '../../helpers/audio-corpus';
import { codeOf } from '../../helpers/errors';
import { type LoadCost, watch } from '../../helpers/load-watch';
import { requireAddon } from '../../helpers/native';
import { clip, loadFixture } from '../../recognizer/models';

const LAG_P99_MS = 50;
const LAG_MAX_MS = 400;
const RSS_MIB = 64;

function withinBounds(cost: LoadCost, what: string, rssMiB = RSS_MIB): void {
  const said = `${what}: ${cost.ms.toFixed(0)} ms, event loop p99 ${cost.lagP99.toFixed(1)} ms, max ${cost.lagMax.toFixed(1)} ms, RSS +${cost.rssMiB.toFixed(0)} MiB`;
  assert.ok(cost.lagP99 < LAG_P99_MS, said);
  assert.ok(cost.lagMax < LAG_MAX_MS, said);
  assert.ok(cost.rssMiB < rssMiB, said);
}

describe('pipeline/audio: hostile input to the Recognizer and the server', function () {
  this.timeout(60000);
  let model: Model;
  let rec: Recognizer;

  before(async function () {
    requireAddon(this);
    model = await loadFixture('ta_tiny_lv60k');
    rec = await createRecognizer({ model, maxDuration: 120, audioWorkers: 1 } as Parameters<typeof createRecognizer>[0]);
    // The worker starts on the first input; its start-up is not what is measured.
    await rec.transcribe(Buffer.from(wavBytes(Int16Array.from(clip(16000), (v) => Math.round(v * 32767)), 16000)));
  });
  after(async () => {
    await rec?.close();
    model?.dispose();
  });

  it('a FLAC bomb declaring 1 h (12 KB) is refused from its header: INPUT_TOO_LONG at once', async () => {
    const bomb = flacBomb({ seconds: 3600 });
    const cost = await watch(() => rec.transcribe(Buffer.from(bomb)));
    withinBounds(cost, 'declared 1 h FLAC');
    codeOf('INPUT_TOO_LONG', /header declares 3600\.0 s/)(cost.error);
    assert.ok(cost.ms < 2000, `answered in ${cost.ms.toFixed(0)} ms`);
  });

  it('a FLAC bomb that does not declare its length (1 h, total 0) is decoded to just past the limit and refused', async () => {
    const bomb = flacBomb({ seconds: 3600, declareTotal: false });
    const cost = await watch(() => rec.transcribe(Buffer.from(bomb)));
    withinBounds(cost, 'undeclared 1 h FLAC');
    codeOf('INPUT_TOO_LONG', /decoding stopped at 1[2-6]\d\.\d s/)(cost.error);
    assert.ok(cost.ms < 5000, `answered in ${cost.ms.toFixed(0)} ms`);
  });

  it('a stereo FLAC bomb of 8 h (190 KB, no total) costs no more than a mono one of 1 h', async () => {
    const bomb = flacBomb({ seconds: 8 * 3600, channels: 2, declareTotal: false, sampleRate: 48000 });
    const cost = await watch(() => rec.transcribe(Buffer.from(bomb)));
    withinBounds(cost, 'undeclared 8 h stereo 48 kHz FLAC');
    codeOf('INPUT_TOO_LONG', /decoding stopped at/)(cost.error);
    assert.ok(cost.ms < 5000, `answered in ${cost.ms.toFixed(0)} ms`);
  });

  it('a WAV whose header claims 3 h (holding 10 s) is refused from the header', async () => {
    const cost = await watch(() => rec.transcribe(Buffer.from(wavDeclaring({ seconds: 10, declaredSeconds: 3 * 3600 }))));
    withinBounds(cost, 'WAV declaring 3 h');
    codeOf('INPUT_TOO_LONG', /header declares 10800\.0 s/)(cost.error);
  });

  it('a WAV at 1,300,001 Hz (a few hundred bytes) is refused with AUDIO_UNSUPPORTED_RATE before any filter is built', async () => {
    const cost = await watch(() => rec.transcribe(Buffer.from(wavDeclaring({ seconds: 0.0002, declaredSeconds: 0.0002, sampleRate: 1300001 }))));
    withinBounds(cost, '1,300,001 Hz WAV');
    codeOf('AUDIO_UNSUPPORTED_RATE', /1300001 Hz/)(cost.error);
    assert.ok(cost.ms < 500, `answered in ${cost.ms.toFixed(0)} ms`);
    // Raw samples get the same range.
    await assert.rejects(rec.transcribe({ samples: new Float32Array(100), sampleRate: 1300001 }), codeOf('AUDIO_UNSUPPORTED_RATE'));
  });

  it('a WAV at 383,999 Hz (inside the range) is transcribed, its filter built off the event loop, with loadForModel\'s samples', async () => {
    const x = Int16Array.from({ length: 383999 }, (_, i) => Math.round(8000 * Math.sin(i / 50)));
    const bytes = Buffer.from(wavBytes(x, 383999));
    const cost = await watch(() => rec.features(bytes, { numLayers: 1 }));
    // Its filter bank (4.7 M taps, 37 MB in float64, built once and cached) is what a rate inside the range costs.
    withinBounds(cost, '383,999 Hz WAV', 160);
    assert.equal(cost.error, undefined, String(cost.error));
    assert.equal(cost.result!.duration, (await loadForModel(model, bytes)).duration);
  });

  describe('through HTTP', () => {
    let app: FastifyInstance;
    before(async () => {
      app = await createServer({ recognizer: rec });
    });
    after(() => app?.close());

    const post = (payload: Buffer) => app.inject({ method: 'POST', url: '/v1/transcribe', payload, headers: { 'content-type': 'application/octet-stream' } });
    const errorOf = (res: { statusCode: number; json(): unknown }) => ({ status: res.statusCode, code: (res.json() as { error: { code: string } }).error.code });

    it('a FLAC bomb is a 413 INPUT_TOO_LONG, an unsupported rate a 415 AUDIO_UNSUPPORTED_RATE', async () => {
      assert.deepEqual(errorOf(await post(Buffer.from(flacBomb({ seconds: 3600, declareTotal: false })))), { status: 413, code: 'INPUT_TOO_LONG' });
      assert.deepEqual(errorOf(await post(Buffer.from(wavDeclaring({ seconds: 0.001, declaredSeconds: 0.001, sampleRate: 1300001 })))), { status: 415, code: 'AUDIO_UNSUPPORTED_RATE' });
    });
  });
});
