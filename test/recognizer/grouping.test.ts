/** pickGroup: which waiting requests go with the oldest one; the Batcher's slots (one batch per model replica). */
import assert from 'node:assert/strict';
import { Batcher, pickGroup, type Queued } from '../../lib/recognizer/batcher';
import { extractorNorm, groupingFor } from '../../lib/recognizer/policy';

const q = (...specs: Array<[string, number]>): Queued[] => specs.map(([key, length], i) => ({ key, length, enqueuedAt: i }));
const lengths = (g: Queued[]) => g.map((j) => j.length);

describe('recognizer batcher: grouping', () => {
  it('equal-length: the oldest request and the others of exactly its length and key, oldest first, at most max', () => {
    const queue = q(['t', 100], ['t', 200], ['t', 100], ['f', 100], ['t', 100], ['t', 100]);
    assert.deepEqual(pickGroup(queue, { kind: 'equal-length' }, 3).map((j) => j.enqueuedAt), [0, 2, 4]);
    assert.deepEqual(pickGroup(queue.slice(1), { kind: 'equal-length' }, 8).map((j) => j.enqueuedAt), [1]);
  });

  it('similar-length: nearest lengths first, never beyond (1 + maxPadding) × the shortest, in arrival order', () => {
    const queue = q(['t', 1000], ['t', 1300], ['t', 900], ['t', 1100], ['t', 5000], ['t', 1200]);
    const g = pickGroup(queue, { kind: 'similar-length', maxPadding: 0.25 }, 8);
    // 900 and 1100 are nearest (a tie, kept in arrival order); then 1200 would be 1.33 × 900: left out.
    assert.deepEqual(lengths(g), [1000, 900, 1100]);
    const max = Math.max(...lengths(g));
    const min = Math.min(...lengths(g));
    assert.ok(max <= min * 1.25);
    assert.deepEqual(lengths(pickGroup(queue, { kind: 'similar-length', maxPadding: 0.25 }, 2)), [1000, 900]);
    assert.deepEqual(lengths(pickGroup(q(['t', 5000], ['t', 1000]), { kind: 'similar-length', maxPadding: 0.25 }, 8)), [5000]);
  });

  it('at most maxSamples padded samples (items × longest), but the oldest always goes', () => {
    const equal = q(['t', 100], ['t', 100], ['t', 100], ['t', 100]);
    assert.equal(pickGroup(equal, { kind: 'equal-length' }, 8, 250).length, 2);
    assert.equal(pickGroup(equal, { kind: 'equal-length' }, 8, 50).length, 1);
    const similar = q(['t', 100], ['t', 110], ['t', 120], ['t', 90]);
    // 100 + 110 (nearest, with 90): 3 × 110 = 330 fits 340; adding 120 would make 4 × 120 = 480.
    assert.deepEqual(lengths(pickGroup(similar, { kind: 'similar-length', maxPadding: 0.5 }, 8, 340)), [100, 110, 90]);
  });

  it('an empty queue gives an empty group', () => {
    assert.deepEqual(pickGroup([], { kind: 'equal-length' }, 4), []);
  });
});

describe('recognizer batcher: slots', () => {
  /** A batcher whose batches finish when the test says; records [slot, lengths] of each batch as it starts. */
  function recording(slots: number) {
    const started: Array<[number, number[]]> = [];
    const finish: Array<() => void> = [];
    const batcher = new Batcher<Queued>({ maxBatchSize: 2, maxBatchSamples: Infinity, maxWaitMs: 60000, grouping: { kind: 'equal-length' }, slots }, (batch, slot) => {
      started.push([slot, batch.map((j) => j.length)]);
      return new Promise<void>((resolve) => finish.push(resolve));
    });
    return { batcher, started, finish };
  }
  const job = (length: number): Queued => ({ key: 't', length, enqueuedAt: performance.now() });
  const tick = () => new Promise<void>((r) => setImmediate(r));

  it('runs one batch per slot at once, each on its own slot, and the next when a slot frees', async () => {
    const { batcher, started, finish } = recording(2);
    for (const n of [100, 100, 200, 300, 300]) batcher.push(job(n));
    // The two 100s fill a batch and leave; the rest waits for company until draining sends it off.
    batcher.drain();
    await tick();
    // Two slots: two batches started (two 100s, then the 200 alone), the 300s wait.
    assert.deepEqual(started, [[0, [100, 100]], [1, [200]]]);
    assert.equal(batcher.running, 3);
    assert.equal(batcher.queued, 2);
    finish[1]!();
    await tick();
    await tick();
    assert.deepEqual(started[2], [1, [300, 300]]);
    finish[0]!();
    finish[2]!();
    await batcher.idle();
    assert.equal(batcher.running, 0);
  });

  it('one slot (the default) runs one batch at a time', async () => {
    const { batcher, started, finish } = recording(1);
    for (const n of [100, 200]) batcher.push(job(n));
    batcher.drain();
    await tick();
    assert.deepEqual(started, [[0, [100]]]);
    finish[0]!();
    await tick();
    await tick();
    assert.deepEqual(started, [[0, [100]], [0, [200]]]);
    finish[1]!();
    await batcher.idle();
  });
});

describe('recognizer policy: which models may batch different lengths', () => {
  const model = (convention: 'torchaudio' | 'traced', manifest?: Record<string, unknown>) =>
    ({ info: { convention }, manifest: manifest && { format: 'wav2vec2-node-model/1', sampleRate: 16000, normalizeWaveform: false, frameStride: 320, receptiveField: 400, ...manifest } }) as never;

  it('reads the extractor kind from what each exporter records', () => {
    assert.equal(extractorNorm(undefined), 'unknown');
    assert.equal(extractorNorm({ source: { featExtractNorm: 'layer' } } as never), 'layer');
    assert.equal(extractorNorm({ source: { architecture: { featExtractNorm: 'group' } } } as never), 'group');
    assert.equal(extractorNorm({ source: { params: { extractor_mode: 'layer_norm' } } } as never), 'layer');
    assert.equal(extractorNorm({ source: { bundle: 'WAV2VEC2_ASR_BASE_960H' } } as never), 'group');
    assert.equal(extractorNorm({ source: { bundle: 'WAV2VEC2_ASR_LARGE_LV60K_960H' } } as never), 'layer');
    assert.equal(extractorNorm({ source: { bundle: 'NOT_A_BUNDLE' } } as never), 'unknown');
  });

  it('padded batches only for models that take lengths and are exact with padding', () => {
    const similar = { kind: 'similar-length', maxPadding: 0.25 };
    const equal = { kind: 'equal-length' };
    assert.deepEqual(groupingFor(model('torchaudio', { source: { bundle: 'WAV2VEC2_ASR_LARGE_LV60K_960H' } })), similar);
    assert.deepEqual(groupingFor(model('torchaudio', { source: { bundle: 'WAV2VEC2_ASR_BASE_960H' } })), equal);
    assert.deepEqual(groupingFor(model('torchaudio')), equal, 'unknown: equal lengths only');
    assert.deepEqual(groupingFor(model('traced', { paddedBatchExact: true })), equal, 'a traced model takes no lengths');
    // The manifest's own word wins over the extractor kind, both ways.
    assert.deepEqual(groupingFor(model('torchaudio', { paddedBatchExact: true, source: { featExtractNorm: 'group' } })), similar);
    assert.deepEqual(groupingFor(model('torchaudio', { paddedBatchExact: false, source: { featExtractNorm: 'layer' } })), equal);
    assert.deepEqual(groupingFor(model('torchaudio', { paddedBatchExact: true }), 0.1), { kind: 'similar-length', maxPadding: 0.1 });
  });

  it('no batching at all for a dynamically quantised model (its activation scale comes from the whole batch)', () => {
    const int8 = model('torchaudio', { paddedBatchExact: false, source: { quantization: { kind: 'dynamic int8' } } });
    assert.deepEqual(groupingFor(int8), { kind: 'single' });
    const queue = q(['a', 16000], ['a', 16000], ['a', 16000]);
    assert.equal(pickGroup(queue, { kind: 'single' }, 8).length, 1);
    assert.equal(pickGroup(queue, { kind: 'equal-length' }, 8).length, 3);
  });
});
