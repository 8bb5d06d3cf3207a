/**
 * Load-time graph rewrites (native/graph_optimizer.cc, LoadModelOptions.optimize). The parity tests load models
 * with the default (rewritten) graphs against the reference outputs; these pin down when the rewrites apply.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../lib/model/load';
import { maxAbsDiff } from '../../lib/tensor';
import { FIXTURES, manifest, readF32 } from '../helpers/fixtures';
import { requireAddon } from '../helpers/native';
import { requirePython } from '../helpers/python';

const TOL = manifest.tolerance.emissions_and_features_abs as number;

/** A float32 file numpy's tofile wrote (little-endian, as on every machine this runs on). */
function f32(file: string): Float32Array {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

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

  it('a traced transformers model: the first conv layer, its GroupNorm and GELU run as one kernel, single and batched, within the reference bar', async function () {
    if (process.arch !== 'x64') this.skip();
    const hf = manifest.models.hf_tiny_traced;
    const m = await loadModel(join(FIXTURES, 'models', 'hf_tiny_traced.pt'), { manifest: false });
    try {
      assert.equal(m.info.rewrites.firstLayer, 1, JSON.stringify(m.info.rewrites));
      for (const name of ['hf_single', 'hf_batch'] as const) {
        const input = manifest.inputs[name];
        const y = await m.forward({ data: readF32(input.file), shape: input.shape as [number, number] });
        const d = maxAbsDiff(y.emissions.data, readF32(hf.cases[name].outputs.logits.file));
        assert.ok(d <= TOL, `${name}: ${d}`);
      }
    } finally {
      m.dispose();
    }
  });

  it('the first layer\'s kernel against PyTorch: trained-like norm weights, a conv bias, an offset input, both GELUs, batched', async function () {
    this.timeout(120000);
    if (process.arch !== 'x64') this.skip();
    const py = requirePython(this, ['torch']);
    const dir = mkdtempSync(join(tmpdir(), 'w2v-first-layer-'));
    try {
      // The fixtures' norms have weight 1 and bias 0 and their inputs no offset, which hides a wrong per-channel
      // scale or mean; here every parameter is random and the waveform has a DC offset. 6001 samples: the last
      // frame ends before the input does (frames = floor((6001 - 10) / 5) + 1).
      const r = spawnSync(py!, ['-c', `
import torch
torch.manual_seed(3)
class M(torch.nn.Module):
    def __init__(self, approximate):
        super().__init__()
        self.conv = torch.nn.Conv1d(1, 24, 10, stride=5, bias=True)
        self.norm = torch.nn.GroupNorm(24, 24)
        torch.nn.init.uniform_(self.norm.weight, 0.2, 3.0)
        torch.nn.init.uniform_(self.norm.bias, -1.0, 1.0)
        self.approximate = approximate
    def forward(self, x):
        h = torch.nn.functional.gelu(self.norm(self.conv(x[:, None])), approximate=self.approximate)
        return h.transpose(1, 2)
x = torch.randn(2, 6001) * torch.tensor([[0.3], [0.05]]) + torch.tensor([[0.2], [-0.1]])
x.numpy().tofile(${JSON.stringify(join(dir, 'x.bin'))})
for a in ['none', 'tanh']:
    m = M(a).eval()
    with torch.no_grad():
        torch.jit.trace(m, x).save(${JSON.stringify(dir)} + '/' + a + '.pt')
        m(x).numpy().tofile(${JSON.stringify(dir)} + '/' + a + '.bin')
`], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const x = { data: f32(join(dir, 'x.bin')), shape: [2, 6001] as [number, number] };
      for (const a of ['none', 'tanh']) {
        const ref = f32(join(dir, `${a}.bin`));
        const m = await loadModel(join(dir, `${a}.pt`), { manifest: false });
        try {
          assert.equal(m.info.rewrites.firstLayer, 1, JSON.stringify(m.info.rewrites));
          const y = await m.forward(x);
          assert.deepEqual(y.emissions.shape, [2, 1199, 24]);
          const d = maxAbsDiff(y.emissions.data, ref);
          assert.ok(d <= TOL, `${a}: ${d}`);
        } finally {
          m.dispose();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
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

  it('a LibTorch failure in a rewritten graph says how to rule the rewrite out', async function () {
    this.timeout(120000);
    if (process.arch !== 'x64') this.skip();
    const py = requirePython(this, ['torch']);
    const dir = mkdtempSync(join(tmpdir(), 'w2v-rewrite-'));
    try {
      // A model whose linear layer takes 400 samples only: a longer waveform fails in LibTorch in both graphs.
      const file = join(dir, 'bad.pt');
      const r = spawnSync(py!, ['-c', `
import torch
class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(400, 29)
    def forward(self, x):
        return self.proj(x)[None]
torch.jit.trace(M(), torch.zeros(1, 400)).save(${JSON.stringify(file)})
`], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const x = new Float32Array(1000);
      const m = await loadModel(file, { manifest: false });
      const plain = await loadModel(file, { manifest: false, optimize: false });
      try {
        assert.equal(m.info.rewrites.onednnLinear, 1);
        await assert.rejects(m.forward(x), (e: any) => e.code === 'INFERENCE_FAILED' && /optimize: false/.test(e.message));
        await assert.rejects(plain.forward(x), (e: any) => e.code === 'INFERENCE_FAILED' && !/optimize/.test(e.message));
      } finally {
        m.dispose();
        plain.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a non-boolean optimize', async () => {
    await assert.rejects(loadModel(file, { optimize: 'yes' as any }), (e: any) => e.code === 'INVALID_INPUT' && /optimize/.test(e.message));
  });
});
