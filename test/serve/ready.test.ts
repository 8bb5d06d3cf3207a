/** GET /ready: the readiness answer beside /health (liveness), for load balancers and Kubernetes readinessProbe. */
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import type { Model } from '../../lib/model/model';
import { createServer } from '../../lib/serve';
import { wavBytes } from '../helpers/audio-corpus';
import { requireAddon } from '../helpers/native';
import { clip, loadFixture } from '../recognizer/models';

describe('serve: GET /ready', function () {
  this.timeout(30000);
  let model: Model;
  let app: FastifyInstance | undefined;
  before(async function () {
    requireAddon(this);
    model = await loadFixture('ta_tiny_lv60k');
  });
  after(async () => {
    await app?.close();
    model?.dispose();
  });

  it('is 200 once serving, 503 from drain() on while requests are still served, and stays open without the API key', async () => {
    app = await createServer({ recognizer: { model, maxWaitMs: 5 }, apiKey: 'k'.repeat(20) });
    const ready = await app.inject({ method: 'GET', url: '/ready' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { status: 'ready' });
    app.drain();
    const draining = await app.inject({ method: 'GET', url: '/ready' });
    assert.equal(draining.statusCode, 503);
    assert.deepEqual(draining.json(), { status: 'draining' });
    assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'alive while draining');
    const wav = Buffer.from(wavBytes(Int16Array.from(clip(16000, 0), (v) => Math.round(v * 32767)), 16000));
    const r = await app.inject({ method: 'POST', url: '/v1/transcribe', payload: wav, headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${'k'.repeat(20)}` } });
    assert.equal(r.statusCode, 200, `still serving while draining: ${r.body}`);
    await app.close();
    app = undefined;
  });
});
