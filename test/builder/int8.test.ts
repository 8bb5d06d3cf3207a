/**
 * dtype 'int8' on the native network (native/builder/int8.h): every product in int8 with per-row scales, near
 * transformers' float32 logits on every architecture; each item of a padded batch as it is alone (the scales come
 * from each row's own values, so the server may batch int8 models); and 'auto', which picks by the CPU's features.
 */
import assert from 'node:assert/strict';
import { closeSync, cpSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildModel, parseConfig, weightPrefix } from '../../lib/builder';
import { readCheckpoint } from '../../lib/checkpoint';
import { loadModel } from '../../lib/model/load';
import { autoDtypeFor, scriptDtypeOf } from '../../lib/model/precision';
import { DEFAULT_MODEL_PATH } from '../../lib/paths';
import { binding, hasBinding } from '../../lib/model/native';
import { groupingFor } from '../../lib/recognizer/policy';
import { maxAbsDiff } from '../../lib/tensor';
import { HUB_FIXTURES, readFixtureCheckpoint } from '../helpers/hub-checkpoint';
import { readNpy } from '../helpers/npy';

interface Meta { lengths: number[]; frames: number[]; logits: boolean }

function fixture(name: string): { meta: Meta; waveforms: ReturnType<typeof readNpy>; alone: (i: number) => Float32Array } {
  const dir = join(HUB_FIXTURES, name, 'expected');
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
  const waveforms = readNpy(join(dir, 'waveforms.npy'));
  const width = waveforms.shape[1]!;
  return { meta, waveforms, alone: (i) => waveforms.data.slice(i * width, i * width + meta.lengths[i]!) };
}

describe('native builder: int8', function () {
  this.timeout(120_000);
  before(function () {
    if (!hasBinding()) this.skip();
  });

  // Measured (2026-12-07, AVX-512 VNNI): 3.0e-2 (wavlm) to 7.2e-2 (hubert); bfloat16 gives up to 3.2e-2 here. The
  // integer sums are exact on any CPU, so other machines differ only in the float32 layers between them.
  for (const name of ['wav2vec2-base', 'wav2vec2-lv60', 'hubert', 'wavlm', 'data2vec-audio']) {
    it(`${name}: every product in int8, within 0.12 of transformers' float32 logits`, async () => {
      const { alone } = fixture(name);
      const model = await buildModel(await readFixtureCheckpoint(name), { dtype: 'int8' });
      try {
        assert.equal(model.info.dtype, 'int8');
        assert.equal(model.info.dtypeReason, null);
        // The feature extractor's layers after the first (6 of 7 here), and every encoder projection (4 per layer + 1).
        assert.equal(model.info.rewrites.int8Conv, 2);
        assert.equal(model.info.rewrites.int8Linear, 4 * model.info.numLayers! + 1);
        const { emissions } = await model.forward(alone(0));
        const d = maxAbsDiff(emissions.data, readNpy(join(HUB_FIXTURES, name, 'expected', 'logits_0.npy')).data);
        // eslint-disable-next-line no-console
        console.log(`        ${name} int8: max abs difference ${d.toExponential(2)}`);
        assert.ok(d > 0, 'int8 must actually be in effect');
        assert.ok(d < 0.12, `${d}`);
      } finally {
        model.dispose();
      }
    });
  }

  it('gives each item of a zero-padded batch what it gets alone, so the server batches int8 models', async () => {
    const { meta, waveforms, alone } = fixture('wav2vec2-base');
    const model = await buildModel(await readFixtureCheckpoint('wav2vec2-base'), { dtype: 'int8' });
    try {
      assert.notEqual(groupingFor(model).kind, 'single');
      const batch = await model.forward({ data: waveforms.data, shape: waveforms.shape as [number, number] }, { lengths: meta.lengths });
      const labels = batch.emissions.shape[2]!;
      for (let i = 0; i < meta.lengths.length; i++) {
        const one = (await model.forward(alone(i))).emissions.data;
        const rows = batch.emissions.data.subarray(i * batch.emissions.shape[1]! * labels, (i * batch.emissions.shape[1]! + meta.frames[i]!) * labels);
        // The same int8 rows and int32 sums; float32 rounding in the layers between them differs with the shape.
        assert.ok(maxAbsDiff(rows, one) < 1e-4, `item ${i}: ${maxAbsDiff(rows, one)}`);
      }
    } finally {
      model.dispose();
    }
  });

  it('runs silence and a loud item beside it: all-zero rows keep a zero scale, nothing becomes NaN', async () => {
    const model = await buildModel(await readFixtureCheckpoint('wav2vec2-base'), { dtype: 'int8' });
    try {
      const loud = Float32Array.from({ length: 4000 }, (_, i) => 1e4 * Math.sin(i / 7));
      for (const input of [new Float32Array(4000), [new Float32Array(4000), loud]]) {
        const { emissions } = await model.forward(input, { normalize: false });
        assert.ok(emissions.data.every(Number.isFinite));
      }
    } finally {
      model.dispose();
    }
  });

  it('a direct build and call of the raw binding: coded errors, never a crash', async () => {
    const checkpoint = await readFixtureCheckpoint('wav2vec2-base');
    const spec = { ...parseConfig(checkpoint.config), weightPrefix: weightPrefix(parseConfig(checkpoint.config), checkpoint) };
    const tensors = [...checkpoint.weights.values()];
    await assert.rejects(binding().build(spec, tensors, 'cpu', 'int4', 0, true), (e: any) => e.code === 'INVALID_INPUT' && /dtype/.test(e.message));
    const raw = await binding().build(spec, tensors, 'cpu', 'int8', 0, true);
    try {
      assert.equal(raw.info!.dtype, 'int8');
      // Shorter than the receptive field (40 samples), which TypeScript refuses first: some layer gets no window.
      for (const n of [5, 12, 39]) {
        await assert.rejects(raw.forward(new Float32Array(n), [1, n], null), (e: any) => /^(INFERENCE_FAILED|INVALID_INPUT)$/.test(e.code), `${n} samples`);
      }
      assert.equal((await raw.forward(new Float32Array(40), [1, 40], null)).emissions.shape[1], 1);
    } finally {
      raw.dispose();
    }
  });

  it('a NaN weight makes the output NaN, as in float32, not some finite value', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'w2v-int8-nan-'));
    try {
      cpSync(join(HUB_FIXTURES, 'wav2vec2-base'), dir, { recursive: true });
      const ref = (await readCheckpoint(dir)).weights.get('wav2vec2.encoder.layers.0.feed_forward.intermediate_dense.weight')!;
      assert.equal(ref.dtype, 'float32');
      const fd = openSync(ref.file, 'r+');
      try {
        writeSync(fd, Buffer.from(Float32Array.of(NaN).buffer), 0, 4, ref.offset);
      } finally {
        closeSync(fd);
      }
      for (const dtype of ['float32', 'int8'] as const) {
        const model = await buildModel(await readCheckpoint(dir), { dtype });
        try {
          const { emissions } = await model.forward(fixture('wav2vec2-base').alone(0));
          assert.ok(emissions.data.some(Number.isNaN), `${dtype}: expected NaN emissions`);
        } finally {
          model.dispose();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("'auto' says what it picked and why", async () => {
    const model = await buildModel(await readFixtureCheckpoint('wav2vec2-base'), { dtype: 'auto' });
    try {
      const expected = autoDtypeFor('cpu', binding().cpuFeatures());
      assert.equal(model.info.dtype, expected.dtype);
      assert.equal(model.info.dtypeReason, expected.reason);
    } finally {
      model.dispose();
    }
  });
});

describe("dtype 'auto'", () => {
  it('picks int8 where the CPU has int8 dot products, bfloat16 where it has only bfloat16 ones, else float32', () => {
    assert.equal(autoDtypeFor('cpu', { avx512_vnni: true, avx512_bf16: true }).dtype, 'int8');
    assert.equal(autoDtypeFor('cpu', { avx_vnni: true }).dtype, 'int8');
    assert.equal(autoDtypeFor('cpu', { amx_int8: true, amx_bf16: true }).dtype, 'int8');
    assert.equal(autoDtypeFor('cpu', { avx512_bf16: true, avx512_vnni: false }).dtype, 'bfloat16');
    assert.equal(autoDtypeFor('cpu', { avx2: true, avx512_f: true }).dtype, 'float32');
    assert.equal(autoDtypeFor('cpu', {}).dtype, 'float32');
    assert.match(autoDtypeFor('cpu', { avx512_vnni: true }).reason, /avx512_vnni/);
    assert.equal(autoDtypeFor('cuda', { avx512_vnni: true }).dtype, 'float32');
  });

  it('reads the CPU through LibTorch', function () {
    if (!hasBinding()) this.skip();
    const features = binding().cpuFeatures();
    assert.equal(typeof features, 'object');
    for (const value of Object.values(features)) assert.equal(typeof value, 'boolean');
  });
});

describe("TorchScript files: dtype 'int8' and 'auto'", function () {
  this.timeout(60_000);
  before(function () {
    if (!hasBinding()) this.skip();
  });

  it("refuses 'int8' for a file that is not an int8 export, saying how to get one", async () => {
    await assert.rejects(loadModel(DEFAULT_MODEL_PATH, { dtype: 'int8' }),
      (e: any) => e.code === 'UNSUPPORTED_DTYPE' && /--quantize int8/.test(e.message) && /dtype 'int8'/.test(e.message));
  });

  it("'auto' runs a file in the dtype it was exported in", async () => {
    const model = await loadModel(DEFAULT_MODEL_PATH, { dtype: 'auto' });
    try {
      assert.equal(model.info.dtype, 'float32');
      assert.match(model.info.dtypeReason!, /^auto: float32, the dtype .* was exported in$/);
    } finally {
      model.dispose();
    }
  });

  it('names a dynamically quantised export int8 whichever way it is loaded', () => {
    assert.equal(scriptDtypeOf({ source: { quantization: { kind: 'dynamic int8' }, trace: { dtype: 'float32' } } }), 'int8');
    assert.equal(scriptDtypeOf({ source: { trace: { dtype: 'bfloat16' } } }), 'bfloat16');
    assert.equal(scriptDtypeOf(undefined), 'float32');
  });
});
