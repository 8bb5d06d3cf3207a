/**
 * Load-time graph rewrites (native/graph_optimizer.cc, LoadModelOptions.optimize). The parity tests load models
 * with the default (rewritten) graphs against the reference outputs; these pin down when the rewrites apply.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadModel } from '../../lib/model';
import { maxAbsDiff } from '../../lib/tensor';
import { FIXTURES, manifest, readF32 } from '../helpers/fixtures';
import { requireAddon } from '../helpers/native';

const TOL = manifest.tolerance.emissions_and_features_abs as number;

describe('graph rewrites at load (optimize)', function () {
  before(function () {
    requireAddon(this);
  });
  const x = { data: readF32(manifest.inputs.single.file), shape: manifest.inputs.single.shape as [number, number] };
  const ref = readF32(manifest.models.ta_tiny_base.cases.single_forward.outputs.emissions.file);
  const file = join(FIXTURES, 'models', 'ta_tiny_base.pt');

  it('CPU float32: every linear layer goes through oneDNN, GELUs fused into the layer before, results within the reference bar', async function () {
    // The pip wheel's LibTorch has oneDNN on x86-64; elsewhere the rewrite may be unavailable and is skipped.
    if (process.arch !== 'x64') this.skip();
    const m = await loadModel(file, { manifest: false });
    try {
      // ta_tiny_base has 2 transformer layers (q, k, v, out, 2 feed-forward linears, one GELU after a linear,
      // each) and 6 conv + GELU layers after the first; counted over every method graph it was inlined into.
      assert.ok((m.info.rewrites.onednnLinear ?? 0) >= 14, JSON.stringify(m.info.rewrites));
      assert.ok((m.info.rewrites.linearGeluFusion ?? 0) >= 2, JSON.stringify(m.info.rewrites));
      assert.ok((m.info.rewrites.convGeluFusion ?? 0) >= 6, JSON.stringify(m.info.rewrites));
      const d = maxAbsDiff((await m.forward(x)).emissions.data, ref);
      assert.ok(d <= TOL, `${d}`);
    } finally {
      m.dispose();
    }
  });

  it('optimize: false runs the graph as exported', async () => {
    const m = await loadModel(file, { manifest: false, optimize: false });
    try {
      assert.deepEqual(m.info.rewrites, {});
      const d = maxAbsDiff((await m.forward(x)).emissions.data, ref);
      assert.ok(d <= TOL, `${d}`);
    } finally {
      m.dispose();
    }
  });

  it('other dtypes keep their own kernels (the rewrite is for float32)', async () => {
    const m = await loadModel(file, { manifest: false, dtype: 'bfloat16' });
    try {
      assert.deepEqual(m.info.rewrites, {});
    } finally {
      m.dispose();
    }
  });

  it('rejects a non-boolean optimize', async () => {
    await assert.rejects(loadModel(file, { optimize: 'yes' as any }), (e: any) => e.code === 'INVALID_INPUT' && /optimize/.test(e.message));
  });
});
