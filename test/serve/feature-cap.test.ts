/**
 * /v1/features answers are capped (maxFeatureBytes) once the audio is decoded, before the model runs, and raw float32
 * answers are the model's own values, sent from the tensors' memory.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { loadAudio } from '../../lib/audio';
import { createRecognizer, type Recognizer } from '../../lib/recognizer';
import { createServer } from '../../lib/serve';
import { featureAnswerBytes } from '../../lib/serve/routes';
import { framesFor } from '../../lib/model/manifest';
import type { Model } from '../../lib/model/model';
import { wavBytes } from '../helpers/audio-corpus';
import { requireAddon } from '../helpers/native';
import { clip, loadFixture, speech } from '../recognizer/models';

/** A WAV of the fixture speech (2.2 s, repeated as needed): `n` samples at 16 kHz, 16-bit. */
function wav(n: number, offset = 0): Buffer {
  const pcm = Int16Array.from({ length: n }, (_, i) => Math.round(speech[(offset + i) % speech.length]! * 32767));
  return Buffer.from(wavBytes(pcm, 16000));
}

const post = (app: FastifyInstance, url: string, payload: Buffer) =>
  app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'audio/wav' } });

/** Model calls so far, as /metrics reports them (the batch-size histogram's count). */
async function modelCalls(app: FastifyInstance): Promise<number> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  return Number(/^wav2vec2_batch_size_count\{model="default",kind="features"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

function assert413(res: { statusCode: number; json(): unknown }, pattern: RegExp): void {
  assert.equal(res.statusCode, 413, JSON.stringify(res.json()));
  const { error } = res.json() as { error: { code: string; message: string } };
  assert.equal(error.code, 'INPUT_TOO_LONG');
  assert.match(error.message, pattern);
}

describe('serve: /v1/features size cap and raw float32 answers', function () {
  this.timeout(60000);

  describe('the embedded model (its manifest gives the feature shape)', () => {
    let app: FastifyInstance;
    let rec: Recognizer;
    before(async function () {
      requireAddon(this);
      rec = await createRecognizer({ threads: 1, maxWaitMs: 0 });
      // 1 MiB: for the embedded model (4 layers × 192), 2 s of audio as f32 is 297 KiB and 8 s is 1.17 MiB.
      app = await createServer({ recognizer: rec, maxFeatureBytes: 2 ** 20 });
    });
    after(async () => {
      await app?.close();
      await rec?.close();
    });

    it('an f32 answer over the cap gets 413 INPUT_TOO_LONG before the model ever runs', async () => {
      const before = { ...rec.stats(), metric: await modelCalls(app) };
      assert.equal(before.batches, 0, 'no model call yet: the shape comes from the manifest, not from a first run');
      // The shape the answer would have, from the model's manifest (its conv layout, depth and width).
      const m = rec.model.manifest!;
      const frames = framesFor(8 * 16000, m.convLayers);
      assert413(await post(app, '/v1/features?format=f32', wav(8 * 16000)), new RegExp(`at most 1\\.0 MiB .*${m.numLayers} layers × ${frames} frames × ${m.embedDim} × 4 bytes`));
      assert.equal(rec.stats().batches, before.batches, 'the recognizer ran no batch');
      assert.equal(await modelCalls(app), before.metric, '/metrics counted no model call');
      // Fewer layers fit: the same audio, 1 layer (300 KiB), runs.
      const one = await post(app, '/v1/features?format=f32&layers=1', wav(8 * 16000));
      assert.equal(one.statusCode, 200, one.body);
      assert.equal(one.headers['x-shape'], `1,${frames},${m.embedDim}`);
      assert.equal(rec.stats().batches, before.batches + 1);
      assert.equal(await modelCalls(app), before.metric + 1, 'and /metrics counts model calls');
    });

    it('JSON answers are refused on their bounded text size (a JSON answer never exceeds the bound)', async () => {
      const calls = rec.stats().batches;
      // 2 s: 76032 numbers, at most 1.9 MiB of JSON: over 1 MiB although its f32 (297 KiB) is not.
      assert413(await post(app, '/v1/features', wav(2 * 16000)), /up to 1\.9 MiB .*as JSON.*format=f32/);
      assert.equal(rec.stats().batches, calls, 'refused before the model ran');
      const ok = await post(app, '/v1/features?layers=1', wav(2 * 16000));
      assert.equal(ok.statusCode, 200, ok.body);
      const j = ok.json() as { layers: number; frames: number; dim: number };
      assert.ok(ok.rawPayload.length <= featureAnswerBytes(j, 'json'), `${ok.rawPayload.length} bytes over the bound ${featureAnswerBytes(j, 'json')}`);
    });

    it('f32 answers over loopback are extractFeatures exactly, byte for byte, with their Content-Length', async () => {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = app.server.address() as AddressInfo;
      const body = wav(3 * 16000, 4000);
      const res = await fetch(`http://127.0.0.1:${port}/v1/features?format=f32`, { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': 'audio/wav' } });
      assert.equal(res.status, 200);
      const got = Buffer.from(await res.arrayBuffer());
      assert.equal(Number(res.headers.get('content-length')), got.length);
      const audio = await loadAudio(body, { mono: true });
      const { features } = await rec.model.extractFeatures(audio.channels[0]!);
      const want = Buffer.concat(features.map((f) => Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength)));
      assert.equal(res.headers.get('x-shape'), `${features.length},${features[0]!.shape[1]},${features[0]!.shape[2]}`);
      assert.ok(got.equals(want), 'the bytes differ from extractFeatures');
    });
  });

  describe('a model whose manifest has no embedDim', () => {
    let model: Model;
    before(async function () {
      requireAddon(this);
      model = await loadFixture('ta_tiny_lv60k');
    });
    after(() => model?.dispose());

    it('is checked on its first result, then before the model runs once its width is known', async () => {
      const rec = await createRecognizer({ model, maxWaitMs: 0 });
      // One layer of 1 s is frames × dim floats, as the model itself gives them; cap it just under that.
      const [, frames, dim] = (await model.extractFeatures(clip(16000), { numLayers: 1 })).features[0]!.shape as [number, number, number];
      const app = await createServer({ recognizer: rec, maxFeatureBytes: frames * dim * 4 - 1 });
      const shape = new RegExp(`1 layers × ${frames} frames × ${dim}`);
      try {
        assert413(await post(app, '/v1/features?format=f32&layers=1', wav(16000)), shape);
        assert.equal(rec.stats().batches, 1, 'the first request ran: its shape could not be known before');
        assert413(await post(app, '/v1/features?format=f32&layers=1', wav(16000)), shape);
        assert.equal(rec.stats().batches, 1, 'the second was refused before the model ran');
        assert.equal((await post(app, '/v1/features?format=f32&layers=1', wav(12000))).statusCode, 200, 'a shorter clip fits');
      } finally {
        await app.close();
        await rec.close();
      }
    });
  });
});
