/** Every bad call gives a coded error and leaves the process (and the model) working. */
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ErrorCode } from '../../lib/errors';
import { setNumThreads, getNumThreads, type Model } from '../../lib/model/model';
import { loadModel } from '../../lib/model/load';
import { binding } from '../../lib/model/native';
import { FIXTURES } from '../helpers/fixtures';
import { codeOf } from '../helpers/errors';
import { requireAddon } from '../helpers/native';

const TA = join(FIXTURES, 'models', 'ta_tiny_base.pt');
const HF = join(FIXTURES, 'models', 'hf_tiny_traced.pt');


describe('bad calls', function () {
  let model: Model;
  const wave = new Float32Array(4000).map((_, i) => Math.sin(i / 10) * 0.1);
  before(async function () {
    requireAddon(this);
    model = await loadModel(TA, { manifest: false });
  });
  after(() => model?.dispose());

  describe('loadModel', () => {
    it('rejects a missing file with MODEL_NOT_FOUND and says how to export one', () =>
      assert.rejects(loadModel('/nonexistent/model.pt'), codeOf('MODEL_NOT_FOUND', /not found.*export/)));
    it('rejects a file that is not a zip archive with MODEL_LOAD_FAILED, saying what it starts with', () => {
      const dir = mkdtempSync(join(tmpdir(), 'w2v-'));
      writeFileSync(join(dir, 'junk.pt'), 'not a zip archive');
      return assert.rejects(loadModel(join(dir, 'junk.pt')), codeOf('MODEL_LOAD_FAILED', /junk\.pt is not a TorchScript archive .*the text "not "/));
    });
    it('rejects a zip archive that is not TorchScript with LibTorch\'s MODEL_LOAD_FAILED (the check in C++)', () => {
      const dir = mkdtempSync(join(tmpdir(), 'w2v-'));
      writeFileSync(join(dir, 'plain.zip.pt'), storedZip('a.txt', Buffer.from('hello')));
      return assert.rejects(loadModel(join(dir, 'plain.zip.pt')), codeOf('MODEL_LOAD_FAILED', /cannot load the TorchScript model/));
    });
    it('rejects a directory', () => assert.rejects(loadModel(FIXTURES), codeOf('MODEL_LOAD_FAILED', /is a folder without a config\.json: a model is a TorchScript \.pt file or a checkpoint folder/)));
    it('rejects a bad device string before touching the file', () =>
      assert.rejects(loadModel(TA, { device: 'gpu' as any }), codeOf('INVALID_INPUT', /device: expected 'cpu', 'cuda' or 'cuda:N', got the string "gpu"/)));
    it('rejects a bad dtype', () => assert.rejects(loadModel(TA, { dtype: 'int4' as any }), codeOf('INVALID_INPUT', /dtype: expected 'float32', 'float16', 'bfloat16', 'int8', 'auto'/)));
    it('rejects bad threads', () => assert.rejects(loadModel(TA, { threads: 0 }), codeOf('INVALID_INPUT', /threads/)));
    it('rejects a non-string path', () => assert.rejects(loadModel(42 as any), codeOf('INVALID_INPUT', /model: expected a TorchScript file, a checkpoint folder or a Hugging Face repo id/)));
    it('rejects CUDA with CUDA_UNAVAILABLE when no GPU is usable', async function () {
      if (binding().cudaDeviceCount() > 0) this.skip();
      await assert.rejects(loadModel(TA, { device: 'cuda' }), codeOf('CUDA_UNAVAILABLE', /CUDA/));
      await assert.rejects(loadModel(TA, { device: 'cuda:3' }), codeOf('CUDA_UNAVAILABLE'));
    });
    it('rejects an invalid manifest with INVALID_MANIFEST', () =>
      assert.rejects(loadModel(TA, { manifest: { format: 'nope' } as any }), codeOf('INVALID_MANIFEST')));
    it('rejects a manifest path that does not exist', () =>
      assert.rejects(loadModel(TA, { manifest: '/nonexistent.json' }), codeOf('INVALID_MANIFEST')));
  });

  describe('forward / extractFeatures', () => {
    const cases: Array<[string, () => Promise<unknown>, string, RegExp?]> = [
      ['a plain array of numbers', () => model.forward([0.1, 0.2] as any), 'INVALID_INPUT', /Float32Array/],
      ['a Float64Array', () => model.forward(new Float64Array(1000) as any), 'INVALID_INPUT'],
      ['null', () => model.forward(null as any), 'INVALID_INPUT'],
      ['an empty list', () => model.forward([]), 'INVALID_INPUT', /at least one/],
      ['fewer than 400 samples', () => model.forward(new Float32Array(399)), 'INVALID_INPUT', /at least 400 samples.*got 399/],
      ['one short item in a list', () => model.forward([wave, new Float32Array(100)]), 'INVALID_INPUT', /input\[1\]: expected at least 400/],
      ['NaN', () => model.forward(Float32Array.from(wave, (x, i) => (i === 1234 ? NaN : x))), 'INVALID_INPUT', /finite.*NaN at sample 1234/],
      ['Infinity', () => model.forward(Float32Array.from(wave, (x, i) => (i === 7 ? Infinity : x))), 'INVALID_INPUT', /Infinity at sample 7/],
      // Checked on the inference thread (native/waveforms.cc), which names the item.
      ['NaN in the second item of a list', () => model.forward([wave, Float32Array.from(wave.subarray(0, 3000), (x, i) => (i === 42 ? NaN : x))]), 'INVALID_INPUT',
        /input\[1\]: expected finite samples, got NaN at sample 42/],
      ['Infinity in the padding of a padded batch', () => {
        const data = new Float32Array(8000);
        data.set(wave);
        data.set(wave.subarray(0, 3000), 4000);
        data[4000 + 3500] = -Infinity;
        return model.forward({ data, shape: [2, 4000] }, { lengths: [4000, 3000] });
      }, 'INVALID_INPUT', /input\[1\]: expected finite samples, got -Infinity at sample 3500/],
      ['NaN in extractFeatures', () => model.extractFeatures(Float32Array.from(wave, (x, i) => (i === 9 ? NaN : x))), 'INVALID_INPUT', /NaN at sample 9/],
      ['a hole in a list of waveforms', () => model.forward([wave, , wave] as Float32Array[]), 'INVALID_INPUT', /input\[1\]: expected a Float32Array/],
      ['a shape that does not match the data', () => model.forward({ data: wave, shape: [2, 4000] }), 'INVALID_INPUT', /needs 8000 samples/],
      ['a 3-D shape', () => model.forward({ data: wave, shape: [1, 1, 4000] }), 'INVALID_INPUT', /shape/],
      ['lengths of the wrong count', () => model.forward({ data: wave, shape: [1, 4000] }, { lengths: [4000, 4000] }), 'INVALID_INPUT', /one length per batch item/],
      ['a length over T', () => model.forward({ data: wave, shape: [1, 4000] }, { lengths: [4001] }), 'INVALID_INPUT', /within \[1, 4000\]/],
      ['a zero length', () => model.forward({ data: wave, shape: [1, 4000] }, { lengths: [0] }), 'INVALID_INPUT', /within \[1, 4000\]/],
      ['a fractional length', () => model.forward({ data: wave, shape: [1, 4000] }, { lengths: [1000.5] }), 'INVALID_INPUT'],
      ['lengths with a single Float32Array', () => model.forward(wave, { lengths: [4000] }), 'INVALID_INPUT'],
      ['a non-boolean normalize', () => model.forward(wave, { normalize: 'yes' as any }), 'INVALID_INPUT', /normalize/],
      ['a non-integer numLayers', () => model.extractFeatures(wave, { numLayers: 1.5 }), 'INVALID_INPUT', /numLayers/],
      ['numLayers out of range (checked by the model itself)', () => model.extractFeatures(wave, { numLayers: 9 }), 'INVALID_INPUT', /must be between \[1, 2\]/],
    ];
    for (const [what, call, code, pattern] of cases) {
      it(`rejects ${what} with ${code}`, () => assert.rejects(call(), codeOf(code as ErrorCode, pattern)));
    }

    it('rejects inputs over the attention memory budget with INPUT_TOO_LONG, pointing to chunking', async () => {
      const small = await loadModel(TA, { manifest: false, maxAttentionBytes: 1e6 });
      try {
        // 2 heads (read from the module) x 4 bytes x F^2 > 1e6 once F > 353 frames (about 7 s).
        await assert.rejects(small.forward(new Float32Array(16000 * 8)), codeOf('INPUT_TOO_LONG', /chunks.*at most 7 s/));
        await small.forward(new Float32Array(16000 * 6)); // under the budget: runs
      } finally {
        small.dispose();
      }
    });

    it('the default budget rejects a 4-minute base-size batch item before allocating anything', async () => {
      // base: 12 heads; 240 s -> 11999 frames -> 12 * 11999^2 * 4 B = 6.9 GB > 4 GiB. The traced model does not
      // reveal its head count, so the manifest's is used.
      const m = await loadModel(HF, { manifest: { format: 'wav2vec2-node-model/1', sampleRate: 16000, normalizeWaveform: false, frameStride: 320, receptiveField: 400, numHeads: 12 } });
      try {
        await assert.rejects(m.forward(new Float32Array(16000 * 240)), codeOf('INPUT_TOO_LONG', /6\.4 GiB/));
      } finally {
        m.dispose();
      }
    });

    it('names the item with a NaN in a traced model\'s ragged batch too (its items run one at a time)', async () => {
      const hf = await loadModel(HF, { manifest: false });
      try {
        const bad = Float32Array.from(wave.subarray(0, 3000), (x, i) => (i === 42 ? NaN : x));
        await assert.rejects(hf.forward([wave, bad]), codeOf('INVALID_INPUT', /^input\[1\]: expected finite samples, got NaN at sample 42/));
      } finally {
        hf.dispose();
      }
    });

    it('rejects extractFeatures on a traced model with UNSUPPORTED_METHOD', async () => {
      const hf = await loadModel(HF, { manifest: false });
      try {
        await assert.rejects(hf.extractFeatures(wave), codeOf('UNSUPPORTED_METHOD', /extract_features/));
      } finally {
        hf.dispose();
      }
    });

    it('still works after all of the above', async () => {
      const out = await model.forward(wave);
      assert.deepEqual(out.emissions.shape, [1, 12, 29]);
    });
  });

  describe('the raw binding guards its arguments too (a bad direct call must not crash)', () => {
    it('throws coded errors for wrong argument types', async () => {
      const native = (model as any)['#native'] ?? null;
      assert.equal(native, null, 'the native handle is private');
      const raw = await binding().load(TA, 'cpu', 'float32', 0, true);
      try {
        await assert.rejects(raw.forward(new Float64Array(1000) as any, [1, 1000], null), codeOf('INVALID_INPUT'));
        await assert.rejects(raw.forward(new Float32Array(1000), [2, 1000], null), codeOf('INVALID_INPUT', /does not match/));
        await assert.rejects(raw.forward(new Float32Array(1000), [1, 1000], new Int32Array([5000])), codeOf('INVALID_INPUT', /within/));
        await assert.rejects(raw.forward(new Float32Array(1000), 'x' as any, null), codeOf('INVALID_INPUT'));
        // A waveform shorter than the first conv kernel reaches LibTorch: its c10::Error becomes INFERENCE_FAILED.
        await assert.rejects(raw.forward(new Float32Array(5), [1, 5], null), codeOf('INFERENCE_FAILED'));
        await assert.rejects((binding().load as any)(1, 2), codeOf('INVALID_INPUT'));
        await assert.rejects(binding().load(TA, 'cpu', 'float32', -1, true), codeOf('INVALID_INPUT'));
        // Shapes whose product would overflow, or that are not whole numbers, are refused before any read.
        await assert.rejects(raw.forward(new Float32Array(0), [2 ** 62, 4], null), codeOf('INVALID_INPUT'));
        await assert.rejects(raw.forward(new Float32Array(1000), [1.5, 1000 / 1.5], null), codeOf('INVALID_INPUT'));
        await assert.rejects(raw.extractFeatures(new Float32Array(1000), [1, 1000], null, 1.5), codeOf('INVALID_INPUT'));
        // Items (padded by the addon): each a Float32Array of its entry in lengths, which they need.
        const items = [new Float32Array(1000).fill(0.1), new Float32Array(600).fill(-0.1)];
        const out = await raw.forward(items, [2, 1000], Int32Array.of(1000, 600));
        assert.equal(out.emissions.shape[0], 2);
        await assert.rejects(raw.forward(items, [2, 1000], null), codeOf('INVALID_INPUT', /needs their lengths/));
        await assert.rejects(raw.forward(items, [2, 1000], Int32Array.of(1000, 500)), codeOf('INVALID_INPUT', /its entry in lengths/));
        await assert.rejects(raw.forward([items[0]!, new Float64Array(600) as any], [2, 1000], Int32Array.of(1000, 600)), codeOf('INVALID_INPUT', /each waveform must be a Float32Array/));
        await assert.rejects(raw.forward(items, [3, 1000], Int32Array.of(1000, 600, 600)), codeOf('INVALID_INPUT', /does not match/));
        // Checked before any memory is taken: a batch longer than its longest item would allocate what no data fills.
        await assert.rejects(raw.forward(items, [2, 2 ** 33], Int32Array.of(1000, 600)), codeOf('INVALID_INPUT'));
        await assert.rejects(raw.forward([new Float32Array(1)], [1, 2 ** 30], Int32Array.of(1)), codeOf('INVALID_INPUT', /longest waveform/));
        await assert.rejects(raw.forward(items[0]!, [1, 1000], null, null, -1), codeOf('INVALID_INPUT', /normalizeEps/));
        await assert.rejects(raw.forward(items[0]!, [1, 1000], null, null, 'x' as any), codeOf('INVALID_INPUT', /normalizeEps/));
        assert.throws(() => binding().setCpuCacheLimit(Infinity), codeOf('INVALID_INPUT'));
        assert.throws(() => binding().setCpuCacheLimit(-1), codeOf('INVALID_INPUT'));
        assert.throws(() => new (binding() as any).Model(), /loadModel/);
      } finally {
        raw.dispose();
      }
    });
  });

  describe('threads', () => {
    it('setNumThreads validates and round-trips', () => {
      const before = getNumThreads();
      assert.throws(() => setNumThreads(0), codeOf('INVALID_INPUT'));
      assert.throws(() => setNumThreads(2.5), codeOf('INVALID_INPUT'));
      setNumThreads(1);
      assert.equal(getNumThreads(), 1);
      setNumThreads(before);
      assert.equal(getNumThreads(), before);
    });
  });
});

/** A zip file holding one uncompressed entry: an archive LibTorch's reader opens, and then finds no model in. */
function storedZip(name: string, data: Buffer): Buffer {
  const n = Buffer.from(name);
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(n.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(n.length, 28);
  const centralAt = local.length + n.length + data.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + n.length, 12);
  end.writeUInt32LE(centralAt, 16);
  return Buffer.concat([local, n, data, central, n, end]);
}
