/**
 * The natively built network against transformers (test/fixtures/hub, scripts/make_hub_fixtures.py): logits and
 * every layer's features within 1e-4 (max abs) for each item alone and for a zero-padded batch, whose reference
 * is transformers' batched output for models that take an attention mask and each item alone for the others.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildModel } from '../../lib/builder';
import type { Model } from '../../lib/model/model';
import { maxAbsDiff } from '../../lib/tensor';
import { HUB_FIXTURES, readFixtureCheckpoint } from '../helpers/hub-checkpoint';
import { requireAddon } from '../helpers/native';
import { readNpy } from '../helpers/npy';

const TOL = 1e-4;

// Every architecture and weight layout: safetensors, sharded, and pytorch_model.bin (weight_g/weight_v names).
export const PARITY_FIXTURES = ['wav2vec2-base', 'wav2vec2-lv60', 'wav2vec2-sharded', 'wav2vec2-bin', 'hubert', 'wavlm', 'data2vec-audio', 'wav2vec2-bare', 'wavlm-bare', 'wav2vec2-lm'];

interface Meta { lengths: number[]; frames: number[]; normalized: boolean; batched: boolean; logits: boolean; numLayers: number }

type T3 = { data: Float32Array; shape: number[] };

/** Item b of a [B, F, D] tensor, its first `frames` frames. */
function item(t: T3, b: number, frames: number): Float32Array {
  const [, F, D] = t.shape as [number, number, number];
  return t.data.subarray(b * F * D, (b * F + frames) * D);
}

/** Layer l of a stacked [L, ..., F, D] reference: item b of [L, B, F, D], or the whole [L, F, D] slice. */
function layer(ref: T3, l: number, b: number | null, frames: number): Float32Array {
  if (b === null) {
    const [, F, D] = ref.shape as [number, number, number];
    return ref.data.subarray(l * F * D, l * F * D + frames * D);
  }
  const [, B, F, D] = ref.shape as [number, number, number, number];
  const base = (l * B + b) * F * D;
  return ref.data.subarray(base, base + frames * D);
}

/** Largest differences seen, per fixture: the figures of the closing note. */
const figures: Record<string, { logits: number; features: number }> = {};

function record(name: string, kind: 'logits' | 'features', diff: number): void {
  const f = (figures[name] ??= { logits: 0, features: 0 });
  f[kind] = Math.max(f[kind], diff);
  assert.ok(diff <= TOL, `${name}: ${kind} differ from transformers by ${diff}`);
}

/** The same checkpoint with the positional conv's weight-norm halves under their pre-parametrization names. */
async function withLegacyWeightNorm(name: string) {
  const checkpoint = await readFixtureCheckpoint(name);
  const renamed = new Map([...checkpoint.weights].map(([k, v]) => {
    const legacy = k.replace('parametrizations.weight.original0', 'weight_g').replace('parametrizations.weight.original1', 'weight_v');
    return [legacy, { ...v, name: legacy }];
  }));
  assert.ok([...renamed.keys()].some((k) => k.endsWith('pos_conv_embed.conv.weight_g')), 'the fixture has a weight-normed positional conv');
  return { ...checkpoint, weights: renamed };
}

describe('native builder: parity with transformers', function () {
  this.timeout(120_000);
  before(function () {
    requireAddon(this);
  });
  after(() => {
    // eslint-disable-next-line no-console
    if (Object.keys(figures).length) console.log('      max abs diff vs transformers:', JSON.stringify(figures));
  });

  it('reads weight_g / weight_v (the names most .bin files on the hub carry) as parametrizations.weight.original0 / 1', async () => {
    const dir = join(HUB_FIXTURES, 'wav2vec2-base', 'expected');
    const model = await buildModel(await withLegacyWeightNorm('wav2vec2-base'), { threads: 1 });
    try {
      const x = readNpy(join(dir, 'waveforms.npy'));
      const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
      const { emissions } = await model.forward(x.data.slice(0, meta.lengths[0]));
      record('wav2vec2-base', 'logits', maxAbsDiff(emissions.data, readNpy(join(dir, 'logits_0.npy')).data));
    } finally {
      model.dispose();
    }
  });

  for (const name of PARITY_FIXTURES) {
    describe(name, () => {
      const dir = join(HUB_FIXTURES, name, 'expected');
      const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
      let model: Model;
      let waveforms: T3;
      before(async () => {
        model = await buildModel(await readFixtureCheckpoint(name), { threads: 1 });
        waveforms = readNpy(join(dir, 'waveforms.npy'));
      });
      after(() => model?.dispose());

      const alone = (i: number): Float32Array => waveforms.data.slice(i * waveforms.shape[1]!, i * waveforms.shape[1]! + meta.lengths[i]!);

      it('derives the manifest from the checkpoint', () => {
        assert.equal(model.info.convention, 'native');
        assert.equal(model.manifest?.normalizeWaveform, meta.normalized);
        assert.equal(model.frameStride, 20);  // the fixtures' conv layout: strides 5, 2, 2
        assert.equal(model.receptiveField, 40);
        assert.equal(model.info.numLayers, meta.numLayers);
        assert.equal(model.labels === undefined, !meta.logits);
      });

      it('matches each item alone: every layer, and the logits', async () => {
        for (let i = 0; i < meta.lengths.length; i++) {
          const hidden = readNpy(join(dir, `hidden_${i}.npy`));
          const { features } = await model.extractFeatures(alone(i));
          assert.equal(features.length, meta.numLayers);
          features.forEach((f, l) => {
            assert.deepEqual(f.shape, [1, meta.frames[i], hidden.shape[2]]);
            record(name, 'features', maxAbsDiff(f.data, layer(hidden, l, null, meta.frames[i]!)));
          });
          if (!meta.logits) continue;
          const logits = readNpy(join(dir, `logits_${i}.npy`));
          const { emissions } = await model.forward(alone(i));
          assert.deepEqual(emissions.shape, [1, ...logits.shape]);
          record(name, 'logits', maxAbsDiff(emissions.data, logits.data));
        }
      });

      it("matches with LibTorch's own kernels too (optimize: false)", async () => {
        const plain = await buildModel(await readFixtureCheckpoint(name), { threads: 1, optimize: false });
        try {
          assert.deepEqual(plain.info.rewrites, {});
          const hidden = readNpy(join(dir, 'hidden_0.npy'));
          const { features } = await plain.extractFeatures(alone(0));
          features.forEach((f, l) => record(name, 'features', maxAbsDiff(f.data, layer(hidden, l, null, meta.frames[0]!))));
          if (meta.logits) record(name, 'logits', maxAbsDiff((await plain.forward(alone(0))).emissions.data, readNpy(join(dir, 'logits_0.npy')).data));
        } finally {
          plain.dispose();
        }
      });

      it(`matches ${meta.batched ? "transformers' padded batch" : 'each item alone'} in a zero-padded batch`, async () => {
        const input = { data: waveforms.data, shape: waveforms.shape as [number, number] };
        const { features, lengths } = await model.extractFeatures(input, { lengths: meta.lengths });
        assert.deepEqual([...lengths], meta.frames);
        const batchHidden = meta.batched ? readNpy(join(dir, 'batch_hidden.npy')) : null;
        meta.frames.forEach((frames, b) => {
          const hidden = batchHidden ?? readNpy(join(dir, `hidden_${b}.npy`));
          features.forEach((f, l) => record(name, 'features', maxAbsDiff(item(f, b, frames), layer(hidden, l, batchHidden ? b : null, frames))));
        });
        if (!meta.logits) return;
        const { emissions } = await model.forward(input, { lengths: meta.lengths });
        const batchLogits = meta.batched ? readNpy(join(dir, 'batch_logits.npy')) : null;
        meta.frames.forEach((frames, b) => {
          const ref = batchLogits ? item(batchLogits, b, frames) : readNpy(join(dir, `logits_${b}.npy`)).data;
          record(name, 'logits', maxAbsDiff(item(emissions, b, frames), ref));
        });
      });
    });
  }
});
