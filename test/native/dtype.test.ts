/** Reduced precision: runs, and costs what we say it costs (figures reported for the README). */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadModel } from '../../lib/model/load';
import { maxAbsDiff } from '../../lib/tensor';
import { FIXTURES, manifest, readF32 } from '../helpers/fixtures';
import { requireAddon } from '../helpers/native';

describe('dtype on CPU', function () {
  before(function () {
    requireAddon(this);
  });
  const x = readF32(manifest.inputs.single.file);
  const ref = readF32(manifest.models.ta_tiny_base.cases.single_forward.outputs.emissions.file);
  // Bounds on the tiny fixture: bfloat16 keeps 8 mantissa bits (measured 1.6e-2), float16 11 bits (measured 2.0e-3).
  for (const [dtype, bound] of [['bfloat16', 0.05], ['float16', 0.01]] as const) {
    it(`${dtype}: runs, returns float32, stays within ${bound} of the float32 reference`, async () => {
      const m = await loadModel(join(FIXTURES, 'models', 'ta_tiny_base.pt'), { dtype, manifest: false });
      try {
        assert.equal(m.info.dtype, dtype);
        const out = await m.forward(x);
        assert.ok(out.emissions.data instanceof Float32Array);
        const d = maxAbsDiff(out.emissions.data, ref);
        // eslint-disable-next-line no-console
        console.log(`        ${dtype}: max abs difference ${d.toExponential(2)} vs float32 reference`);
        assert.ok(d > 0, 'reduced precision must actually be in effect');
        assert.ok(d < bound, `${d}`);
      } finally {
        m.dispose();
      }
    });
  }
});
