/** Several models in one server: chosen per request on every route, each with its own queue; unknown names; metrics. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { type Model } from '../../lib/model/model';
import { loadModel } from '../../lib/model/load';
import { createRecognizer } from '../../lib/recognizer';
import { createServer } from '../../lib/serve';
import { modelSpec } from '../../lib/cli/serve';
import { createDecoder, transcribe } from '../../lib/pipeline/transcribe';
import { loadAudio } from '../../lib/audio';
import { maxAbsDiff } from '../../lib/tensor';
import { requireAddon } from '../helpers/native';
import { loadFixture } from '../recognizer/models';

const ROOT = join(__dirname, '..', '..');
const SPEECH = readFileSync(join(ROOT, 'samples', 'curiosity-16k.wav'));
const BOUNDARY = '----w2vmodelsboundary';

/** A multipart form: `fields` before the file, `after` behind it (OpenAI's SDK sends `model` after the file). */
function form(bytes: Buffer, fields: Record<string, string> = {}, after: Record<string, string> = {}) {
  const field = ([k, v]: [string, string]) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`;
  return {
    payload: Buffer.concat([
      Buffer.from(Object.entries(fields).map(field).join('')),
      Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n`),
      bytes, Buffer.from('\r\n'),
      Buffer.from(Object.entries(after).map(field).join('')),
      Buffer.from(`--${BOUNDARY}--\r\n`),
    ]),
    headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
  };
}

const post = (app: FastifyInstance, url: string, payload: Buffer, headers: Record<string, string> = { 'content-type': 'audio/wav' }) =>
  app.inject({ method: 'POST', url, payload, headers });

describe('serve: several models', function () {
  this.timeout(60000);
  let main: Model;
  let tiny: Model;
  /** What each model alone makes of the speech: they must differ, or choosing between them would prove nothing. */
  let expected: { main: string; tiny: string };
  before(async function () {
    requireAddon(this);
    main = await loadModel(join(ROOT, 'models', 'default.pt'), { threads: 1 });
    tiny = await loadFixture('ta_tiny_lv60k');
    const bytes = new Uint8Array(SPEECH);
    expected = { main: (await transcribe(main, bytes, createDecoder(main))).text, tiny: (await transcribe(tiny, bytes, createDecoder(tiny))).text };
    assert.notEqual(expected.main, expected.tiny);
  });
  after(() => {
    main?.dispose();
    tiny?.dispose();
  });

  describe('chosen per request', () => {
    let app: FastifyInstance;
    before(async () => {
      app = await createServer({ models: { main: { model: main, maxWaitMs: 1 }, tiny: { model: tiny, maxWaitMs: 1 } } });
    });
    after(() => app?.close());

    it('/v1/transcribe: ?model=NAME or a form field `model` (before or after the file); none: the first model', async () => {
      const cases: Array<[string, () => Promise<{ statusCode: number; body: string; headers: Record<string, unknown>; json(): { text: string } }>]> = [
        ['main', () => post(app, '/v1/transcribe', SPEECH)],
        ['tiny', () => post(app, '/v1/transcribe?model=tiny', SPEECH)],
        ['main', () => post(app, '/v1/transcribe?model=main', SPEECH)],
        ['tiny', () => { const f = form(SPEECH, { model: 'tiny' }); return post(app, '/v1/transcribe', f.payload, f.headers); }],
        ['tiny', () => { const f = form(SPEECH, {}, { model: 'tiny' }); return post(app, '/v1/transcribe', f.payload, f.headers); }],
        ['main', () => { const f = form(SPEECH); return post(app, '/v1/transcribe', f.payload, f.headers); }],
      ];
      for (const [name, send] of cases) {
        const res = await send();
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().text, expected[name as 'main' | 'tiny']);
        assert.equal(res.headers['x-model'], name);
      }
    });

    it('/v1/features?model=NAME: the features of that model', async () => {
      const audio = await loadAudio(SPEECH, { mono: true, sampleRate: 16000 });
      for (const [name, model] of [['tiny', tiny], ['main', main]] as const) {
        const res = await post(app, `/v1/features?layers=1&model=${name}`, SPEECH);
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.headers['x-model'], name);
        const { features } = await model.extractFeatures(audio.channels[0]!, { numLayers: 1 });
        assert.equal(res.json().dim, features[0]!.shape[2]);
        assert.ok(maxAbsDiff(Float32Array.from(res.json().features.flat(2)), features[0]!.data) <= 1e-4);
      }
    });

    it('an unknown name runs the default model (x-model says which); naming two different models is 400', async () => {
      const res = await post(app, '/v1/transcribe?model=whisper-1', SPEECH);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['x-model'], 'main');
      assert.equal(res.json().text, expected.main);
      const f = form(SPEECH, { model: 'main' });
      const both = await post(app, '/v1/transcribe?model=tiny', f.payload, f.headers);
      assert.equal(both.statusCode, 400, both.body);
      assert.equal(both.json().error.code, 'INVALID_INPUT');
      assert.match(both.json().error.message, /named twice/);
    });

    it('/health lists every model; /metrics labels batches, audio, queues and requests by model', async () => {
      const health = (await app.inject({ method: 'GET', url: '/health' })).json();
      assert.deepEqual(Object.keys(health.models), ['main', 'tiny']);
      assert.equal(health.defaultModel, 'main');
      assert.equal(health.models.tiny.model.file, tiny.info.file);
      assert.equal(health.model.file, main.info.file);
      const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      for (const name of ['main', 'tiny']) {
        assert.match(text, new RegExp(`wav2vec2_batch_size_count\\{model="${name}",kind="transcribe"\\} [1-9]`));
        assert.match(text, new RegExp(`wav2vec2_audio_seconds_total\\{model="${name}",kind="transcribe"\\} [1-9]`));
        assert.match(text, new RegExp(`wav2vec2_queue_limit\\{model="${name}"\\} 64`));
        assert.match(text, new RegExp(`wav2vec2_http_requests_total\\{route="/v1/transcribe",method="POST",status="200",model="${name}"\\} [1-9]`));
      }
      assert.match(text, /wav2vec2_batch_size_count\{model="tiny",kind="features"\} 1\n/);
    });
  });

  it('each model has its own queue: one full is 503 for its requests only', async () => {
    const app = await createServer({ models: { main: { model: main, maxWaitMs: 1 }, tiny: { model: tiny, maxQueue: 1, maxWaitMs: 60000 } } });
    try {
      const waiting = post(app, '/v1/transcribe?model=tiny', SPEECH);
      while (app.models.get('tiny')!.recognizer.stats().queued < 1) await new Promise((r) => setTimeout(r, 5));
      const full = await post(app, '/v1/transcribe?model=tiny', SPEECH);
      assert.equal(full.statusCode, 503, full.body);
      assert.equal(full.json().error.code, 'OVERLOADED');
      assert.match(full.json().error.message, /"tiny"/);
      // A form naming the full model is read (its field could name any), then refused by that model's recognizer.
      const f = form(SPEECH, { model: 'tiny' });
      assert.equal((await post(app, '/v1/transcribe', f.payload, f.headers)).statusCode, 503);
      const other = await post(app, '/v1/transcribe', SPEECH);
      assert.equal(other.statusCode, 200, other.body);
      assert.equal(other.json().text, expected.main);
      assert.match((await app.inject({ method: 'GET', url: '/metrics' })).body, /wav2vec2_overloaded\{model="tiny"\} 2\n/);
      await app.close();
      assert.equal((await waiting).statusCode, 200);
    } finally {
      await app.close();
    }
  });

  it('a form (its model not read yet) is refused on arrival only when every model\'s queue is full', async () => {
    const app = await createServer({ models: { main: { model: main, maxQueue: 1, maxWaitMs: 60000 }, tiny: { model: tiny, maxQueue: 1, maxWaitMs: 60000 } } });
    try {
      const waiting = [post(app, '/v1/transcribe?model=main', SPEECH), post(app, '/v1/transcribe?model=tiny', SPEECH)];
      while (app.models.list().some((m) => m.recognizer.stats().queued < 1)) await new Promise((r) => setTimeout(r, 5));
      // A body that never ends: only an answer given before reading it can come back.
      const endless = new Readable({ read() {} });
      endless.push(form(SPEECH, { model: 'tiny' }).payload.subarray(0, 1000));
      const res = await app.inject({ method: 'POST', url: '/v1/transcribe', payload: endless, headers: form(SPEECH).headers });
      endless.destroy();
      assert.equal(res.statusCode, 503, res.body);
      assert.match(res.json().error.message, /requests waiting \(maxQueue\) for every model/);
      assert.match((await app.inject({ method: 'GET', url: '/metrics' })).body, /wav2vec2_overloaded\{model=""\} 1\n/);
      await app.close();
      for (const w of waiting) assert.equal((await w).statusCode, 200);
    } finally {
      await app.close();
    }
  });

  it('strictModels: an unknown name is 404 MODEL_NOT_FOUND, refused on arrival when in the query', async () => {
    const app = await createServer({ models: { main: { model: main }, tiny: { model: tiny } }, defaultModel: 'tiny', strictModels: true });
    try {
      // A body that never ends: only an answer given before reading it can come back.
      const endless = new Readable({ read() {} });
      endless.push(SPEECH.subarray(0, 1000));
      const res = await app.inject({ method: 'POST', url: '/v1/transcribe?model=whisper-1', payload: endless, headers: { 'content-type': 'audio/wav' } });
      endless.destroy();
      assert.equal(res.statusCode, 404, res.body);
      assert.equal(res.json().error.code, 'MODEL_NOT_FOUND');
      assert.match(res.json().error.message, /"main", "tiny".*"whisper-1"/);
      const f = form(SPEECH, { model: 'whisper-1' });
      assert.equal((await post(app, '/v1/transcribe', f.payload, f.headers)).json().error.code, 'MODEL_NOT_FOUND');
      // A long name is quoted by its start only.
      const long = form(SPEECH, { model: 'x'.repeat(5000) });
      const refused = (await post(app, '/v1/transcribe', long.payload, long.headers)).json().error;
      assert.equal(refused.code, 'MODEL_NOT_FOUND');
      assert.ok(refused.message.length < 400 && refused.message.includes('(5000 characters)'), refused.message);
      // defaultModel: requests that name none.
      assert.equal((await post(app, '/v1/transcribe', SPEECH)).headers['x-model'], 'tiny');
    } finally {
      await app.close();
    }
  });

  it('given Recognizers stay open on close; created ones are closed; a server of one model names it after its file', async () => {
    const given = await createRecognizer({ model: tiny });
    const app = await createServer({ models: { mine: given, made: { model: main } } });
    const made = app.models.get('made')!.recognizer;
    await app.close();
    assert.equal(given.closed, false);
    assert.equal(made.closed, true);
    await given.close();
    const one = await createServer({ recognizer: { model: tiny } });
    try {
      assert.deepEqual(one.models.names, ['ta_tiny_lv60k']);
      assert.equal(one.recognizer, one.models.default.recognizer);
    } finally {
      await one.close();
    }
  });

  it('bad model options are INVALID_INPUT', async () => {
    await assert.rejects(createServer({ recognizer: { model: tiny }, models: { a: { model: tiny } } }), /either recognizer .* or models/);
    await assert.rejects(createServer({ models: {} }), /models: expected/);
    await assert.rejects(createServer({ models: { 'a/b': { model: tiny } } }), /models: expected names/);
    await assert.rejects(createServer({ models: { a: { model: tiny } }, defaultModel: 'b' }), /defaultModel: expected one of the models' names \(a\)/);
    await assert.rejects(createServer({ models: { a: { model: tiny } }, strictModels: 'yes' as unknown as boolean }), /strictModels/);
  });

  it('--model [NAME=]PATH: a name before "=" (no "/"), else the file\'s base name', () => {
    assert.deepEqual(modelSpec('models/default.pt'), { name: 'default', path: 'models/default.pt' });
    assert.deepEqual(modelSpec('fast=models/default.pt'), { name: 'fast', path: 'models/default.pt' });
    assert.deepEqual(modelSpec('runs/lr=0.1/model.pt'), { name: 'model', path: 'runs/lr=0.1/model.pt' });
    assert.deepEqual(modelSpec('./a=b.pt'), { name: 'a_b', path: './a=b.pt' });
    assert.throws(() => modelSpec('fast='), /no path after "="/);
  });
});
