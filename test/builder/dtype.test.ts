/**
 * The native network in reduced precision on the CPU (the bounds of test/native/dtype.test.ts for TorchScript
 * models) and on CUDA when a GPU is lent: runs, returns float32, stays near transformers' float32 logits.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildModel } from '../../lib/builder';
import type { DType, Device } from '../../lib/model/model';
import { binding, hasBinding } from '../../lib/model/native';
import { maxAbsDiff } from '../../lib/tensor';
import { HUB_FIXTURES, readFixtureCheckpoint } from '../helpers/hub-checkpoint';
import { readNpy } from '../helpers/npy';

/** The fixture's first item (raw waveform; the manifest normalises it) and transformers' logits for it. */
function firstItem(name: string): { x: Float32Array; logits: Float32Array } {
  const dir = join(HUB_FIXTURES, name, 'expected');
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as { lengths: number[] };
  return { x: readNpy(join(dir, 'waveforms.npy')).data.slice(0, meta.lengths[0]), logits: readNpy(join(dir, 'logits_0.npy')).data };
}

async function diffFor(name: string, device: Device, dtype: DType): Promise<number> {
  const model = await buildModel(await readFixtureCheckpoint(name), { device, dtype });
  try {
    assert.equal(model.info.dtype, dtype);
    const { x, logits } = firstItem(name);
    const out = await model.forward(x);
    assert.ok(out.emissions.data instanceof Float32Array);
    return maxAbsDiff(out.emissions.data, logits);
  } finally {
    model.dispose();
  }
}

describe('native builder: dtype on CPU', function () {
  this.timeout(60_000);
  before(function () {
    if (!hasBinding()) this.skip();
  });
  it("wav2vec2-base in bfloat16, a zero-padded batch: each item within 0.05 of transformers' logits for it alone (its padded keys get no attention)", async () => {
    const dir = join(HUB_FIXTURES, 'wav2vec2-base', 'expected');
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as { lengths: number[]; frames: number[] };
    const waveforms = readNpy(join(dir, 'waveforms.npy'));
    const model = await buildModel(await readFixtureCheckpoint('wav2vec2-base'), { dtype: 'bfloat16' });
    try {
      // Where the CPU has bfloat16 dot products, the path under test: our softmax with the key mask, and the
      // frames-major convolutions (the positional one and the extractor's after the first).
      const config = JSON.parse(readFileSync(join(HUB_FIXTURES, 'wav2vec2-base', 'config.json'), 'utf8')) as { conv_dim: number[]; num_hidden_layers: number };
      const cpu = binding().cpuFeatures();
      if (cpu.avx512_bf16 || cpu.amx_bf16) {
        assert.equal(model.info.rewrites.bfloat16Attention, config.num_hidden_layers);
        assert.equal(model.info.rewrites.framesMajorConv, 1 + config.conv_dim.length - 1);
      } else {
        // eslint-disable-next-line no-console
        console.log("        (no bfloat16 dot products on this CPU: LibTorch's attention and convolutions ran)");
      }
      const out = await model.forward({ data: waveforms.data, shape: waveforms.shape as [number, number] }, { lengths: meta.lengths });
      const [, frames, labels] = out.emissions.shape as [number, number, number];
      for (let i = 0; i < meta.lengths.length; i++) {
        const rows = out.emissions.data.subarray(i * frames * labels, (i * frames + meta.frames[i]!) * labels);
        const d = maxAbsDiff(rows, readNpy(join(dir, `logits_${i}.npy`)).data);
        assert.ok(d > 0 && d < 0.05, `item ${i}: ${d}`);
      }
    } finally {
      model.dispose();
    }
  });
  for (const name of ['wav2vec2-base', 'wavlm']) {
    for (const [dtype, bound] of [['bfloat16', 0.05], ['float16', 0.01]] as const) {
      it(`${name} in ${dtype}: within ${bound} of transformers' float32 logits`, async () => {
        const d = await diffFor(name, 'cpu', dtype);
        // eslint-disable-next-line no-console
        console.log(`        ${name} ${dtype}: max abs difference ${d.toExponential(2)}`);
        assert.ok(d > 0, 'reduced precision must actually be in effect');
        assert.ok(d < bound, `${d}`);
      });
    }
  }
});

describe('native builder: CUDA', function () {
  this.timeout(120_000);
  before(function () {
    if (!hasBinding() || binding().cudaDeviceCount() === 0) {
      // eslint-disable-next-line no-console
      console.log('      (skipped: no CUDA device visible to LibTorch)');
      this.skip();
    }
  });
  for (const name of ['wav2vec2-base', 'wav2vec2-lv60', 'wavlm', 'data2vec-audio']) {
    it(`${name}: float32 on cuda within 1e-3 of transformers (TF32 matmuls may be on)`, async () => {
      assert.ok((await diffFor(name, 'cuda', 'float32')) < 1e-3);
    });
  }
  it('wav2vec2-base: float16 on cuda within 0.01', async () => {
    assert.ok((await diffFor('wav2vec2-base', 'cuda', 'float16')) < 0.01);
  });
});
