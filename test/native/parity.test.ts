/**
 * Parity with the reference fixtures: outputs of the same TorchScript files computed by torchaudio /
 * transformers in Python (test/fixtures/README.md). Bar: max abs difference <= 1e-4, lengths exact.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { GreedyCTCDecoder } from '../../lib/decode';
import { type Model } from '../../lib/model/model';
import { loadModel } from '../../lib/model/load';
import { maxAbsDiff } from '../../lib/tensor';
import { FIXTURES, manifest, readEntry, readF32, readI64 } from '../helpers/fixtures';
import { requireAddon } from '../helpers/native';

const TOL = manifest.tolerance.emissions_and_features_abs as number; // 1e-4

function input(name: string): { data: Float32Array; shape: [number, number] } {
  const entry = manifest.inputs[name];
  return { data: readF32(entry.file), shape: entry.shape };
}

/** Compares only valid frames of each item (padding frames are the model's own business). */
function diffValidFrames(got: { data: Float32Array; shape: number[] }, ref: Float32Array, refShape: number[], lengths: number[] | null): number {
  assert.deepEqual(got.shape, refShape);
  if (!lengths) return maxAbsDiff(got.data, ref);
  const [, F, C] = refShape as [number, number, number];
  let worst = 0;
  lengths.forEach((n, b) => {
    const a = got.data.subarray(b * F * C, (b * F + n) * C);
    const r = ref.subarray(b * F * C, (b * F + n) * C);
    worst = Math.max(worst, maxAbsDiff(a, r));
  });
  return worst;
}

const report: string[] = [];
after(() => {
  // eslint-disable-next-line no-console
  if (report.length) console.log('\n      max abs difference vs reference:\n' + report.map((r) => `        ${r}`).join('\n'));
});

for (const [name, spec] of Object.entries<any>(manifest.models)) {
  describe(`parity: ${name} (${spec.kind})`, function () {
    let model: Model;
    before(async function () {
      requireAddon(this);
      model = await loadModel(join(FIXTURES, spec.file), { manifest: false });
    });
    after(() => model?.dispose());

    it('detects the calling convention from the method schema', () => {
      assert.equal(model.info.convention, spec.kind === 'torchaudio_scripted' ? 'torchaudio' : 'traced');
      assert.equal(model.info.hasExtractFeatures, spec.kind === 'torchaudio_scripted');
      if (spec.num_layers) assert.equal(model.info.numLayers, spec.num_layers);
    });

    for (const [caseName, c] of Object.entries<any>(spec.cases)) {
      it(`${caseName}: ${c.call}`, async () => {
        const x = input(c.input);
        const lengths = c.lengths ? readI64(manifest.inputs[c.lengths].file) : undefined;
        const method = c.method ?? 'forward';
        if (method === 'forward') {
          const refEntry = c.outputs.emissions ?? c.outputs.logits;
          const ref = readEntry(refEntry).data as Float32Array;
          const out = await model.forward(x, lengths ? { lengths } : {});
          const d = diffValidFrames(out.emissions, ref, refEntry.shape, c.output_lengths);
          report.push(`${name} ${caseName}: ${d.toExponential(2)}`);
          assert.ok(d <= TOL, `max abs diff ${d} > ${TOL}`);
          if (c.output_lengths) assert.deepEqual(Array.from(out.lengths), c.output_lengths);
          else assert.deepEqual(Array.from(out.lengths), new Array(refEntry.shape[0]).fill(refEntry.shape[1]));
        } else {
          const out = await model.extractFeatures(x, { ...(lengths ? { lengths } : {}), ...(c.num_layers ? { numLayers: c.num_layers } : {}) });
          assert.equal(out.features.length, c.outputs.features.length);
          c.outputs.features.forEach((entry: any, layer: number) => {
            const d = diffValidFrames(out.features[layer]!, readEntry(entry).data as Float32Array, entry.shape, c.output_lengths);
            report.push(`${name} ${caseName} layer ${layer}: ${d.toExponential(2)}`);
            assert.ok(d <= TOL, `layer ${layer}: max abs diff ${d} > ${TOL}`);
          });
          if (c.output_lengths) assert.deepEqual(Array.from(out.lengths), c.output_lengths);
        }
      });
    }

    if (spec.greedy_ctc) {
      it('greedy transcripts of our emissions equal the reference ones (single and every batch item)', async () => {
        const decoder = new GreedyCTCDecoder(manifest.labels);
        const single = await model.forward(input('single'));
        const batch = await model.forward(input('batch'), { lengths: readI64(manifest.inputs.batch_lengths.file) });
        const [, F, C] = batch.emissions.shape as [number, number, number];
        for (const [key, ref] of Object.entries<any>(spec.greedy_ctc)) {
          const m = /^batch\[(\d+)\]$/.exec(key);
          const emission = m
            ? { data: batch.emissions.data.subarray(Number(m[1]) * F * C, (Number(m[1]) * F + ref.valid_frames) * C), shape: [ref.valid_frames, C] }
            : { data: single.emissions.data, shape: single.emissions.shape.slice(1) };
          // A frame can only flip where the best two logits are closer than our numeric difference (about 3e-6).
          assert.ok(ref.min_top2_margin > 1e-5, `${key}: margin ${ref.min_top2_margin} too small for a strict comparison`);
          const got = decoder.decode(emission);
          assert.deepEqual(Array.from(got.path), ref.argmax_frames, `${key}: argmax frames`);
          assert.deepEqual(got.indices, ref.indices, `${key}: indices`);
          assert.equal(got.transcript, ref.transcript, `${key}: transcript`);
        }
      });
    }

    if (spec.frame_counts) {
      it('frame counts and output lengths for every recorded input length', async () => {
        for (const [samples, fc] of Object.entries<any>(spec.frame_counts)) {
          const n = Number(samples);
          const out = await model.forward({ data: new Float32Array(n), shape: [1, n] }, { lengths: [n] });
          assert.equal(out.emissions.shape[1], fc.frames, `frames for ${n} samples`);
          assert.deepEqual(Array.from(out.lengths), [fc.output_length], `output length for ${n} samples`);
        }
      });
    }

    if (spec.errors) {
      for (const [errName, e] of Object.entries<any>(spec.errors)) {
        it(`error ${errName}: same message as the reference`, async () => {
          const x = input('single');
          const n = 16000;
          const numLayers = Number(/num_layers_(\d+)$/.exec(errName)![1]);
          await assert.rejects(
            model.extractFeatures({ data: x.data.slice(0, n), shape: [1, n] }, { numLayers }),
            (err: any) => {
              assert.equal(err.code, 'INVALID_INPUT');
              // The reference records "Error: builtins.ValueError: <message>"; the message is what users need.
              const expected = String(e.error).replace(/^Error: builtins\.ValueError: /, '');
              assert.equal(err.message, expected);
              return true;
            });
        });
      }
    }
  });
}
