/** Warming a model up (lib/model/warmup.ts): one call per frame bucket of native/shape_buckets.cc, then two per other replica. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadModel } from '../../lib/model/load';
import type { Model } from '../../lib/model/model';
import { warmUp, warmupFrames } from '../../lib/model/warmup';
import { createRecognizer } from '../../lib/recognizer';
import { FIXTURES } from '../helpers/fixtures';
import { requireAddon } from '../helpers/native';

const TA = join(FIXTURES, 'models', 'ta_tiny_base.pt');

describe('warm-up', () => {
  describe('warmupFrames: one length per frame bucket', () => {
    it('steps by 32 frames up to 1024, then by 64, then by 128 (BucketSize: at most 1/16 more computed)', () => {
      const f = warmupFrames(3000);
      assert.deepEqual(f.slice(0, 3), [32, 64, 96]);
      const steps = f.slice(1).map((v, i) => [f[i]!, v - f[i]!] as const);
      for (const [from, step] of steps) assert.equal(step, from < 1024 ? 32 : from < 2048 ? 64 : 128, `step after ${from}`);
      // Ends with the bucket that holds the longest length asked for.
      assert.ok(f.at(-1)! >= 3000 && f.at(-2)! < 3000, `${f.at(-2)}, ${f.at(-1)}`);
      assert.equal(f.length, 32 + 16 + 8);
    });
    it('always warms at least the first bucket', () => {
      assert.deepEqual(warmupFrames(1), [32]);
      assert.deepEqual(warmupFrames(33), [32, 64]);
    });
  });

  describe('warmUp', function () {
    const open: Model[] = [];
    before(function () {
      requireAddon(this);
    });
    afterEach(() => {
      for (const m of open.splice(0)) m.dispose();
    });

    it('runs the first replica through the ladder and every other replica twice, and leaves them working', async () => {
      const models = await Promise.all([0, 1, 2].map(() => loadModel(TA, { manifest: false, threads: 1 })));
      open.push(...models);
      // 3 s: 150 frames, buckets 32..160.
      const r = await warmUp(models, 3);
      assert.equal(r.calls, 5 + 2 * 2);
      assert.ok(r.ms > 0);
      for (const m of models) assert.deepEqual((await m.forward(new Float32Array(16000))).emissions.shape.slice(0, 2), [1, 49]);
    });

    it('does nothing for 0 s', async () => {
      const m = await loadModel(TA, { manifest: false });
      open.push(m);
      assert.deepEqual(await warmUp([m], 0), { calls: 0, ms: 0 });
    });

    it('stops at the lengths the model refuses as too long (its attention budget), without failing', async () => {
      // 2 heads x 4 bytes x F^2 <= 1e6 up to 353 frames: the buckets 32..352 run (11), 384 is refused.
      const m = await loadModel(TA, { manifest: false, maxAttentionBytes: 1e6 });
      open.push(m);
      assert.equal((await warmUp([m], 20)).calls, 11);
    });

    it('a Recognizer warms up when asked, and says what it took', async () => {
      const model = await loadModel(TA, { manifest: false });
      open.push(model);
      const cold = await createRecognizer({ model });
      assert.deepEqual(cold.warmup, { calls: 0, ms: 0 });
      await cold.close();
      const warm = await createRecognizer({ model, warmupSeconds: 1 });
      assert.equal(warm.warmup.calls, 2); // 50 frames: buckets 32 and 64
      await warm.close();
    });
  });
});
