/**
 * The OpenAI-compatible routes, called by OpenAI's own SDK (the `openai` npm package) as a real client on loopback:
 * every response format, word and segment timestamps, model names it sends (whisper-1), two models chosen per request,
 * the model list, and errors raised as the SDK's typed errors with our message. Every transcript is compared with what
 * /v1/transcribe answers for the same file.
 */
import assert from 'node:assert/strict';
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import OpenAI from 'openai';
import { loadAudio } from '../../lib/audio';
import { toSrt, toVtt } from '../../lib/output';
import { type Model } from '../../lib/model/model';
import { loadModel } from '../../lib/model/load';
import { createServer, type ServerOptions } from '../../lib/serve';
import { wavBytes } from '../helpers/audio-corpus';
import { requireAddon } from '../helpers/native';
import { loadFixture } from '../recognizer/models';

const ROOT = join(__dirname, '..', '..');
const SAMPLES = join(ROOT, 'samples');
const KEY = 'openai-route-test-key-0123';

interface Ours {
  text: string;
  duration: number;
  words: Array<{ word: string; start: number; end: number; confidence: number }>;
}

describe('serve: OpenAI-compatible API (the openai SDK as client)', function () {
  this.timeout(60000);
  let main: Model;
  let tiny: Model;
  let dir: string;
  const servers: FastifyInstance[] = [];

  /** A server listening on loopback, and the SDK pointed at it. */
  async function start(o: ServerOptions, apiKey = KEY): Promise<{ url: string; client: OpenAI }> {
    const app = await createServer({ apiKey: KEY, ...o });
    servers.push(app);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    return { url, client: new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 }) };
  }

  /** What our own route answers for the same file (and model). */
  async function ours(url: string, file: string, model?: string): Promise<Ours> {
    const res = await fetch(`${url}/v1/transcribe?timestamps=true${model ? `&model=${model}` : ''}`, {
      method: 'POST', body: new Uint8Array(readFileSync(file)), headers: { authorization: `Bearer ${KEY}`, 'content-type': 'audio/wav' },
    });
    assert.equal(res.status, 200);
    return (await res.json()) as Ours;
  }

  before(async function () {
    requireAddon(this);
    main = await loadModel(join(ROOT, 'models', 'default.pt'), { threads: 1 });
    tiny = await loadFixture('ta_tiny_lv60k');
    dir = mkdtempSync(join(tmpdir(), 'w2v-openai-'));
  });
  after(async () => {
    for (const app of servers) await app.close();
    main?.dispose();
    tiny?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('one server, two models (default: the embedded model), an API key', () => {
    let url: string;
    let client: OpenAI;
    const speech = join(SAMPLES, 'curiosity-16k.wav');
    let ref: Ours;
    before(async () => {
      ({ url, client } = await start({ models: { default: { model: main, maxWaitMs: 1 }, tiny: { model: tiny, maxWaitMs: 1 } } }));
      ref = await ours(url, speech);
      assert.ok(ref.words.length >= 3, 'speech with words to time');
    });

    it('json (the default) and text: the transcript of /v1/transcribe, with model whisper-1', async () => {
      const json = await client.audio.transcriptions.create({ file: createReadStream(speech), model: 'whisper-1' });
      assert.equal(json.text, ref.text);
      const explicit = await client.audio.transcriptions.create({ file: createReadStream(speech), model: 'whisper-1', response_format: 'json' });
      assert.equal(explicit.text, ref.text);
      const text = await client.audio.transcriptions.create({ file: createReadStream(speech), model: 'whisper-1', response_format: 'text' });
      assert.equal(text, `${ref.text}\n`);
    });

    it('srt and vtt: the subtitle writers of batch jobs over the same word timings', async () => {
      const srt = await client.audio.transcriptions.create({ file: createReadStream(speech), model: 'whisper-1', response_format: 'srt' });
      const vtt = await client.audio.transcriptions.create({ file: createReadStream(speech), model: 'whisper-1', response_format: 'vtt' });
      assert.equal(srt, toSrt(ref.words));
      assert.equal(vtt, toVtt(ref.words));
      assert.match(srt, /^1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n/);
      assert.match(vtt, /^WEBVTT\n\n\d\d:\d\d:\d\d\.\d{3} --> /);
      // Every word once, in order, across the cues.
      const cueText = srt.split('\n\n').map((c) => c.split('\n').slice(2).join(' ').trim()).filter(Boolean).join(' ');
      assert.equal(cueText, ref.text);
    });

    it('verbose_json with timestamp_granularities word and segment: words as /v1/transcribe times them, segments that cover them', async () => {
      const v = await client.audio.transcriptions.create({
        file: createReadStream(speech), model: 'whisper-1', response_format: 'verbose_json', timestamp_granularities: ['word', 'segment'],
        language: 'en', prompt: 'ignored', temperature: 0.4,
      });
      assert.equal(v.text, ref.text);
      assert.equal(v.duration, ref.duration);
      assert.equal(v.language, 'en');
      assert.deepEqual(v.words, ref.words.map(({ word, start, end }) => ({ word, start, end })));
      const segments = v.segments!;
      assert.ok(segments.length >= 1);
      assert.equal(segments.map((s) => s.text).join('').trim(), ref.text);
      assert.equal(segments[0]!.start, ref.words[0]!.start);
      assert.equal(segments.at(-1)!.end, ref.words.at(-1)!.end);
      segments.forEach((s, i) => {
        assert.equal(s.id, i);
        assert.ok(s.avg_logprob <= 0 && Number.isFinite(s.avg_logprob));
        assert.ok(s.compression_ratio > 0);
      });
      // Without granularities: segments only, as OpenAI's default.
      const plain = await client.audio.transcriptions.create({ file: createReadStream(speech), model: 'whisper-1', response_format: 'verbose_json' });
      assert.deepEqual(plain.segments, segments);
      assert.equal(plain.words, undefined);
      const wordsOnly = await client.audio.transcriptions.create({ file: createReadStream(speech), model: 'whisper-1', response_format: 'verbose_json', timestamp_granularities: ['word'] });
      assert.equal(wordsOnly.segments, undefined);
      assert.deepEqual(wordsOnly.words, v.words);
    });

    it('segments follow pauses: two sentences 1.5 s apart are two segments, split inside the silence', async () => {
      const a = await loadAudio(readFileSync(join(SAMPLES, 'curiosity-16k.wav')), { mono: true, sampleRate: 16000 });
      const b = await loadAudio(readFileSync(join(SAMPLES, 'question-16k.wav')), { mono: true, sampleRate: 16000 });
      const first = a.channels[0]!;
      const gap = 24000;
      const all = new Float32Array(first.length + gap + b.channels[0]!.length);
      all.set(first);
      all.set(b.channels[0]!, first.length + gap);
      const file = join(dir, 'two-sentences.wav');
      writeFileSync(file, wavBytes(Int16Array.from(all, (x) => Math.round(Math.max(-1, Math.min(1, x)) * 32767)), 16000));
      const both = await ours(url, file);
      const v = await client.audio.transcriptions.create({ file: createReadStream(file), model: 'whisper-1', response_format: 'verbose_json' });
      assert.equal(v.text, both.text);
      const [s1, s2, ...rest] = v.segments!;
      assert.equal(rest.length, 0, JSON.stringify(v.segments));
      const silence = { start: first.length / 16000, end: (first.length + gap) / 16000 };
      assert.ok(s1!.end <= silence.start + 0.05 && s2!.start >= silence.end - 0.05, JSON.stringify({ s1, s2, silence }));
      // At the words on either side of the silence, as /v1/transcribe times them.
      const firstSentence = both.words.filter((w) => w.end <= silence.start + 0.05).length;
      assert.equal(s1!.end, both.words[firstSentence - 1]!.end);
      assert.equal(s2!.start, both.words[firstSentence]!.start);
      assert.equal(`${s1!.text}${s2!.text}`.trim(), both.text);
    });

    it('two models chosen per request by name; x-model says which ran', async () => {
      const refTiny = await ours(url, speech, 'tiny');
      assert.notEqual(refTiny.text, ref.text, 'two models that transcribe differently, or the choice proves nothing');
      const t = await client.audio.transcriptions.create({ file: createReadStream(speech), model: 'tiny' }).withResponse();
      assert.equal(t.data.text, refTiny.text);
      assert.equal(t.response.headers.get('x-model'), 'tiny');
      const d = await client.audio.transcriptions.create({ file: createReadStream(speech), model: 'default' }).withResponse();
      assert.equal(d.data.text, ref.text);
      assert.equal(d.response.headers.get('x-model'), 'default');
      const w = await client.audio.transcriptions.create({ file: createReadStream(speech), model: 'whisper-1' }).withResponse();
      assert.equal(w.response.headers.get('x-model'), 'default');
    });

    it('models.list() and models.retrieve(): the models loaded', async () => {
      const list = await client.models.list();
      assert.deepEqual(list.data.map((m) => m.id), ['default', 'tiny']);
      for (const m of list.data) {
        assert.equal(m.object, 'model');
        assert.equal(m.owned_by, 'wav2vec2-node');
        assert.ok(Number.isInteger(m.created) && m.created > 0);
      }
      assert.equal((await client.models.retrieve('tiny')).id, 'tiny');
      await assert.rejects(client.models.retrieve('whisper-1'), (err: unknown) => err instanceof OpenAI.NotFoundError && err.code === 'MODEL_NOT_FOUND');
    });

    it('errors are the SDK\'s typed errors with our code and message: bad key, bad field, bad audio', async () => {
      const wrong = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'not-the-key-at-all-0123', maxRetries: 0 });
      await assert.rejects(wrong.audio.transcriptions.create({ file: createReadStream(speech), model: 'whisper-1' }), (err: unknown) => {
        assert.ok(err instanceof OpenAI.AuthenticationError, String(err));
        assert.equal(err.status, 401);
        assert.equal(err.code, 'UNAUTHORIZED');
        assert.equal(err.type, 'invalid_request_error');
        assert.match(err.message, /^401 Authorization: the API key is wrong/);
        return true;
      });
      await assert.rejects(wrong.models.list(), OpenAI.AuthenticationError);
      await assert.rejects(client.audio.transcriptions.create({ file: createReadStream(speech), model: 'whisper-1', response_format: 'xml' as 'json' }), (err: unknown) => {
        assert.ok(err instanceof OpenAI.BadRequestError, String(err));
        assert.equal(err.code, 'INVALID_INPUT');
        assert.equal(err.param, 'response_format');
        assert.match(err.message, /response_format: expected one of json, text, srt, vtt, verbose_json, got "xml"/);
        return true;
      });
      await assert.rejects(client.audio.transcriptions.create({ file: createReadStream(speech), model: 'whisper-1', timestamp_granularities: ['word'] }), (err: unknown) =>
        err instanceof OpenAI.BadRequestError && err.param === 'timestamp_granularities' && /only with response_format "verbose_json"/.test(err.message));
      const broken = join(dir, 'broken.wav');
      writeFileSync(broken, readFileSync(speech).subarray(0, 30));
      await assert.rejects(client.audio.transcriptions.create({ file: createReadStream(broken), model: 'whisper-1' }), (err: unknown) => {
        assert.ok(err instanceof OpenAI.BadRequestError, String(err));
        assert.equal(err.code, 'AUDIO_DECODE_FAILED');
        assert.equal(err.param, 'file');
        return true;
      });
    });
  });

  it('strict models: an unknown name (whisper-1) is the SDK\'s NotFoundError with MODEL_NOT_FOUND; known names run', async () => {
    const { url, client } = await start({ models: { fast: { model: main, maxWaitMs: 1 } }, strictModels: true });
    const speech = join(SAMPLES, 'question-16k.wav');
    await assert.rejects(client.audio.transcriptions.create({ file: createReadStream(speech), model: 'whisper-1' }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.NotFoundError, String(err));
      assert.equal(err.code, 'MODEL_NOT_FOUND');
      assert.equal(err.param, 'model');
      assert.match(err.message, /model: expected one of "fast", got "whisper-1"/);
      return true;
    });
    const ok = await client.audio.transcriptions.create({ file: createReadStream(speech), model: 'fast' });
    assert.equal(ok.text, (await ours(url, speech)).text);
  });

  it('the raw answers: content types, the error body shape, and metrics for the route by model', async () => {
    const { url } = await start({ recognizer: { model: main, maxWaitMs: 1 } }, KEY);
    const auth = { authorization: `Bearer ${KEY}` };
    const form = () => {
      const f = new FormData();
      f.append('file', new Blob([new Uint8Array(readFileSync(join(SAMPLES, 'telephone-8k.wav')))]), 'a.wav');
      f.append('model', 'whisper-1');
      return f;
    };
    for (const [format, type] of [['srt', 'application/x-subrip'], ['vtt', 'text/vtt'], ['text', 'text/plain'], ['verbose_json', 'application/json']]) {
      const f = form();
      f.append('response_format', format!);
      const res = await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: f, headers: auth });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type')!.split(';')[0], type);
    }
    const f = form();
    f.append('stream', 'true');
    const res = await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: f, headers: auth });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), {
      error: { message: 'stream: streamed transcriptions are not supported by this server: leave stream unset (or false).', type: 'invalid_request_error', param: 'stream', code: 'INVALID_INPUT' },
    });
    const metrics = await (await fetch(`${url}/metrics`, { headers: auth })).text();
    assert.match(metrics, /wav2vec2_http_requests_total\{route="\/v1\/audio\/transcriptions",method="POST",status="200",model="default"\} 4\n/);
  });
});
