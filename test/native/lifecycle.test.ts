/** Concurrency, dispose while running, the event loop during inference, and process exit. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { type ForwardResult, type Model } from '../../lib/model/model';
import { loadModel } from '../../lib/model/load';
import { maxAbsDiff } from '../../lib/tensor';
import { FIXTURES } from '../helpers/fixtures';
import { requireAddon } from '../helpers/native';

const TA = join(FIXTURES, 'models', 'ta_tiny_base.pt');

function signal(seed: number, n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = 0.3 * Math.sin((i * (seed + 1)) / 37) + 0.05 * Math.sin(i * 0.9 + seed);
  return x;
}

describe('model lifecycle', function () {
  let model: Model;
  before(async function () {
    requireAddon(this);
    model = await loadModel(TA, { manifest: false });
  });
  after(() => model?.dispose());

  it('concurrent calls on one model each get their own result', async () => {
    const inputs = Array.from({ length: 8 }, (_, i) => signal(i, 4000 + i * 1000));
    const alone: ForwardResult[] = [];
    for (const x of inputs) alone.push(await model.forward(x));
    const together = await Promise.all(inputs.map((x) => model.forward(x)));
    together.forEach((r, i) => {
      assert.deepEqual(r.emissions.shape, alone[i]!.emissions.shape);
      assert.ok(maxAbsDiff(r.emissions.data, alone[i]!.emissions.data) <= 1e-6, `item ${i}`);
    });
    assert.equal(model.pending, 0);
  });

  it('a batch of different lengths gives each item what it gets alone on layer_norm models (lengths masking)', async () => {
    // LARGE/LV60K-style models normalise the conv features per frame, so padding cannot leak into valid frames.
    // BASE-style models (group_norm extractor) normalise each channel over the whole padded time axis: in
    // torchaudio too, a padded item differs from the same item alone (the batch_forward fixture pins that).
    const lv60k = await loadModel(join(FIXTURES, 'models', 'ta_tiny_lv60k.pt'), { manifest: false });
    try {
      const items = [signal(1, 12000), signal(2, 36000), signal(3, 20801)];
      const batch = await lv60k.forward(items);
      const [, F, C] = batch.emissions.shape as [number, number, number];
      for (let b = 0; b < items.length; b++) {
        const single = await lv60k.forward(items[b]!);
        const n = batch.lengths[b]!;
        assert.equal(n, single.emissions.shape[1]);
        const d = maxAbsDiff(batch.emissions.data.subarray(b * F * C, (b * F + n) * C), single.emissions.data);
        assert.ok(d <= 1e-4, `item ${b}: ${d}`);
      }
      const base = await model.forward(items);
      const alone = await model.forward(items[0]!);
      const n0 = base.lengths[0]!;
      assert.ok(maxAbsDiff(base.emissions.data.subarray(0, n0 * C), alone.emissions.data) > 1e-2, 'group_norm: padding changes a base model\'s output');
    } finally {
      lv60k.dispose();
    }
  });

  it('calls on several models run side by side', async () => {
    const other = await loadModel(join(FIXTURES, 'models', 'ta_tiny_lv60k.pt'), { manifest: false });
    try {
      const [a, b] = await Promise.all([model.forward(signal(0, 8000)), other.forward(signal(0, 8000))]);
      assert.deepEqual(a.emissions.shape, b.emissions.shape);
      assert.ok(maxAbsDiff(a.emissions.data, b.emissions.data) > 1e-3, 'different weights, different outputs');
    } finally {
      other.dispose();
    }
  });

  it('the caller may change its array as soon as the call is made (the addon reads a copy)', async () => {
    const x = signal(6, 16000);
    const expected = await model.forward(x.slice());
    const pending = model.forward(x);
    x.fill(0.9);
    const got = await pending;
    assert.ok(maxAbsDiff(got.emissions.data, expected.emissions.data) <= 1e-6);
  });

  it('traced models run the items of a ragged batch one at a time: each gets what it gets alone', async () => {
    const hf = await loadModel(join(FIXTURES, 'models', 'hf_tiny_traced.pt'), { manifest: false });
    try {
      const items = [signal(1, 12000), signal(2, 20000), signal(3, 8001)];
      const batch = await hf.forward(items);
      const [B, F, C] = batch.emissions.shape as [number, number, number];
      assert.equal(B, 3);
      for (let b = 0; b < B; b++) {
        const alone = await hf.forward(items[b]!);
        const n = batch.lengths[b]!;
        assert.equal(n, alone.emissions.shape[1]);
        assert.equal(maxAbsDiff(batch.emissions.data.subarray(b * F * C, (b * F + n) * C), alone.emissions.data), 0);
        assert.ok(batch.emissions.data.subarray((b * F + n) * C, (b + 1) * F * C).every((v) => v === 0), 'padding frames are zero');
      }
      // Equal lengths still run as one batch.
      const same = await hf.forward([items[0]!, items[0]!]);
      assert.deepEqual(Array.from(same.lengths), [37, 37]);
    } finally {
      hf.dispose();
    }
  });

  it('normalize never modifies the caller\'s array', async () => {
    const x = signal(4, 8000);
    const copy = x.slice();
    await model.forward(x, { normalize: true });
    assert.deepEqual(x, copy);
  });

  it('dispose() during calls: accepted calls finish, later calls reject with DISPOSED', async () => {
    const m = await loadModel(TA, { manifest: false });
    const x = signal(5, 16000 * 5);
    const reference = await m.forward(x);
    const running = [m.forward(x), m.forward(x), m.extractFeatures(x)] as const;
    assert.equal(m.pending, 3);
    m.dispose();
    assert.equal(m.disposed, true);
    await assert.rejects(m.forward(x), (e: any) => e.code === 'DISPOSED');
    await assert.rejects(m.extractFeatures(x), (e: any) => e.code === 'DISPOSED');
    const [a, b, f] = await Promise.all(running);
    assert.equal(f.features.length, 2);
    assert.ok(maxAbsDiff(a.emissions.data, reference.emissions.data) <= 1e-6);
    assert.ok(maxAbsDiff(b.emissions.data, reference.emissions.data) <= 1e-6);
    assert.equal(m.pending, 0);
    m.dispose(); // twice is fine
    await assert.rejects(m.forward(x), (e: any) => e.code === 'DISPOSED');
  });

  it('the event loop keeps ticking during a long forward', async () => {
    // 6 x 40 s through the tiny model: long enough to see a blocked loop (it would stall for the whole call).
    const items = Array.from({ length: 6 }, (_, i) => signal(i, 16000 * 40));
    let ticks = 0;
    let worstLag = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      worstLag = Math.max(worstLag, now - last - 5);
      last = now;
      ticks++;
    }, 5);
    const t0 = performance.now();
    await model.forward(items);
    const elapsed = performance.now() - t0;
    clearInterval(timer);
    // eslint-disable-next-line no-console
    console.log(`        forward took ${elapsed.toFixed(0)} ms; timer ticked ${ticks} times; worst extra lag ${worstLag.toFixed(1)} ms`);
    assert.ok(elapsed > 200, `the call must be long enough to mean something (${elapsed} ms)`);
    // A blocked loop ticks once after the call; a free one ticks about every 5 ms.
    assert.ok(ticks >= elapsed / 5 / 4, `only ${ticks} ticks in ${elapsed.toFixed(0)} ms`);
    assert.ok(worstLag < elapsed / 2, `worst lag ${worstLag.toFixed(1)} ms of a ${elapsed.toFixed(0)} ms call`);
  });

  function runScript(body: string): ReturnType<typeof spawnSync> {
    const script = `const { loadModel } = require(${JSON.stringify(join(__dirname, '..', '..', 'lib', 'model', 'load.ts'))});
      const TA = ${JSON.stringify(TA)};
      ${body}`;
    return spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', timeout: 30000 });
  }

  it('idle loaded models do not keep the process alive, and exit cleanly without dispose()', function () {
    this.timeout(60000);
    // Several models: at exit Node closes their completion channels before finalizing the models.
    const r = runScript(`(async () => {
        const models = await Promise.all([1, 2, 3].map(() => loadModel(TA, { manifest: false })));
        const outs = await Promise.all(models.map((m) => m.forward(new Float32Array(8000))));
        console.log('frames', outs.map((o) => o.emissions.shape[1]).join(','));
      })();`);
    assert.equal(r.signal, null, `killed by ${r.signal} (hung or crashed): ${r.stderr}`);
    assert.equal(r.status, 0, String(r.stderr));
    assert.match(String(r.stdout), /frames 24,24,24/);
  });

  it('process.exit() while a call is running exits with its code, without a crash', function () {
    this.timeout(60000);
    const r = runScript(`(async () => {
        const m = await loadModel(TA, { manifest: false });
        const x = new Float32Array(16000 * 60);
        m.forward([x, x, x, x]).then(() => console.log('finished first'));
        setTimeout(() => process.exit(7), 30);
      })();`);
    assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
    assert.equal(r.status, 7, String(r.stderr));
  });
});
