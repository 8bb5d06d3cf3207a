/**
 * config.json -> network spec: what the builder makes, and what it refuses (MODEL_UNSUPPORTED naming the field,
 * CHECKPOINT_INVALID for a malformed value); a missing or misshaped weight and a bad byte range from the native side.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildModel, parseConfig } from '../../lib/builder';
import type { Checkpoint, TensorRef } from '../../lib/checkpoint/types';
import { Wav2Vec2Error } from '../../lib/errors';
import { HUB_FIXTURES, readFixtureCheckpoint } from '../helpers/hub-checkpoint';
import { requireAddon } from '../helpers/native';

const config = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(HUB_FIXTURES, name, 'config.json'), 'utf8')) as Record<string, unknown>;

function rejects(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof Wav2Vec2Error, `expected a Wav2Vec2Error, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('builder config: parseConfig', () => {
  it('reads the layout of each architecture', () => {
    const base = parseConfig(config('wav2vec2-base'));
    assert.equal(base.arch, 'wav2vec2');
    assert.deepEqual(base.convKernel, [10, 3, 3]);
    assert.deepEqual(base.convStride, [5, 2, 2]);
    assert.equal(base.featExtractNorm, 'group');
    assert.equal(base.stableLayerNorm, false);
    assert.equal(base.vocabSize, 12);
    assert.equal(base.numLayers, 2);
    assert.equal(base.numHeads, 4);
    assert.equal(base.hiddenSize, 32);
    const lv60 = parseConfig(config('wav2vec2-lv60'));
    assert.equal(lv60.featExtractNorm, 'layer');
    assert.equal(lv60.stableLayerNorm, true);
    assert.equal(lv60.convBias, true);
    assert.equal(parseConfig(config('wavlm')).numBuckets, 32);
    const d2v = parseConfig(config('data2vec-audio'));
    assert.equal(d2v.convPosKernelSize, 5);
    assert.equal(d2v.numConvPosEmbeddings, 3);
    assert.equal(parseConfig(config('wav2vec2-bare')).vocabSize, null);
    assert.equal(parseConfig(config('wavlm-bare')).arch, 'wavlm');
  });

  const base = config('wav2vec2-base');
  const unsupported: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an adapter', { add_adapter: true }, /"add_adapter": true/],
    ['MMS attention adapters', { adapter_attn_dim: 16 }, /"adapter_attn_dim": 16/],
    ['a conformer', { architectures: ['Wav2Vec2ConformerForCTC'], model_type: 'wav2vec2-conformer' }, /"model_type": "wav2vec2-conformer"/],
    ['a classification head', { architectures: ['Wav2Vec2ForSequenceClassification'] }, /"architectures": \["Wav2Vec2ForSequenceClassification"\]/],
    ['an x-vector head', { architectures: ['WavLMForXVector'], model_type: 'wavlm' }, /WavLMForXVector/],
    ['an activation we do not implement', { hidden_act: 'quick_gelu' }, /"hidden_act": "quick_gelu"/],
    ['a batch-normed positional conv', { conv_pos_batch_norm: true }, /"conv_pos_batch_norm": true/],
    ['another feature extractor norm', { feat_extract_norm: 'batch' }, /"feat_extract_norm": "batch"/],
    ["Object.prototype's names as a class", { architectures: ['constructor'] }, /"architectures": \["constructor"\]/],
    ["Object.prototype's names as a model type", { architectures: null, model_type: 'toString' }, /"model_type": "toString"/],
  ];
  for (const [what, change, pattern] of unsupported) {
    it(`refuses ${what} with MODEL_UNSUPPORTED naming the field`, () => rejects(() => parseConfig({ ...base, ...change }), 'MODEL_UNSUPPORTED', pattern));
  }

  it('ignores what only training uses', () => {
    assert.doesNotThrow(() => parseConfig({ ...base, apply_spec_augment: true, mask_time_prob: 0.5, layerdrop: 0.3, use_weighted_layer_sum: true }));
  });

  const malformed: Array<[string, unknown, RegExp]> = [
    ['not an object', [1, 2], /JSON object/],
    ['null', null, /JSON object/],
    ['conv lists of different lengths', { ...base, conv_kernel: [10, 3] }, /equal length/],
    ['a conv kernel of 0', { ...base, conv_kernel: [10, 0, 3] }, /conv_kernel\[1\]/],
    ['a string for a size', { ...base, hidden_size: '32' }, /hidden_size/],
    ['heads that do not divide the hidden size', { ...base, num_attention_heads: 5 }, /num_attention_heads/],
    ['a fractional layer count', { ...base, num_hidden_layers: 1.5 }, /num_hidden_layers/],
    ['a huge layer count', { ...base, num_hidden_layers: 1e9 }, /num_hidden_layers/],
    ['a negative epsilon', { ...base, layer_norm_eps: -1 }, /layer_norm_eps/],
    ['two architectures', { ...base, architectures: ['Wav2Vec2ForCTC', 'HubertForCTC'] }, /architectures/],
    ['no vocab size for a CTC head', { ...base, vocab_size: null }, /vocab_size/],
    ['an architecture of another model type', { ...base, model_type: 'hubert' }, /model_type/],
  ];
  for (const [what, value, pattern] of malformed) {
    it(`refuses ${what} with CHECKPOINT_INVALID`, () => rejects(() => parseConfig(value), 'CHECKPOINT_INVALID', pattern));
  }
});

describe('builder: weights checked again in C++', function () {
  this.timeout(60_000);
  before(function () {
    requireAddon(this);
  });

  async function expectBuildError(change: (c: Checkpoint) => void, code: string, pattern: RegExp): Promise<void> {
    const checkpoint = await readFixtureCheckpoint('wav2vec2-base');
    change(checkpoint);
    await assert.rejects(buildModel(checkpoint), (err: unknown) => {
      assert.ok(err instanceof Wav2Vec2Error, String(err));
      assert.equal(err.code, code, err.message);
      assert.match(err.message, pattern);
      return true;
    });
  }
  const edit = (name: string, f: (t: TensorRef) => TensorRef) => (c: Checkpoint) => {
    c.weights.set(name, f(c.weights.get(name)!));
  };
  const Q = 'wav2vec2.encoder.layers.1.attention.q_proj.weight';

  it('names a missing tensor', () =>
    expectBuildError((c) => c.weights.delete(Q), 'CHECKPOINT_INVALID', /no tensor wav2vec2\.encoder\.layers\.1\.attention\.q_proj\.weight/));
  it('names a tensor of another shape than the config makes', () =>
    expectBuildError(edit(Q, (t) => ({ ...t, shape: [32, 16], strides: [16, 1] })), 'CHECKPOINT_INVALID', /q_proj\.weight has shape \[32, 16\]; the config makes it \[32, 32\]/));
  it('refuses a byte range past the end of the file', () =>
    expectBuildError(edit(Q, (t) => ({ ...t, offset: t.offset + 10_000_000 })), 'CHECKPOINT_INVALID', /q_proj\.weight.*not inside the file/));
  it('refuses strides that reach past byteLength', () =>
    expectBuildError(edit(Q, (t) => ({ ...t, strides: [64, 1] })), 'CHECKPOINT_INVALID', /q_proj\.weight.*spans/));
  it('refuses a dtype it does not read', () =>
    expectBuildError(edit(Q, (t) => ({ ...t, dtype: 'int8' as TensorRef['dtype'] })), 'CHECKPOINT_INVALID', /q_proj\.weight: dtype "int8"/));
  it('builds a bare body whose forward is a coded error', async () => {
    const model = await buildModel(await readFixtureCheckpoint('wav2vec2-bare'));
    try {
      await assert.rejects(model.forward(new Float32Array(400)), { code: 'UNSUPPORTED_METHOD' });
      const { features } = await model.extractFeatures(new Float32Array(400), { numLayers: 1 });
      assert.equal(features.length, 1);
    } finally {
      model.dispose();
    }
  });
});

describe('builder config: mutated configs', () => {
  // A seeded walk over every fixture's config: each field replaced by a value of another kind. parseConfig must
  // return a spec or throw one of our two codes, nothing else (lib/checkpoint's fuzzer does the long run).
  it('returns a spec or throws CHECKPOINT_INVALID / MODEL_UNSUPPORTED for 5,000 mutations', () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const values: unknown[] = [null, true, false, 0, -1, 1.5, 1e308, NaN, '', 'gelu', 'group', [], [0], [1, 2, 3], {}, { a: 1 }, '__proto__', 'constructor'];
    const names = ['wav2vec2-base', 'wav2vec2-lv60', 'hubert', 'wavlm', 'data2vec-audio', 'wavlm-bare'];
    const codes = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const c = config(names[rand(names.length)]!);
      const keys = Object.keys(c);
      for (let k = 0, n = 1 + rand(3); k < n; k++) {
        const key = keys[rand(keys.length)]!;
        if (rand(5) === 0) delete c[key];
        else c[key] = values[rand(values.length)];
      }
      try {
        parseConfig(c);
        codes.add('ok');
      } catch (err) {
        assert.ok(err instanceof Wav2Vec2Error, `mutation ${i}: ${String(err)}`);
        assert.ok(err.code === 'CHECKPOINT_INVALID' || err.code === 'MODEL_UNSUPPORTED', `mutation ${i}: ${err.code}`);
        codes.add(err.code);
      }
    }
    assert.deepEqual([...codes].sort(), ['CHECKPOINT_INVALID', 'MODEL_UNSUPPORTED', 'ok']);
  });
});
