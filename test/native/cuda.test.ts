/**
 * CUDA: parity and half precision on the GPU. Skips, saying why, on machines without a usable GPU (and on
 * CPU-only LibTorch builds). Run where a GPU exists: `npm run test:native` with a CUDA-enabled torch.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadModel } from '../../lib/model/load';
import { binding, hasBinding } from '../../lib/model/native';
import { maxAbsDiff } from '../../lib/tensor';
import { FIXTURES, manifest, readF32, readI64 } from '../helpers/fixtures';

describe('CUDA', function () {
  before(function () {
    const reason = !hasBinding() ? 'native addon not built' : binding().cudaDeviceCount() === 0 ? 'no CUDA device visible to LibTorch (CPU-only build or no GPU)' : '';
    if (reason) {
      // eslint-disable-next-line no-console
      console.log(`      (skipped: ${reason})`);
      this.skip();
    }
  });

  for (const name of ['ta_tiny_base', 'ta_tiny_lv60k', 'hf_tiny_traced']) {
    const spec = manifest.models[name];
    for (const [caseName, c] of Object.entries<any>(spec.cases)) {
      if ((c.method ?? 'forward') !== 'forward') continue;
      it(`${name} ${caseName} on cuda: float32 within 1e-4, float16 within 2e-2`, async () => {
        const entry = c.outputs.emissions ?? c.outputs.logits;
        const ref = readF32(entry.file);
        const input = { data: readF32(manifest.inputs[c.input].file), shape: manifest.inputs[c.input].shape };
        const lengths = c.lengths ? readI64(manifest.inputs[c.lengths].file) : undefined;
        for (const [dtype, tol] of [['float32', 1e-4], ['float16', 2e-2]] as const) {
          const m = await loadModel(join(FIXTURES, spec.file), { device: 'cuda', dtype, manifest: false });
          try {
            assert.equal(m.info.device, 'cuda');
            const out = await m.forward(input, lengths ? { lengths } : {});
            assert.deepEqual(out.emissions.shape, entry.shape);
            const valid = c.output_lengths as number[] | undefined;
            const [, F, C] = entry.shape;
            let d = 0;
            if (valid) valid.forEach((n, b) => { d = Math.max(d, maxAbsDiff(out.emissions.data.subarray(b * F * C, (b * F + n) * C), ref.subarray(b * F * C, (b * F + n) * C))); });
            else d = maxAbsDiff(out.emissions.data, ref);
            // eslint-disable-next-line no-console
            console.log(`        ${dtype}: max abs diff ${d.toExponential(2)}`);
            assert.ok(d <= tol, `${dtype}: ${d} > ${tol}`);
          } finally {
            m.dispose();
          }
        }
      });
    }
  }

  it('rejects a device index that does not exist', async () => {
    const n = binding().cudaDeviceCount();
    await assert.rejects(loadModel(join(FIXTURES, spec0()), { device: `cuda:${n}` as any, manifest: false }), (e: any) => e.code === 'CUDA_UNAVAILABLE');
  });
});

function spec0(): string {
  return manifest.models.ta_tiny_base.file;
}
