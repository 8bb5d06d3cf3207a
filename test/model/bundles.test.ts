/**
 * lib/model/bundles.ts: every wav2vec2-family bundle of torchaudio.pipelines, checked against the facts file it is
 * generated from; getModel with exported files; and the per-item waveform normalisation those bundles need.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleNames, bundles, getBundle } from '../../lib/model/bundles';
import { binding } from '../../lib/model/native';
import { maxAbsDiff } from '../../lib/tensor';
import { codeOf } from '../helpers/errors';
import { FIXTURES, manifest as fixtures, readEntry } from '../helpers/fixtures';
import { requireAddon } from '../helpers/native';
import { requirePython } from '../helpers/python';

const FACTS = JSON.parse(readFileSync(join(__dirname, '..', '..', 'scripts', 'data', 'torchaudio-bundles.json'), 'utf8'));

describe('bundles: the table', () => {
  it('has every bundle of the facts file, by its exact torchaudio name', () => {
    assert.deepEqual([...bundleNames].sort(), FACTS.bundles.map((b: any) => b.name).sort());
    for (const name of ['WAV2VEC2_ASR_BASE_960H', 'HUBERT_ASR_LARGE', 'WAVLM_BASE_PLUS', 'VOXPOPULI_ASR_BASE_10K_DE', 'VOXPOPULI_ASR_BASE_10K_EN',
      'VOXPOPULI_ASR_BASE_10K_ES', 'VOXPOPULI_ASR_BASE_10K_FR', 'VOXPOPULI_ASR_BASE_10K_IT', 'WAV2VEC2_XLSR_2B']) {
      assert.ok(name in bundles, name);
    }
  });

  it('lib/model/bundles-table.ts is what scripts/gen-bundles.js makes from the facts', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { render, OUT } = require('../../scripts/gen-bundles.js');
    assert.equal(readFileSync(OUT, 'utf8'), render(), 'run `node scripts/gen-bundles.js`');
  });

  for (const f of FACTS.bundles) {
    it(`${f.name}: rate, labels, normalisation and model parameters as torchaudio has them`, () => {
      const b = bundles[f.name as keyof typeof bundles];
      assert.equal(b.sampleRate, f.sample_rate);
      assert.equal(b.normalizeWaveform, f.normalize_waveform);
      assert.equal(b.kind, f.class === 'Wav2Vec2ASRBundle' ? 'asr' : 'pretrained');
      assert.equal(b.modelType, f.model_type);
      assert.equal(b.frameStride, f.derived.frame_stride_samples);
      assert.equal(b.receptiveField, f.derived.receptive_field_samples);
      for (const [k, v] of Object.entries<any>(f.params)) {
        const camel = k.replace(/_([a-z])/g, (_: string, c: string) => c.toUpperCase());
        assert.deepEqual((b.params as any)[camel], v, k);
      }
      if (f.labels) {
        assert.deepEqual(b.getLabels(), f.labels);
        assert.equal(b.getLabels().length, f.params.aux_num_out);
        assert.equal(b.manifest().blank, f.blank_index);
      } else {
        assert.equal(b.hasLabels, false);
        assert.throws(() => b.getLabels(), codeOf('INVALID_INPUT', /pretrained bundle without a CTC head/));
      }
    });
  }

  it('getLabels returns a copy', () => {
    const b = bundles.WAV2VEC2_ASR_BASE_960H;
    b.getLabels()[0] = 'x';
    assert.equal(b.getLabels()[0], '-');
  });

  it('getBundle finds names case-insensitively and with the torchaudio.pipelines. prefix', () => {
    assert.equal(getBundle('hubert_asr_large'), bundles.HUBERT_ASR_LARGE);
    assert.equal(getBundle('torchaudio.pipelines.WAVLM_BASE_PLUS'), bundles.WAVLM_BASE_PLUS);
  });

  it('getBundle refuses an unknown name with UNKNOWN_BUNDLE and suggests near ones', () => {
    assert.throws(() => getBundle('WAV2VEC2_ASR_BASE_960'), codeOf('UNKNOWN_BUNDLE', /Did you mean WAV2VEC2_ASR_BASE_960H/));
    assert.throws(() => getBundle(''), codeOf('UNKNOWN_BUNDLE'));
    assert.throws(() => getBundle(42 as any), codeOf('UNKNOWN_BUNDLE'));
  });
});

describe('bundles: getModel', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'w2v-bundle-'));
  });

  it('says how to export the model when the file is missing (MODEL_NOT_FOUND)', async () => {
    await assert.rejects(bundles.WAV2VEC2_ASR_BASE_960H.getModel({ modelsDir: dir }),
      codeOf('MODEL_NOT_FOUND', /scripts\/export_torchaudio\.py WAV2VEC2_ASR_BASE_960H .*WAV2VEC2_ASR_BASE_960H\.pt/));
    await assert.rejects(bundles.HUBERT_ASR_LARGE.getModel(join(dir, 'nope.pt')), codeOf('MODEL_NOT_FOUND', /nope\.pt/));
  });

  it('looks in $WAV2VEC2_MODELS, then ./models', () => {
    const saved = process.env.WAV2VEC2_MODELS;
    try {
      process.env.WAV2VEC2_MODELS = dir;
      assert.equal(bundles.WAVLM_BASE.modelPath(), join(dir, 'WAVLM_BASE.pt'));
      delete process.env.WAV2VEC2_MODELS;
      assert.equal(bundles.WAVLM_BASE.modelPath(), join(process.cwd(), 'models', 'WAVLM_BASE.pt'));
    } finally {
      if (saved === undefined) delete process.env.WAV2VEC2_MODELS;
      else process.env.WAV2VEC2_MODELS = saved;
    }
  });

  it('refuses a manifest that describes another model (INVALID_MANIFEST)', async () => {
    const d = mkdtempSync(join(tmpdir(), 'w2v-bundle-'));
    writeFileSync(join(d, 'WAV2VEC2_ASR_BASE_960H.pt'), 'not read: the manifest check comes first');
    const m = { ...bundles.WAV2VEC2_ASR_BASE_960H.manifest(), labels: bundles.VOXPOPULI_ASR_BASE_10K_DE.getLabels() };
    writeFileSync(join(d, 'WAV2VEC2_ASR_BASE_960H.json'), JSON.stringify(m));
    await assert.rejects(bundles.WAV2VEC2_ASR_BASE_960H.getModel(d), codeOf('INVALID_MANIFEST', /labels differ/));
    writeFileSync(join(d, 'WAV2VEC2_ASR_BASE_960H.json'), JSON.stringify({ ...bundles.WAV2VEC2_ASR_BASE_960H.manifest(), normalizeWaveform: true }));
    await assert.rejects(bundles.WAV2VEC2_ASR_BASE_960H.getModel(d), codeOf('INVALID_MANIFEST', /normalizeWaveform/));
  });

  it('refuses bad options with INVALID_INPUT', async () => {
    await assert.rejects(bundles.WAV2VEC2_ASR_BASE_960H.getModel({ path: '' }), codeOf('INVALID_INPUT', /path/));
    await assert.rejects(bundles.WAV2VEC2_ASR_BASE_960H.getModel({ modelsDir: 7 as any }), codeOf('INVALID_INPUT', /modelsDir/));
  });

  describe('with an exported file', function () {
    before(function () {
      requireAddon(this);
    });

    it('loads it with the bundle\'s manifest when none is beside it, and runs it', async () => {
      // ta_tiny_base is a torchaudio wav2vec2_model with the 29 English labels, standing in for the real weights.
      copyFileSync(join(FIXTURES, 'models', 'ta_tiny_base.pt'), join(dir, 'WAV2VEC2_ASR_BASE_960H.pt'));
      const model = await bundles.WAV2VEC2_ASR_BASE_960H.getModel({ modelsDir: dir });
      try {
        assert.deepEqual(model.labels, bundles.WAV2VEC2_ASR_BASE_960H.getLabels());
        assert.equal(model.sampleRate, 16000);
        const input = readEntry(fixtures.inputs.single) as { data: Float32Array; shape: number[] };
        const expected = readEntry(fixtures.models.ta_tiny_base.cases.single_forward.outputs.emissions) as { data: Float32Array };
        const { emissions } = await model.forward({ data: input.data, shape: input.shape });
        assert.ok(maxAbsDiff(emissions.data, expected.data) <= 1e-4);
      } finally {
        model.dispose();
      }
    });
  });
});

describe('bundles: waveform normalisation, per item (on the inference thread)', () => {
  beforeEach(function () {
    requireAddon(this);
  });

  // Two items of different lengths and levels, zero-padded into one batch.
  const a = Float32Array.from({ length: 3000 }, (_, i) => 0.3 * Math.sin(i / 9) + 0.05);
  const b = Float32Array.from({ length: 1200 }, (_, i) => 0.02 * Math.sin(i / 4) - 0.01);
  /** The two zero-padded into one [2, 3000] batch. */
  const padded = () => {
    const d = new Float32Array(2 * 3000);
    d.set(a, 0);
    d.set(b, 3000);
    return d;
  };
  /** The inference thread's normalisation (native/waveforms.cc), with torchaudio's eps. */
  const normalized = (data: Float32Array, shape: [number, number], lengths: Int32Array | null) => binding().normalizeWaveforms(data, shape, lengths, 1e-5);
  const batchNormalized = () => normalized(padded(), [2, 3000], Int32Array.of(3000, 1200));
  const alone = (x: Float32Array) => normalized(x, [1, x.length], null);

  /** torchaudio's bundle wrapper: F.layer_norm(x, x.shape) over the whole [B, T] tensor, padding included. */
  function wholeTensorLayerNorm(x: Float32Array): Float32Array {
    let mean = 0;
    for (const v of x) mean += v;
    mean /= x.length;
    let v2 = 0;
    for (const v of x) v2 += (v - mean) ** 2;
    const inv = 1 / Math.sqrt(v2 / x.length + 1e-5);
    return x.map((v) => (v - mean) * inv);
  }

  it('gives each item of a padded batch exactly what it gets alone', () => {
    const n = batchNormalized();
    assert.deepEqual(n.subarray(0, a.length), alone(a));
    assert.deepEqual(n.subarray(3000, 3000 + b.length), alone(b));
    assert.ok(n.subarray(3000 + b.length).every((v: number) => v === 0), 'padding stays zero');
  });

  it('makes every item zero-mean, unit-variance over its valid samples (up to layer_norm\'s eps 1e-5)', () => {
    const n = batchNormalized();
    const stats = (x: Float32Array) => {
      const mean = x.reduce((s, v) => s + v, 0) / x.length;
      return { mean, variance: x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length };
    };
    for (const [raw, off] of [[a, 0], [b, 3000]] as const) {
      const { mean, variance } = stats(n.subarray(off, off + raw.length));
      // (x - m) / sqrt(v + eps) has variance v / (v + eps): visibly below 1 for a quiet item like b.
      const v = stats(raw).variance;
      assert.ok(Math.abs(mean) < 1e-6, `mean ${mean}`);
      assert.ok(Math.abs(variance - v / (v + 1e-5)) < 1e-4, `variance ${variance}, expected ${v / (v + 1e-5)}`);
    }
  });

  it('differs from torchaudio\'s whole-batch normalisation, which lets padding and neighbours change an item', () => {
    const ta = wholeTensorLayerNorm(padded());
    const ours = batchNormalized();
    // The quiet, short item suffers most: the loud neighbour and the zeros set its mean and scale.
    const d = maxAbsDiff(ta.subarray(3000, 3000 + b.length), ours.subarray(3000, 3000 + b.length));
    assert.ok(d > 0.5, `difference ${d}`);
    // For a single unpadded item the two agree.
    assert.ok(maxAbsDiff(wholeTensorLayerNorm(a), alone(a)) < 1e-5);
  });

  it('matches torch.nn.functional.layer_norm(x, x.shape) on a single item, and differs from it on the padded batch', function () {
    const py = requirePython(this, ['torch', 'numpy']);
    this.timeout(120000);
    const dir = mkdtempSync(join(tmpdir(), 'w2v-ln-'));
    writeFileSync(join(dir, 'batch.bin'), padded());
    writeFileSync(join(dir, 'a.bin'), a);
    const r = spawnSync(py!, ['-c', `
import sys, numpy as np, torch
d = sys.argv[1]
x = torch.from_numpy(np.fromfile(d + "/batch.bin", dtype="<f4").reshape(2, 3000))
a = torch.from_numpy(np.fromfile(d + "/a.bin", dtype="<f4").reshape(1, 3000))
torch.nn.functional.layer_norm(x, x.shape).numpy().astype("<f4").tofile(d + "/batch_ln.bin")
torch.nn.functional.layer_norm(a, a.shape).numpy().astype("<f4").tofile(d + "/a_ln.bin")
`, dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const f32 = (f: string) => { const buf = readFileSync(join(dir, f)); return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length)); };
    assert.ok(maxAbsDiff(alone(a), f32('a_ln.bin')) < 1e-5, 'single item: ours = torch');
    const ours = batchNormalized();
    assert.ok(maxAbsDiff(ours.subarray(3000, 3000 + b.length), f32('batch_ln.bin').subarray(3000, 3000 + b.length)) > 0.5, 'padded batch: torchaudio differs');
  });
});
