/** createRecognizer: batched results equal single ones, per-request failures, backpressure, abort, close. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Model } from '../../lib/model/model';
import { loadModel } from '../../lib/model/load';
import { createRecognizer, type BatchInfo, type Recognition, type Recognizer } from '../../lib/recognizer';
import { createDecoder, loadForModel, padToReceptiveField } from '../../lib/pipeline/transcribe';
import { maxAbsDiff } from '../../lib/tensor';
import { Wav2Vec2Error } from '../../lib/errors';
import { buildWav, wavBytes } from '../helpers/audio-corpus';
import { codeOf, rejectsCode } from '../helpers/errors';
import { requireAddon } from '../helpers/native';
import { clip, loadFixture } from './models';

const DEFAULT_MODEL = join(__dirname, '..', '..', 'models', 'default.pt');

/** What the model gives `samples` alone: emissions [frames, classes] and the greedy transcript. */
async function single(model: Model, samples: Float32Array): Promise<{ emissions: Float32Array; frames: number; text: string }> {
  const { emissions } = await model.forward(padToReceptiveField(model, samples));
  const [, F, C] = emissions.shape as [number, number, number];
  return { emissions: emissions.data, frames: F, text: createDecoder(model).decode({ data: emissions.data, shape: [F, C] }).text };
}

/** Sends every clip at once and records the batches. */
async function concurrently(rec: Recognizer, clips: Float32Array[]): Promise<{ results: Recognition[]; batches: BatchInfo[] }> {
  const batches: BatchInfo[] = [];
  const off = rec.onBatch((b) => batches.push(b));
  try {
    const results = await Promise.all(clips.map((samples) => rec.transcribe({ samples, sampleRate: 16000 }, { emissions: true })));
    return { results, batches };
  } finally {
    off();
  }
}

async function assertSameAsAlone(model: Model, clips: Float32Array[], results: Recognition[]): Promise<void> {
  for (let i = 0; i < clips.length; i++) {
    const ref = await single(model, clips[i]!);
    const got = results[i]!;
    assert.equal(got.emissions!.shape[0], ref.frames, `clip ${i}: frame count`);
    const diff = maxAbsDiff(got.emissions!.data, ref.emissions);
    assert.ok(diff <= 1e-4, `clip ${i}: emissions differ from the single run by ${diff}`);
    assert.equal(got.text, ref.text, `clip ${i}: transcript`);
    assert.equal(got.duration, clips[i]!.length / 16000);
  }
}

const sizes = (batches: BatchInfo[]) => batches.map((b) => b.size).sort((a, b) => a - b);

describe('recognizer', function () {
  this.timeout(30000);
  before(function () {
    requireAddon(this);
  });

  describe('batched results equal single-request results', () => {
    it('layer-norm torchaudio model: different lengths share a padded batch (per-item lengths and normalisation)', async () => {
      const model = await loadFixture('ta_tiny_lv60k');
      const rec = await createRecognizer({ model, batchSize: 4, maxWaitMs: 200 });
      try {
        assert.deepEqual(rec.grouping, { kind: 'similar-length', maxPadding: 0.25 });
        // Four lengths within 25 % of each other (one batch), two longer ones (another); gains differ so that
        // per-item normalisation matters (a whole-batch normalisation would change every item).
        const clips = [clip(16000, 0, 1), clip(17000, 900, 4), clip(18000, 300, 0.5), clip(19000, 1200, 2), clip(30000, 0, 3), clip(32000, 100)];
        const { results, batches } = await concurrently(rec, clips);
        assert.deepEqual(sizes(batches), [2, 4]);
        await assertSameAsAlone(model, clips, results);
      } finally {
        await rec.close();
        model.dispose();
      }
    });

    it('group-norm torchaudio model: only equal lengths share a batch, since padding would change the shorter items', async () => {
      const model = await loadFixture('ta_tiny_base');
      const rec = await createRecognizer({ model, batchSize: 8, maxWaitMs: 200 });
      try {
        assert.deepEqual(rec.grouping, { kind: 'equal-length' });
        const clips = [clip(20000, 0), clip(21000, 0), clip(20000, 4000, 3), clip(22000, 500), clip(20000, 9000, 0.2)];
        const { results, batches } = await concurrently(rec, clips);
        assert.deepEqual(sizes(batches), [1, 1, 3]);
        await assertSameAsAlone(model, clips, results);
        // Why: the same model on a padded ragged batch moves the short item far beyond the tolerance.
        const ragged = await model.forward([clips[0]!, clips[1]!]);
        const alone = await single(model, clips[0]!);
        const [, F, C] = ragged.emissions.shape as [number, number, number];
        assert.ok(maxAbsDiff(ragged.emissions.data.subarray(0, alone.frames * C), alone.emissions) > 1e-2, `padding visible (F=${F})`);
      } finally {
        await rec.close();
        model.dispose();
      }
    });

    it('the default model: batches as its manifest allows and matches single runs', async () => {
      const rec = await createRecognizer({ model: DEFAULT_MODEL, threads: 1, batchSize: 4, maxWaitMs: 200 });
      try {
        // A traced export (no lengths) batches equal lengths only; a length-aware one with paddedBatchExact
        // takes the 14000-sample clip too (within 25 % of 12000).
        const clips = [clip(12000, 0, 1), clip(12000, 8000, 5), clip(12000, 11200, 0.1), clip(14000, 0)];
        const { results, batches } = await concurrently(rec, clips);
        assert.deepEqual(sizes(batches), rec.grouping.kind === 'equal-length' ? [1, 3] : [4]);
        await assertSameAsAlone(rec.model, clips, results);
      } finally {
        await rec.close();
      }
      assert.ok(rec.model.disposed, 'a recognizer disposes the model it loaded');
    });

    it('replicas (concurrency): batches run on several at once, each result as the model alone gives it', async () => {
      const rec = await createRecognizer({ model: DEFAULT_MODEL, concurrency: 2, threads: 1, batchSize: 1, maxWaitMs: 0 });
      try {
        assert.equal(rec.replicas, 2);
        const clips = [clip(16000, 0, 1), clip(20000, 3000, 2), clip(24000, 500, 0.5), clip(18000, 9000)];
        let most = 0;
        let settled = false;
        const watch = (async () => {
          while (!settled) {
            most = Math.max(most, rec.stats().running);
            await new Promise((r) => setImmediate(r));
          }
        })();
        const { results, batches } = await concurrently(rec, clips).finally(() => (settled = true));
        await watch;
        assert.equal(batches.length, 4);
        assert.equal(most, 2, 'two batches (of one) ran at once');
        await assertSameAsAlone(rec.model, clips, results);
      } finally {
        await rec.close();
      }
      assert.ok(rec.model.disposed);
    });

    it('features: checkShape sees the exact shape before the model runs, and a throw there refuses the request', async () => {
      const rec = await createRecognizer({ model: DEFAULT_MODEL, threads: 1, maxWaitMs: 0 });
      try {
        // Lengths around the conv layers' rounding, one under the receptive field (padded), and 8 kHz input.
        const inputs = [{ n: 400, rate: 16000 }, { n: 12323, rate: 16000 }, { n: 12320 + 319, rate: 16000 }, { n: 150, rate: 16000 }, { n: 9001, rate: 8000 }];
        for (const [i, { n, rate }] of inputs.entries()) {
          for (const numLayers of [undefined, 2]) {
            const seen: unknown[] = [];
            const r = await rec.features({ samples: clip(n), sampleRate: rate }, { checkShape: (s) => void seen.push({ ...s }), ...(numLayers ? { numLayers } : {}) });
            assert.deepEqual(seen, [{ layers: r.features.length, frames: r.features[0]!.shape[0], dim: r.features[0]!.shape[1] }], `input ${i}, layers ${numLayers}`);
          }
        }
        const batches = rec.stats().batches;
        await rejectsCode(rec.features({ samples: clip(16000), sampleRate: 16000 }, { checkShape: () => { throw new Wav2Vec2Error('INPUT_TOO_LONG', 'too large'); } }), 'INPUT_TOO_LONG', /too large/);
        assert.equal(rec.stats().batches, batches, 'the model did not run');
        await rejectsCode(rec.features({ samples: clip(16000), sampleRate: 16000 }, { checkShape: 1 as never }), 'INVALID_INPUT', /checkShape/);
      } finally {
        await rec.close();
      }
    });

    it('features: batched per-layer features equal extractFeatures alone', async () => {
      const model = await loadFixture('ta_tiny_lv60k');
      const rec = await createRecognizer({ model, batchSize: 3, maxWaitMs: 200 });
      try {
        const clips = [clip(16000), clip(17500, 2000), clip(18000, 5000, 2)];
        const batches: BatchInfo[] = [];
        rec.onBatch((b) => batches.push(b));
        const got = await Promise.all(clips.map((samples) => rec.features({ samples, sampleRate: 16000 }, { numLayers: 2 })));
        assert.deepEqual(batches.map((b) => [b.kind, b.size]), [['features', 3]]);
        for (let i = 0; i < clips.length; i++) {
          const { features } = await model.extractFeatures(clips[i]!, { numLayers: 2 });
          assert.equal(got[i]!.features.length, 2);
          features.forEach((f, k) => {
            assert.deepEqual(got[i]!.features[k]!.shape, f.shape.slice(1));
            assert.ok(maxAbsDiff(got[i]!.features[k]!.data, f.data) <= 1e-4, `clip ${i} layer ${k}`);
          });
        }
      } finally {
        await rec.close();
        model.dispose();
      }
    });
  });

  describe('one bad request fails alone', () => {
    it('NaN samples, bytes that are not audio and an empty clip fail with their own codes; the others succeed', async () => {
      const model = await loadFixture('ta_tiny_lv60k');
      const rec = await createRecognizer({ model, batchSize: 8, maxWaitMs: 100 });
      try {
        const nan = clip(17000);
        nan[500] = NaN;
        const calls = [
          rec.transcribe({ samples: clip(16000), sampleRate: 16000 }),
          rec.transcribe({ samples: nan, sampleRate: 16000 }),
          rec.transcribe(Buffer.from('definitely not audio, just text')),
          rec.transcribe({ samples: new Float32Array(0), sampleRate: 16000 }),
          rec.transcribe({ samples: clip(18000, 100), sampleRate: 16000 }),
        ];
        const settled = await Promise.allSettled(calls);
        assert.equal(settled[0]!.status, 'fulfilled');
        assert.equal(settled[4]!.status, 'fulfilled');
        const reasons = settled.map((s) => (s.status === 'rejected' ? s.reason : null));
        codeOf('INVALID_INPUT', /finite/)(reasons[1]);
        codeOf('AUDIO_UNSUPPORTED_FORMAT')(reasons[2]);
        codeOf('AUDIO_EMPTY')(reasons[3]);
      } finally {
        await rec.close();
        model.dispose();
      }
    });

    it('a batch the model refuses is rerun item by item: only the item that fails alone fails', async () => {
      const probe = await loadFixture('ta_tiny_lv60k');
      const heads = probe.info.numHeads!;
      probe.dispose();
      // 16000 samples -> 49 frames, 19000 -> 58: a budget between them passes the short items alone, and
      // refuses the long one alone and the padded batch of all three.
      const budget = heads * 4 * 53 * 53;
      const model = await loadFixture('ta_tiny_lv60k', { maxAttentionBytes: budget });
      const rec = await createRecognizer({ model, batchSize: 3, maxWaitMs: 200 });
      const batches: BatchInfo[] = [];
      rec.onBatch((b) => batches.push(b));
      try {
        const clips = [clip(16000), clip(19000, 100), clip(16000, 3000)];
        const settled = await Promise.allSettled(clips.map((samples) => rec.transcribe({ samples, sampleRate: 16000 }, { emissions: true })));
        assert.deepEqual(batches.map((b) => [b.size, b.retriedAlone]), [[3, true]]);
        assert.equal(settled[0]!.status, 'fulfilled');
        assert.equal(settled[2]!.status, 'fulfilled');
        assert.equal(settled[1]!.status, 'rejected');
        codeOf('INPUT_TOO_LONG')((settled[1] as PromiseRejectedResult).reason);
        const ok = settled[2] as PromiseFulfilledResult<Recognition>;
        const ref = await single(model, clips[2]!);
        assert.ok(maxAbsDiff(ok.value.emissions!.data, ref.emissions) <= 1e-4);
      } finally {
        await rec.close();
        model.dispose();
      }
    });
  });

  describe('inputs', () => {
    let rec: Recognizer;
    let model: Model;
    let dir: string;
    before(async () => {
      model = await loadFixture('ta_tiny_lv60k');
      rec = await createRecognizer({ model, maxDuration: 3 });
      dir = mkdtempSync(join(tmpdir(), 'w2v-rec-'));
    });
    after(async () => {
      await rec?.close();
      model?.dispose();
    });

    it('a path, a Buffer, an ArrayBuffer and 8 kHz samples give what loadForModel + forward give', async () => {
      const x16k = clip(32000);
      const x8k = Float32Array.from({ length: 16000 }, (_, i) => x16k[i * 2]!);
      const file = join(dir, 'a.wav');
      const bytes = wavBytes(Int16Array.from(x8k, (v) => Math.round(v * 32767)), 8000);
      writeFileSync(file, bytes);
      const expected = await loadForModel(rec.model, file);
      const ref = await single(rec.model, expected.samples);
      const inputs = [file, Buffer.from(bytes), bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer];
      for (const input of inputs) {
        const r = await rec.transcribe(input, { emissions: true, timestamps: true });
        assert.equal(r.text, ref.text);
        assert.equal(r.duration, 2);
        assert.ok(Array.isArray(r.words));
        assert.ok(maxAbsDiff(r.emissions!.data, ref.emissions) <= 1e-4);
      }
      const raw = await rec.transcribe({ samples: x8k, sampleRate: 8000 });
      assert.equal(raw.words, undefined, 'words only with timestamps: true');
      assert.equal(raw.duration, 2);
    });

    it('audio over maxDuration is refused with INPUT_TOO_LONG, from samples and from a file', async () => {
      await rejectsCode(rec.transcribe({ samples: new Float32Array(16000 * 4), sampleRate: 16000 }), 'INPUT_TOO_LONG', /maxDuration/);
      const file = join(dir, 'long.wav');
      writeFileSync(file, wavBytes(new Int16Array(16000 * 5), 16000));
      await rejectsCode(rec.transcribe(file), 'INPUT_TOO_LONG', /at most 3 s/);
    });

    it('a file over maxDuration: refused from its header when it declares its length, else where decoding stopped', async () => {
      // 60 s of 16-bit audio whose data chunk says so: refused before any sample is decoded.
      const file = join(dir, 'longer.wav');
      writeFileSync(file, wavBytes(new Int16Array(16000 * 60), 16000));
      await rejectsCode(rec.transcribe(file), 'INPUT_TOO_LONG', /got audio whose header declares 60\.0 s/);
      // The same audio written by a streaming writer (data size 0xFFFFFFFF: unknown): decoded in 64 KiB slices
      // (2.048 s) and given up at the first that passes 3 s. The message does not give that point as the length.
      const streamed = join(dir, 'streamed.wav');
      writeFileSync(streamed, buildWav({ data: new Uint8Array(16000 * 60 * 2), dataSize: 0xffffffff, riffSize: 0xffffffff }));
      const err = await rec.transcribe(streamed).then(() => assert.fail('accepted 60 s over a 3 s limit'), (e: Error) => e);
      assert.equal((err as { code?: string }).code, 'INPUT_TOO_LONG');
      assert.match(err.message, /got audio longer than 3 s \(decoding stopped at 4\.1 s\)/);
      assert.doesNotMatch(err.message, /got [\d.]+ s/);
      // Samples have a known length, which is given.
      await rejectsCode(rec.transcribe({ samples: new Float32Array(16000 * 4), sampleRate: 16000 }), 'INPUT_TOO_LONG', /got 4\.0 s\./);
    });

    it('bad arguments are INVALID_INPUT', async () => {
      await rejectsCode(rec.transcribe(42 as never), 'INVALID_INPUT', /audio/);
      await rejectsCode(rec.transcribe(clip(16000) as never), 'INVALID_INPUT', /sampleRate/);
      await rejectsCode(rec.transcribe({ samples: clip(16000), sampleRate: 0 }), 'INVALID_INPUT', /sampleRate/);
      await rejectsCode(rec.transcribe('x.wav', { signal: 'no' as never }), 'INVALID_INPUT', /signal/);
      await rejectsCode(rec.transcribe('x.wav', { timestamps: 1 as never }), 'INVALID_INPUT', /timestamps/);
      await rejectsCode(rec.features('x.wav', { numLayers: 0 }), 'INVALID_INPUT', /numLayers/);
      await rejectsCode(rec.transcribe(join(dir, 'missing.wav')), 'AUDIO_READ_FAILED');
    });
  });

  describe('options', () => {
    it('are checked before anything loads', async () => {
      await rejectsCode(createRecognizer({ batchSize: 0 }), 'INVALID_INPUT', /batchSize/);
      await rejectsCode(createRecognizer({ maxWaitMs: -1 }), 'INVALID_INPUT', /maxWaitMs/);
      await rejectsCode(createRecognizer({ maxBatchSeconds: 0 }), 'INVALID_INPUT', /maxBatchSeconds/);
      await rejectsCode(createRecognizer({ warmupSeconds: -1 }), 'INVALID_INPUT', /warmupSeconds: expected a number of seconds within \[0, 120\]/);
      await rejectsCode(createRecognizer({ warmupSeconds: 121 }), 'INVALID_INPUT', /warmupSeconds/);
      await rejectsCode(createRecognizer({ warmupSeconds: '5' as never }), 'INVALID_INPUT', /warmupSeconds/);
      await rejectsCode(createRecognizer({ maxQueue: 1.5 }), 'INVALID_INPUT', /maxQueue/);
      await rejectsCode(createRecognizer({ maxDuration: 0 }), 'INVALID_INPUT', /maxDuration/);
      await rejectsCode(createRecognizer({ model: 3 as never }), 'INVALID_INPUT', /model/);
      await rejectsCode(createRecognizer({ model: '/nonexistent/m.pt' }), 'MODEL_NOT_FOUND');
      await rejectsCode(createRecognizer({ model: DEFAULT_MODEL, decoder: 'viterbi' as never }), 'DECODE_INVALID_INPUT', /decoder/);
      await rejectsCode(createRecognizer({ model: '/nonexistent/m.pt', decoder: { type: 'beam', beamSize: 0 } }), 'DECODE_INVALID_INPUT', /beamSize/);
      await rejectsCode(createRecognizer({ model: DEFAULT_MODEL, concurrency: 0 }), 'INVALID_INPUT', /concurrency/);
    });

    it('a model without labels serves features; transcribe says why it cannot decode', async () => {
      const model = await loadFixture('ta_tiny_base', { manifest: false });
      const rec = await createRecognizer({ model });
      try {
        await rejectsCode(rec.transcribe({ samples: clip(16000), sampleRate: 16000 }), 'INVALID_MANIFEST', /labels/);
        const f = await rec.features({ samples: clip(16000), sampleRate: 16000 });
        assert.equal(f.features.length, 2);
      } finally {
        await rec.close();
        model.dispose();
      }
    });
  });

  describe('backpressure, abort, close', () => {
    let model: Model;
    before(async () => {
      model = await loadFixture('ta_tiny_lv60k');
    });
    after(() => model?.dispose());

    it('beyond maxQueue, calls reject at once with OVERLOADED and the accepted ones complete', async () => {
      const rec = await createRecognizer({ model, maxQueue: 2, maxWaitMs: 0 });
      const calls = Array.from({ length: 5 }, (_, i) => rec.transcribe({ samples: clip(16000, i * 100), sampleRate: 16000 }));
      const settled = await Promise.allSettled(calls);
      assert.deepEqual(settled.map((s) => s.status), ['fulfilled', 'fulfilled', 'rejected', 'rejected', 'rejected']);
      for (const s of settled.slice(2)) codeOf('OVERLOADED', /maxQueue/)((s as PromiseRejectedResult).reason);
      assert.equal(rec.stats().overloaded, 3);
      assert.equal(rec.stats().completed, 2);
      await rec.close();
      assert.ok(!model.disposed, 'a given model stays loaded');
    });

    it('an AbortSignal removes a waiting request; an aborted signal rejects at once; a coded reason is passed on', async () => {
      const rec = await createRecognizer({ model, batchSize: 8, maxWaitMs: 60000 });
      const ac = new AbortController();
      const waiting = rec.transcribe({ samples: clip(16000), sampleRate: 16000 }, { signal: ac.signal });
      const other = rec.transcribe({ samples: clip(30000), sampleRate: 16000 });
      while (rec.stats().queued < 2) await new Promise((r) => setImmediate(r));
      ac.abort();
      await rejectsCode(waiting, 'ABORTED', /aborted/);
      assert.equal(rec.stats().queued, 1);
      await rejectsCode(rec.transcribe({ samples: clip(16000), sampleRate: 16000 }, { signal: AbortSignal.abort() }), 'ABORTED');
      const timeout = new AbortController();
      const timed = rec.transcribe({ samples: clip(16000), sampleRate: 16000 }, { signal: timeout.signal });
      timeout.abort(new Wav2Vec2Error('TIMEOUT', 'too slow'));
      await rejectsCode(timed, 'TIMEOUT', /too slow/);
      // close() drains: the remaining request runs at once instead of waiting its 60 s.
      await rec.close();
      assert.equal(typeof (await other).text, 'string');
      assert.equal(rec.stats().queued, 0);
    });

    it('close({ drain: false }) rejects waiting requests with DISPOSED; later calls are DISPOSED too', async () => {
      const rec = await createRecognizer({ model, batchSize: 8, maxWaitMs: 60000 });
      const waiting = [rec.transcribe({ samples: clip(16000), sampleRate: 16000 }), rec.features({ samples: clip(16000), sampleRate: 16000 })];
      await rec.close({ drain: false });
      for (const w of waiting) await rejectsCode(w, 'DISPOSED', /closed/);
      await rejectsCode(rec.transcribe({ samples: clip(16000), sampleRate: 16000 }), 'DISPOSED');
      await rec.close(); // twice is fine
    });
  });
});
