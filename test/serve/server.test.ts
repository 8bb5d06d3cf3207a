/** createServer: the HTTP API through app.inject (and loopback for shutdown), limits, coded errors, metrics. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
// Fastify's own request injector: app.inject() refuses a closing server, its router still takes requests.
import injectInto from 'light-my-request';
import type { Model } from '../../lib/model/model';
import { createRecognizer } from '../../lib/recognizer';
import { createServer, type ServerOptions } from '../../lib/serve';
import { MAX_JSON_FEATURE_VALUES } from '../../lib/serve/routes';
import * as lib from '../../lib';
import { createDecoder, transcribe } from '../../lib/pipeline/transcribe';
import { loadAudio } from '../../lib/audio';
import { maxAbsDiff } from '../../lib/tensor';
import { wavBytes } from '../helpers/audio-corpus';
import { requireAddon } from '../helpers/native';
import { clip, loadFixture } from '../recognizer/models';

const SAMPLES = join(__dirname, '..', '..', 'samples');

/** A WAV of the fixture speech: `n` samples at 16 kHz, 16-bit. */
function wav(n: number, offset = 0): Buffer {
  return Buffer.from(wavBytes(Int16Array.from(clip(n, offset), (v) => Math.round(v * 32767)), 16000));
}

function multipart(bytes: Buffer, field = 'file'): { payload: Buffer; headers: Record<string, string> } {
  const boundary = '----w2vtestboundary7MA4YWxkTrZu0gW';
  const head = field
    ? `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n`
    : `--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\n`;
  return {
    payload: Buffer.concat([Buffer.from(head), bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

const post = (app: FastifyInstance, url: string, payload: Buffer, headers: Record<string, string> = { 'content-type': 'application/octet-stream' }) =>
  app.inject({ method: 'POST', url, payload, headers });

/** Asserts a coded JSON error answer. */
function assertError(res: { statusCode: number; json(): unknown }, status: number, code: string): void {
  assert.equal(res.statusCode, status, JSON.stringify(res.json()));
  const body = res.json() as { error: { code: string; message: string } };
  assert.equal(body.error.code, code);
  assert.ok(body.error.message.length > 0);
}

/** A small PRNG so the fuzz inputs are the same on every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('serve: HTTP server', function () {
  this.timeout(30000);
  let model: Model;
  before(async function () {
    requireAddon(this);
    model = await loadFixture('ta_tiny_lv60k');
  });
  after(() => model?.dispose());

  async function server(o: Omit<ServerOptions, 'recognizer'> & { recognizer?: Record<string, unknown> } = {}): Promise<FastifyInstance> {
    return createServer({ ...o, recognizer: { model, maxWaitMs: 5, ...o.recognizer } });
  }

  describe('API', () => {
    let app: FastifyInstance;
    before(async () => {
      app = await server({ maxBodyBytes: 1_000_000, maxDuration: 4 });
    });
    after(() => app?.close());

    it('POST /v1/transcribe with a raw body: text, duration and (with timestamps=true) word timestamps, as transcribe() gives them', async () => {
      const body = wav(24000);
      const res = await post(app, '/v1/transcribe?timestamps=true', body, { 'content-type': 'audio/wav' });
      assert.equal(res.statusCode, 200, res.body);
      const json = res.json();
      const ref = await transcribe(model, new Uint8Array(body), createDecoder(model));
      assert.equal(json.text, ref.text);
      assert.equal(json.duration, 1.5);
      assert.equal(json.words.length, ref.words.length);
      json.words.forEach((w: { word: string; start: number; end: number; confidence: number }, i: number) => {
        assert.deepEqual(Object.keys(w), ['word', 'start', 'end', 'confidence']);
        assert.equal(w.word, ref.words[i]!.word);
        assert.equal(w.start, +ref.words[i]!.start.toFixed(3));
        assert.equal(w.end, +ref.words[i]!.end.toFixed(3));
      });
      // timestamps are off by default, as in the Recognizer and the CLI
      const plain = await post(app, '/v1/transcribe', body);
      assert.deepEqual(plain.json(), { text: ref.text, duration: 1.5 });
    });

    it('a multipart upload and other sample rates (44.1 kHz, 8 kHz) are accepted', async () => {
      const body = wav(20000, 5000);
      const raw = (await post(app, '/v1/transcribe', body)).json();
      const mp = multipart(body);
      const res = await post(app, '/v1/transcribe', mp.payload, mp.headers);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), raw);
      for (const file of ['curiosity-44k.wav', 'telephone-8k.wav']) {
        const bytes = readFileSync(join(SAMPLES, file));
        const r = await post(app, '/v1/transcribe', bytes);
        assert.equal(r.statusCode, 200, `${file}: ${r.body}`);
        const audio = await loadAudio(bytes, { mono: true, sampleRate: 16000 });
        assert.equal(r.json().duration, +(audio.channels[0]!.length / 16000).toFixed(3));
      }
    });

    it('POST /v1/features: per-layer features as JSON or raw float32, equal to extractFeatures', async () => {
      const body = wav(16000);
      const audio = await loadAudio(body, { mono: true });
      const { features } = await model.extractFeatures(audio.channels[0]!, { numLayers: 1 });
      const res = await post(app, '/v1/features?layers=1', body);
      assert.equal(res.statusCode, 200, res.body);
      const json = res.json();
      assert.deepEqual([json.layers, json.frames, json.dim], [1, features[0]!.shape[1], features[0]!.shape[2]]);
      assert.ok(maxAbsDiff(Float32Array.from(json.features.flat(2)), features[0]!.data) <= 1e-4);
      const bin = await post(app, '/v1/features?format=f32', body);
      assert.equal(bin.statusCode, 200);
      assert.equal(bin.headers['content-type'], 'application/octet-stream');
      const [L, F, D] = String(bin.headers['x-shape']).split(',').map(Number) as [number, number, number];
      assert.equal(L, 2);
      const raw = bin.rawPayload;
      const first = new Float32Array(F * D).map((_, i) => raw.readFloatLE(i * 4));
      assert.ok(maxAbsDiff(first, features[0]!.data) <= 1e-4);
      assert.equal(raw.length, L * F * D * 4);
    });

    it('GET /health and GET /metrics (requests, latencies, batch sizes, queue depth, × real time, event-loop lag)', async () => {
      const health = await app.inject({ method: 'GET', url: '/health' });
      assert.equal(health.statusCode, 200);
      assert.equal(health.json().status, 'ok');
      assert.deepEqual(health.json().batching, { kind: 'similar-length', maxPadding: 0.25 });
      await post(app, '/v1/transcribe', wav(16000));
      const res = await app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /text\/plain/);
      const text = res.body;
      const value = (re: RegExp) => Number(re.exec(text)?.[1]);
      // Labelled by the model that answered: the fixture's file name.
      assert.ok(value(/wav2vec2_http_requests_total\{route="\/v1\/transcribe",method="POST",status="200",model="ta_tiny_lv60k"\} (\d+)/) >= 5);
      assert.ok(value(/wav2vec2_http_request_duration_seconds_count\{route="\/v1\/transcribe",model="ta_tiny_lv60k"\} (\d+)/) >= 5);
      assert.ok(value(/wav2vec2_batch_size_count\{model="ta_tiny_lv60k",kind="transcribe"\} (\d+)/) >= 1);
      assert.ok(value(/wav2vec2_batch_realtime_factor_count\{model="ta_tiny_lv60k",kind="transcribe"\} (\d+)/) >= 1);
      assert.ok(value(/wav2vec2_audio_seconds_total\{model="ta_tiny_lv60k",kind="transcribe"\} ([\d.]+)/) > 0);
      assert.equal(value(/wav2vec2_queue_depth\{model="ta_tiny_lv60k"\} (\d+)/), 0);
      assert.match(text, /nodejs_eventloop_lag_seconds \d/);
      assert.match(text, /wav2vec2_event_loop_lag_seconds\{quantile="0.99"\} \d/);
    });
  });

  describe('bad input: a coded 4xx, and the server carries on', () => {
    let app: FastifyInstance;
    before(async () => {
      app = await server({ maxBodyBytes: 200_000, maxDuration: 4 });
    });
    after(() => app?.close());

    it('maps each mistake to its status and code', async () => {
      assertError(await post(app, '/v1/transcribe', Buffer.from('{"audio": "base64..."}'), { 'content-type': 'application/json' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
      assertError(await post(app, '/v1/transcribe', Buffer.from('{"audio": "base64..."}')), 415, 'AUDIO_UNSUPPORTED_FORMAT');
      assertError(await post(app, '/v1/transcribe', Buffer.alloc(0)), 400, 'AUDIO_EMPTY');
      assertError(await post(app, '/v1/transcribe', Buffer.alloc(300_000)), 413, 'BODY_TOO_LARGE');
      const big = multipart(Buffer.alloc(300_000));
      assertError(await post(app, '/v1/transcribe', big.payload, big.headers), 413, 'BODY_TOO_LARGE');
      const noFile = multipart(Buffer.from('hello'), '');
      assertError(await post(app, '/v1/transcribe', noFile.payload, noFile.headers), 400, 'AUDIO_EMPTY');
      assertError(await post(app, '/v1/transcribe', Buffer.from(wavBytes(new Int16Array(16000 * 5)))), 413, 'INPUT_TOO_LONG');
      assertError(await post(app, '/v1/transcribe', wav(16000).subarray(0, 30)), 400, 'AUDIO_DECODE_FAILED');
      assertError(await post(app, '/v1/transcribe?timestamps=maybe', wav(16000)), 400, 'INVALID_INPUT');
      assertError(await post(app, '/v1/features?layers=0', wav(16000)), 400, 'INVALID_INPUT');
      assertError(await post(app, '/v1/features?layers=9', wav(16000)), 400, 'INVALID_INPUT');
      assertError(await app.inject({ method: 'GET', url: '/v1/transcribe' }), 404, 'NOT_FOUND');
    });

    it('a malformed multipart body is 400 INVALID_INPUT, not 500', async () => {
      const boundary = '----w2vbad';
      const part = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n`;
      const cases: Array<[string, string, Buffer]> = [
        ['no boundary', 'multipart/form-data', Buffer.from(`${part}abc\r\n--${boundary}--\r\n`)],
        ['not a multipart body', `multipart/form-data; boundary=${boundary}`, wav(4000)],
        ['a part cut short', `multipart/form-data; boundary=${boundary}`, Buffer.concat([Buffer.from(part), wav(4000)])],
      ];
      for (const [what, type, body] of cases) {
        const res = await post(app, '/v1/transcribe', body, { 'content-type': type });
        assert.equal(res.statusCode, 400, `${what}: ${res.body}`);
        assertError(res, 400, 'INVALID_INPUT');
        assert.match(res.json().error.message, /multipart/);
      }
    });

    it('40 mutated or random bodies get 200 or a coded 4xx, never a 5xx or a crash', async () => {
      const rand = prng(99);
      const seed = wav(6000);
      const statuses = new Map<number, number>();
      for (let i = 0; i < 40; i++) {
        let body: Buffer;
        if (i % 4 === 0) {
          body = Buffer.from(Array.from({ length: Math.floor(rand() * 2000) }, () => Math.floor(rand() * 256)));
        } else {
          body = Buffer.from(seed.subarray(0, 44 + Math.floor(rand() * (seed.length - 44))));
          // Flip bytes in the header (sizes, format, rate, channels) and a few in the data.
          for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) body[Math.floor(rand() * (i % 2 ? 44 : body.length))] = Math.floor(rand() * 256);
        }
        const res = await post(app, '/v1/transcribe', body);
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        assert.ok(res.statusCode === 200 || (res.statusCode >= 400 && res.statusCode < 500), `input ${i}: ${res.statusCode} ${res.body}`);
        if (res.statusCode !== 200) assert.match(res.json().error.code, /^[A-Z_]+$/);
      }
      assert.ok(statuses.size >= 2, `a mix of answers: ${[...statuses]}`);
      assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
    });
  });

  describe('limits and shutdown', () => {
    it('a full queue answers 503 with Retry-After and OVERLOADED; the waiting request still completes', async () => {
      const app = await server({ recognizer: { maxQueue: 1, maxWaitMs: 60000 }, retryAfterS: 2 });
      const first = post(app, '/v1/transcribe', wav(16000));
      while (app.recognizer.stats().queued < 1) await new Promise((r) => setTimeout(r, 5));
      const second = await post(app, '/v1/transcribe', wav(16000));
      assertError(second, 503, 'OVERLOADED');
      assert.equal(second.headers['retry-after'], '2');
      await app.close(); // drains: the waiting request runs now
      assert.equal((await first).statusCode, 200);
    });

    it('a full queue is answered on arrival, before the body is read', async () => {
      const app = await server({ recognizer: { maxQueue: 1, maxWaitMs: 60000 }, retryAfterS: 3 });
      const first = post(app, '/v1/transcribe', wav(16000));
      while (app.recognizer.stats().queued < 1) await new Promise((r) => setTimeout(r, 5));
      // A body that never ends: only an answer given before reading it can come back.
      const endless = new Readable({ read() {} });
      endless.push(wav(16000).subarray(0, 1000));
      const res = await app.inject({ method: 'POST', url: '/v1/transcribe', payload: endless, headers: { 'content-type': 'audio/wav' } });
      assertError(res, 503, 'OVERLOADED');
      assert.equal(res.headers['retry-after'], '3');
      endless.destroy();
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /wav2vec2_overloaded\{model="ta_tiny_lv60k"\} 1/);
      await app.close();
      assert.equal((await first).statusCode, 200);
    });

    it('the request timeout runs from arrival: an upload still arriving then is cut (408 REQUEST_TIMEOUT)', async () => {
      const app = await server({ requestTimeoutMs: 100 });
      try {
        const body = wav(16000);
        const slow = new Readable({ read() {} });
        slow.push(body.subarray(0, 1000));
        // The rest comes well after the time limit; timed from the end of the body, the request would succeed.
        setTimeout(() => {
          slow.push(body.subarray(1000));
          slow.push(null);
        }, 500);
        assertError(await app.inject({ method: 'POST', url: '/v1/transcribe', payload: slow, headers: { 'content-type': 'audio/wav' } }), 408, 'REQUEST_TIMEOUT');
        assert.equal((await post(app, '/v1/transcribe', body)).statusCode, 200, 'a prompt request still succeeds');
      } finally {
        await app.close();
      }
    });

    it('/v1/features as JSON is capped at MAX_JSON_FEATURE_VALUES numbers (413, pointing to format=f32); raw float32 is sent as it is', async () => {
      const rec = await createRecognizer({ model });
      const app = await createServer({ recognizer: rec });
      try {
        // Two layers of 65537 frames × 64: just over the cap (the shape decides; the data is never read).
        const frames = MAX_JSON_FEATURE_VALUES / 128 + 1;
        rec.features = async () => ({ features: [0, 1].map(() => ({ data: new Float32Array(0), shape: [frames, 64] })), duration: 1 });
        const res = await post(app, '/v1/features', wav(16000));
        assertError(res, 413, 'INPUT_TOO_LONG');
        assert.match(res.json().error.message, /format=f32/);
        const small = { data: Float32Array.from([1.5, -2, 3.25, 0]), shape: [2, 2] };
        rec.features = async () => ({ features: [small, small], duration: 1 });
        const bin = await post(app, '/v1/features?format=f32', wav(16000));
        assert.equal(bin.headers['x-shape'], '2,2,2');
        assert.deepEqual([...new Float32Array(new Uint8Array(bin.rawPayload).buffer)], [1.5, -2, 3.25, 0, 1.5, -2, 3.25, 0]);
      } finally {
        await app.close();
        await rec.close();
      }
    });

    it('a request past the timeout gets 504 TIMEOUT and leaves the queue', async () => {
      const app = await server({ recognizer: { maxWaitMs: 60000 }, requestTimeoutMs: 200 });
      try {
        assertError(await post(app, '/v1/transcribe', wav(16000)), 504, 'TIMEOUT');
        assert.equal(app.recognizer.stats().queued, 0);
      } finally {
        await app.close();
      }
    });

    it('close(): stops accepting connections and finishes the request in flight (loopback)', async () => {
      const app = await server({ recognizer: { maxWaitMs: 1000 } });
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      const inFlight = fetch(`${url}/v1/transcribe?timestamps=false`, { method: 'POST', body: new Uint8Array(wav(16000)) });
      while (app.recognizer.stats().queued < 1) await new Promise((r) => setTimeout(r, 5));
      const closing = app.close();
      const res = await inFlight;
      assert.equal(res.status, 200);
      assert.equal(typeof (await res.json()).text, 'string');
      await closing;
      await assert.rejects(fetch(`${url}/health`), 'no new connections after close');
      assert.ok(app.recognizer.closed, 'the server closed the recognizer it created');
      assert.ok(!model.disposed, 'and left the given model loaded');
    });

    it('while closing, a request arriving on an open connection gets a coded 503 DISPOSED with Retry-After, unread', async () => {
      const app = await server({ recognizer: { maxWaitMs: 60000 }, retryAfterS: 4 });
      const inFlight = post(app, '/v1/transcribe', wav(16000));
      while (app.recognizer.stats().queued < 1) await new Promise((r) => setTimeout(r, 5));
      const closing = app.close();
      // The recognizer is closed in onClose, after preClose: from then on the server is closing.
      while (!app.recognizer.closed) await new Promise((r) => setTimeout(r, 5));
      const endless = new Readable({ read() {} });
      endless.push(wav(16000).subarray(0, 1000));
      const late = await injectInto(app.routing, { method: 'POST', url: '/v1/transcribe', payload: endless, headers: { 'content-type': 'audio/wav' } });
      endless.destroy();
      assertError({ statusCode: late.statusCode, json: () => late.json() }, 503, 'DISPOSED');
      assert.equal(late.headers['retry-after'], '4');
      const health = await injectInto(app.routing, { method: 'GET', url: '/health' });
      assert.deepEqual([health.statusCode, health.json().status], [503, 'closing']);
      await closing;
      assert.equal((await inFlight).statusCode, 200, 'the request in flight finished');
    });

    it('servers share one set of process metrics (prom-client cannot stop its event-loop monitor)', async () => {
      // The module object prom-client calls through (an ES namespace would be read-only).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const perfHooks = require('node:perf_hooks') as typeof import('node:perf_hooks');
      const original = perfHooks.monitorEventLoopDelay;
      let monitors = 0;
      (perfHooks as { monitorEventLoopDelay: typeof original }).monitorEventLoopDelay = (o) => {
        monitors++;
        return original(o);
      };
      try {
        for (let i = 0; i < 3; i++) {
          const app = await server();
          assert.match((await app.inject({ method: 'GET', url: '/metrics' })).body, /nodejs_eventloop_lag_seconds \d/);
          await app.close();
        }
      } finally {
        (perfHooks as { monitorEventLoopDelay: typeof original }).monitorEventLoopDelay = original;
      }
      // Earlier tests in this process may already have made the one set.
      assert.ok(monitors <= 1, `${monitors} event-loop monitors for 3 servers`);
    });

    it('a given Recognizer is left open when the server closes', async () => {
      const rec = await createRecognizer({ model });
      const app = await createServer({ recognizer: rec });
      await app.close();
      assert.ok(!rec.closed);
      await rec.close();
    });

    it('the package entry exports createServer (loading Fastify on first use) and createRecognizer', async () => {
      const app = await lib.createServer({ recognizer: await lib.createRecognizer({ model }) });
      try {
        assert.equal((await app.inject({ method: 'GET', url: '/health' })).json().status, 'ok');
      } finally {
        await app.close();
        await app.recognizer.close();
      }
    });

    it('bad server options are INVALID_INPUT', async () => {
      await assert.rejects(createServer({ maxBodyBytes: 0 }), /maxBodyBytes/);
      await assert.rejects(createServer({ requestTimeoutMs: 1.5 }), /requestTimeoutMs/);
    });
  });
});
