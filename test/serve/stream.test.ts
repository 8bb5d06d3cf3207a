/**
 * GET /v1/stream over a real socket, with the default model: a recording streamed at real time in 100 ms chunks gives
 * partials while it plays and finals that match the offline transcripts of its utterances; the protocol's refusals
 * are coded (HTTP before the upgrade, close codes after); the same guard as the HTTP routes.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { type Model } from '../../lib/model/model';
import { loadModel } from '../../lib/model/load';
import { createServer, type ServerOptions } from '../../lib/serve';
import { createRecognizer } from '../../lib/recognizer';
import { streamPlan, windowSamples } from '../../lib/stream/session';
import { maxAbsDiff } from '../../lib/tensor';
import { loadForModel } from '../../lib/pipeline/transcribe';
import { requireAddon } from '../helpers/native';
import { connect, pcm16, wordEdits, type Received, type StreamClient } from '../helpers/ws-client';

const ROOT = join(__dirname, '..', '..');
const SAMPLES = ['curiosity-16k.wav', 'question-16k.wav', 'telephone-8k.wav'].map((f) => join(ROOT, 'samples', f));
const KEY = 'k'.repeat(24);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends `x` (16 kHz) as PCM16 in `chunkMs` pieces, each when its audio would have been captured (real time). */
async function play(c: StreamClient, x: Float32Array, chunkMs = 100, realTime = true): Promise<number[]> {
  const n = (16000 * chunkMs) / 1000;
  const t0 = performance.now();
  const sentAt: number[] = [];
  for (let i = 0; i < x.length; i += n) {
    if (realTime) await sleep(Math.max(0, t0 + ((i + n) / 16000) * 1000 - performance.now()));
    sentAt.push(performance.now());
    await c.send(pcm16(x.subarray(i, i + n)));
  }
  return sentAt;
}

const of = (r: Received[], type: string) => r.filter((x) => x.m.type === type).map((x) => x.m);

describe('serve: live streams (GET /v1/stream)', function () {
  this.timeout(60000);
  let model: Model;
  let app: FastifyInstance | undefined;
  let utterances: Float32Array[];
  let recording: Float32Array;
  let bounds: Array<[number, number]>;

  before(async function () {
    requireAddon(this);
    model = await loadModel(join(ROOT, 'models', 'default.pt'));
    utterances = await Promise.all(SAMPLES.map(async (f) => (await loadForModel(model, f)).samples));
    // 0.6 s of silence before, between and after: each utterance is one segment.
    const gap = 9600;
    recording = new Float32Array(utterances.reduce((n, u) => n + u.length + gap, gap));
    bounds = [];
    let o = gap;
    for (const u of utterances) { recording.set(u, o); bounds.push([o / 16000, (o + u.length) / 16000]); o += u.length + gap; }
  });
  after(() => model?.dispose());
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function listen(o: Omit<ServerOptions, 'recognizer'> = {}): Promise<string> {
    app = await createServer({ ...o, recognizer: { model, maxWaitMs: 5 } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    return `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/stream`;
  }

  it('streams a recording at real time: partials while it plays, finals that match the offline transcripts', async () => {
    const url = await listen();
    // The reference: the offline pipeline (a Recognizer's transcribe) on each utterance alone.
    const rec = await createRecognizer({ model });
    const offline = await Promise.all(utterances.map(async (u) => (await rec.transcribe({ samples: u, sampleRate: 16000 })).text));
    await rec.close();
    const c = connect(url);
    await c.opened;
    await c.send({ type: 'start', sampleRate: 16000, encoding: 'pcm16' });
    const sentAt = await play(c, recording);
    const lastSent = sentAt.at(-1)!;
    await c.send({ type: 'stop' });
    assert.deepEqual(await c.closed, { code: 1000, reason: 'done' });
    const ready = of(c.received, 'ready')[0]!;
    assert.equal(ready.model, 'default');
    const finals = of(c.received, 'final') as unknown as Array<{ segment: number; text: string; start: number; end: number; words: Array<{ word: string; start: number; end: number }> }>;
    assert.equal(finals.length, 3, JSON.stringify(finals.map((f) => f.text)));
    // Within a small margin of offline: the model sees a window, not the whole utterance (docs/serving.md).
    const words = (s: string) => s.split(' ').filter(Boolean);
    const errors = finals.reduce((n, f, i) => n + wordEdits(words(f.text), words(offline[i]!)), 0);
    const total = offline.reduce((n, t) => n + words(t).length, 0);
    assert.ok(errors / total <= 0.1, `${errors} word errors in ${total} against offline: ${JSON.stringify(finals.map((f) => f.text))} vs ${JSON.stringify(offline)}`);
    finals.forEach((f, i) => {
      // Word times fall within the utterance's audio (a frame of slack).
      assert.ok(f.words[0]!.start >= bounds[i]![0] - 0.04 && f.words.at(-1)!.end <= bounds[i]![1] + 0.04, `segment ${i} times`);
    });
    // Partials came while the audio was playing, not only at the end, and the first final before the stream ended.
    const partials = c.received.filter((r) => r.m.type === 'partial');
    assert.ok(partials.length >= 6, `${partials.length} partials`);
    // (Bounds loose enough for a busy machine: bench/stream.ts measures the latencies.)
    assert.ok(partials[0]!.at < lastSent - 1000, 'the first partial came while the recording played');
    const firstFinal = c.received.find((r) => r.m.type === 'final')!;
    assert.ok(firstFinal.at < lastSent, 'the first final came before the recording ended');
    // Stable words never change: each partial's stable words begin its segment's final.
    for (const { m } of partials) {
      const final = finals.find((f) => f.segment === m.segment)!;
      const stable = m.stable as number;
      assert.deepEqual(words(m.text as string).slice(0, stable), words(final.text).slice(0, stable));
    }
    assert.equal(of(c.received, 'end')[0]!.duration, Math.round((recording.length / 16000) * 1000) / 1000);
    const metrics = (await app!.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /wav2vec2_streams_ended_total\{how="done"\} 1/);
  });

  it('stream windows share the Recognizer\'s batches with whole-file requests (Recognizer.emissions)', async () => {
    const rec = await createRecognizer({ model, maxWaitMs: 200 });
    const sizes: number[] = [];
    rec.onBatch((b) => sizes.push(b.size));
    const w = windowSamples(streamPlan(model));
    const a = recording.slice(0, w);
    const b = recording.slice(w, 2 * w);
    const [window, file] = await Promise.all([rec.emissions({ samples: a, sampleRate: 16000 }), rec.transcribe({ samples: b, sampleRate: 16000 })]);
    assert.deepEqual(sizes, [2], 'one batch for both');
    // And a window's emissions are what it gets alone.
    const alone = await rec.transcribe({ samples: a, sampleRate: 16000 }, { emissions: true });
    assert.ok(maxAbsDiff(window.emissions.data, alone.emissions!.data) < 1e-4);
    assert.ok(file.text.length > 0);
    await rec.close();
  });

  it('takes float32 at another rate (resampled on the way in)', async () => {
    const url = await listen();
    const c = connect(url);
    await c.opened;
    await c.send({ type: 'start', sampleRate: 8000, encoding: 'f32', partials: false });
    const x8 = new Float32Array(Math.floor(utterances[0]!.length / 2));
    for (let i = 0; i < x8.length; i++) x8[i] = (utterances[0]![2 * i]! + utterances[0]![2 * i + 1]!) / 2;
    const padded = new Float32Array(x8.length + 8000);
    padded.set(x8, 2000);
    for (let i = 0; i < padded.length; i += 800) await c.send(Buffer.from(padded.slice(i, i + 800).buffer));
    await c.send({ type: 'stop' });
    assert.equal((await c.closed).code, 1000);
    assert.equal(of(c.received, 'partial').length, 0, 'partials: false');
    const finals = of(c.received, 'final');
    assert.equal(finals.length, 1);
    assert.ok(wordEdits((finals[0]!.text as string).split(' '), 'I HAD THAT CURIOSITY BESIDE ME AT THIS MOMENT'.split(' ')) <= 2, finals[0]!.text as string);
  });

  describe('refusals', () => {
    const closesWith = async (url: string, messages: Array<string | Buffer | object>, code: number, reason: string) => {
      const c = connect(url);
      await c.opened;
      for (const m of messages) await c.send(m);
      const closed = await c.closed;
      assert.deepEqual(closed, { code, reason }, JSON.stringify(c.received.map((r) => r.m)));
      const err = of(c.received, 'error')[0]!;
      assert.equal(err.code, reason);
      assert.ok((err.message as string).length > 20);
    };

    it('closes with a code for each bad message', async () => {
      const url = await listen();
      await closesWith(url, [Buffer.alloc(320)], 4400, 'INVALID_INPUT');
      await closesWith(url, ['not json'], 4400, 'INVALID_INPUT');
      await closesWith(url, [{ type: 'start', sampleRate: 16000, encoding: 'mp3' }], 4400, 'INVALID_INPUT');
      await closesWith(url, [{ type: 'start', sampleRate: 16000, encoding: 'pcm16', extra: 1 }], 4400, 'INVALID_INPUT');
      await closesWith(url, [{ type: 'start', sampleRate: 1000, encoding: 'pcm16' }], 4415, 'AUDIO_UNSUPPORTED_RATE');
      const start = { type: 'start', sampleRate: 16000, encoding: 'pcm16' };
      await closesWith(url, [start, Buffer.alloc(321)], 4400, 'INVALID_INPUT');
      await closesWith(url, [start, start], 4400, 'INVALID_INPUT');
      const nan = Buffer.alloc(8);
      nan.writeFloatLE(Number.NaN, 4);
      await closesWith(url, [{ ...start, encoding: 'f32' }, nan], 4400, 'INVALID_INPUT');
      await closesWith(url, [{ type: 'stop' }], 4400, 'INVALID_INPUT');
    });

    it('times out a stream that never starts, and one that goes quiet', async () => {
      const url = await listen({ stream: { startTimeoutMs: 200, idleTimeoutMs: 300 } });
      await closesWith(url, [], 4408, 'TIMEOUT');
      await closesWith(url, [{ type: 'start', sampleRate: 16000, encoding: 'pcm16' }, Buffer.alloc(3200)], 4408, 'TIMEOUT');
    });

    it('ends a stream at its longest with its last final, then 4413', async () => {
      const url = await listen({ stream: { maxStreamSeconds: 2 } });
      const c = connect(url);
      await c.opened;
      await c.send({ type: 'start', sampleRate: 16000, encoding: 'pcm16' });
      await play(c, recording.subarray(0, 3 * 16000), 200, false);
      assert.deepEqual(await c.closed, { code: 4413, reason: 'INPUT_TOO_LONG' });
      assert.ok(of(c.received, 'final').length >= 1, 'the speech before the cap got its final');
    });

    it('closes 4429 when more audio waits than the backlog budget', async () => {
      const url = await listen({ stream: { maxBacklogSeconds: 1 } });
      await closesWith(url, [{ type: 'start', sampleRate: 16000, encoding: 'pcm16' }, pcm16(recording.subarray(0, 4 * 16000))], 4429, 'STREAM_BACKLOG');
    });

    it('refuses the upgrade over maxStreams (503), an unknown model when strict (404), a plain GET (426)', async () => {
      const url = await listen({ stream: { maxStreams: 1 }, strictModels: true });
      const first = connect(url);
      await first.opened;
      await assert.rejects(connect(url).opened, (e: { status: number; body: string }) => e.status === 503 && JSON.parse(e.body).error.code === 'OVERLOADED');
      first.close();
      await first.closed;
      await sleep(50);
      await assert.rejects(connect(`${url}?model=nope`).opened, (e: { status: number }) => e.status === 404);
      const res = await app!.inject({ method: 'GET', url: '/v1/stream' });
      assert.equal(res.statusCode, 426);
    });

    it('asks for the API key, in the Authorization header or (browsers) a subprotocol', async () => {
      const url = await listen({ apiKey: KEY });
      await assert.rejects(connect(url).opened, (e: { status: number }) => e.status === 401);
      await assert.rejects(connect(url, { protocols: ['wav2vec2-stream', 'bearer.wrong-key-wrong-key'] }).opened, (e: { status: number }) => e.status === 401);
      const byHeader = connect(url, { headers: { authorization: `Bearer ${KEY}` } });
      await byHeader.opened;
      byHeader.close();
      const byProtocol = connect(url, { protocols: ['wav2vec2-stream', `bearer.${KEY}`] });
      await byProtocol.opened;
      byProtocol.close();
    });

    it('refuses a foreign page (Origin) unless it is listed, like the HTTP routes', async () => {
      const url = await listen();
      await assert.rejects(connect(url, { headers: { origin: 'https://evil.example' } }).opened, (e: { status: number }) => e.status === 403);
    });
  });

  it('on shutdown, sends the open segment\'s final, then closes 4503 DISPOSED', async () => {
    const url = await listen();
    const c = connect(url);
    await c.opened;
    await c.send({ type: 'start', sampleRate: 16000, encoding: 'pcm16' });
    // The first utterance, without the silence after it: its segment is still open when the server closes.
    await play(c, recording.subarray(0, Math.round(bounds[0]![1] * 16000)), 100, false);
    await sleep(300);
    await app!.close();
    app = undefined;
    assert.deepEqual(await c.closed, { code: 4503, reason: 'DISPOSED' });
    assert.equal(of(c.received, 'final').length, 1);
  });
});
