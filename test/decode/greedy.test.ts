import assert from 'node:assert/strict';
import { GreedyCTCDecoder } from '../../lib/decode';
import { throwsCode } from '../helpers/errors';
import { manifest, readF32, readI64 } from '../helpers/fixtures';
import { randomLogits, rng } from './oracle';

const labels: string[] = manifest.labels;

function emissionOf(entry: { file: string; shape: number[] }): { data: Float32Array; shape: number[] } {
  return { data: readF32(entry.file), shape: entry.shape };
}

/** Log-probabilities from probabilities, one row per frame. */
function fromProbs(rows: number[][]): { data: Float32Array; shape: number[] } {
  return { data: Float32Array.from(rows.flat().map(Math.log)), shape: [rows.length, rows[0]!.length] };
}

describe('decode/greedy: GreedyCTCDecoder', () => {
  describe('reproduces the greedy transcripts recorded with torchaudio', () => {
    for (const name of ['ta_tiny_base', 'ta_tiny_lv60k']) {
      const model = manifest.models[name];
      it(`${name}: single input (path, indices, transcript)`, () => {
        const rec = model.greedy_ctc.single;
        const r = new GreedyCTCDecoder(labels).decode(emissionOf(model.cases.single_forward.outputs.emissions));
        assert.deepEqual(Array.from(r.path), rec.argmax_frames);
        assert.deepEqual(r.indices, rec.indices);
        assert.equal(r.transcript, rec.transcript);
        assert.equal(r.text, rec.transcript_spaces.trim().split(/\s+/).join(' '));
      });
      it(`${name}: every batch item over its valid frames (lengths as int64)`, () => {
        const c = model.cases.batch_forward;
        const lengths = BigInt64Array.from(readI64(c.outputs.lengths.file).map(BigInt));
        const results = new GreedyCTCDecoder(labels).decodeBatch(emissionOf(c.outputs.emissions), lengths);
        assert.equal(results.length, 3);
        results.forEach((r, b) => {
          const rec = model.greedy_ctc[`batch[${b}]`];
          assert.equal(r.path.length, rec.valid_frames);
          assert.equal(r.path.length, c.output_lengths[b]);
          assert.deepEqual(r.indices, rec.indices);
          assert.equal(r.transcript, rec.transcript);
          if (rec.argmax_frames.length === rec.valid_frames) assert.deepEqual(Array.from(r.path), rec.argmax_frames);
        });
      });
    }
    for (const name of ['hf_tiny_traced', 'hf_tiny_traced_tuple']) {
      it(`${name}: argmax of the Hugging Face logits (32 labels, batch without lengths)`, () => {
        const model = manifest.models[name];
        const vocab = Array.from({ length: 32 }, (_, i) => `<${i}>`);
        const single = new GreedyCTCDecoder(vocab, { wordDelimiter: null }).decode(emissionOf(model.cases.hf_single.outputs.logits));
        assert.deepEqual(Array.from(single.path), model.cases.hf_single.argmax_indices[0]);
        const batch = new GreedyCTCDecoder(vocab, { wordDelimiter: null }).decodeBatch(emissionOf(model.cases.hf_batch.outputs.logits));
        batch.forEach((r, b) => assert.deepEqual(Array.from(r.path), model.cases.hf_batch.argmax_indices[b]));
      });
    }
  });

  describe('on constructed emissions', () => {
    // labels: 0 '-', 1 '|', 2 'A', 3 'B'
    const L = ['-', '|', 'A', 'B'];
    it('collapses repeats, keeps a token repeated across a blank, drops blanks', () => {
      const r = new GreedyCTCDecoder(L, { frames: true }).decode(fromProbs([
        [0.1, 0.1, 0.7, 0.1], // A
        [0.1, 0.1, 0.6, 0.2], // A (repeat)
        [0.5, 0.1, 0.2, 0.2], // -
        [0.1, 0.1, 0.4, 0.4 - 1e-6], // A again, just above B
        [0.2, 0.6, 0.1, 0.1], // |
        [0.1, 0.1, 0.1, 0.7], // B
      ]));
      assert.deepEqual(r.indices, [2, 2, 1, 3]);
      assert.equal(r.transcript, 'AA|B');
      assert.deepEqual(r.words.map((w) => w.word), ['AA', 'B']);
      assert.equal(r.text, 'AA B');
      assert.deepEqual(r.tokens.map((t) => [t.label, t.startFrame, t.endFrame]), [['A', 0, 2], ['A', 3, 4], ['|', 4, 5], ['B', 5, 6]]);
      assert.deepEqual(r.words.map((w) => [w.word, w.startFrame, w.endFrame]), [['AA', 0, 4], ['B', 5, 6]]);
    });

    it('reports times at 320 samples / 16 kHz per frame and confidences from the softmax', () => {
      const r = new GreedyCTCDecoder(L).decode(fromProbs([
        [0.8, 0.1, 0.05, 0.05],
        [0.1, 0.1, 0.7, 0.1],
        [0.1, 0.1, 0.5, 0.3],
        [0.2, 0.6, 0.1, 0.1],
        [0.1, 0.1, 0.1, 0.7],
      ]));
      const a = r.tokens[0]!;
      assert.equal(a.start, 0.02);
      assert.equal(a.end, 0.06);
      assert.ok(Math.abs(a.confidence - (0.7 + 0.5) / 2) < 1e-6);
      // Word confidence: frame-weighted mean over its tokens' frames.
      const [w1, w2] = r.words;
      assert.ok(Math.abs(w1!.confidence - 0.6) < 1e-6);
      assert.ok(Math.abs(w2!.confidence - 0.7) < 1e-6);
      assert.equal(w2!.start, 0.08);
      assert.equal(w2!.end, 0.1);
      // Path probability 0.8*0.7*0.5*0.6*0.7, and its per-frame geometric mean.
      const p = 0.8 * 0.7 * 0.5 * 0.6 * 0.7;
      assert.ok(Math.abs(r.logProb - Math.log(p)) < 1e-5);
      assert.ok(Math.abs(r.confidence - Math.pow(p, 1 / 5)) < 1e-6);
    });

    it('uses the given frame stride and sample rate', () => {
      const r = new GreedyCTCDecoder(L, { frameStride: 160, sampleRate: 8000 }).decode(fromProbs([[0.1, 0.1, 0.1, 0.7], [0.1, 0.1, 0.7, 0.1]]));
      assert.deepEqual(r.tokens.map((t) => [t.start, t.end]), [[0, 0.02], [0.02, 0.04]]);
    });

    it('accepts [1, F, C] and a different blank index', () => {
      const e = fromProbs([[0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7]]);
      const r = new GreedyCTCDecoder(L, { blank: 3 }).decode({ data: e.data, shape: [1, 2, 4] });
      assert.deepEqual(r.indices, [0]);
      assert.equal(r.transcript, '-');
    });

    it('an all-blank emission gives an empty transcript and no words', () => {
      const r = new GreedyCTCDecoder(L).decode(fromProbs([[0.9, 0.05, 0.03, 0.02]]));
      assert.equal(r.transcript, '');
      assert.deepEqual(r.words, []);
      assert.deepEqual(r.tokens, []);
    });

    it('decodeBatch ignores frames past each length', () => {
      const rows = [[0.1, 0.1, 0.7, 0.1], [0.1, 0.1, 0.1, 0.7], [0.1, 0.1, 0.1, 0.7], [0.1, 0.1, 0.7, 0.1]];
      const e = fromProbs(rows);
      const r = new GreedyCTCDecoder(L).decodeBatch({ data: e.data, shape: [2, 2, 4] }, [1, 2]);
      assert.equal(r[0]!.transcript, 'A');
      assert.equal(r[1]!.transcript, 'BA');
    });
  });


  describe('bad calls', () => {
    const L = ['-', '|', 'A'];
    const ok = { data: new Float32Array(6), shape: [2, 3] };
    it('labels that do not match the emission', () => {
      throwsCode(() => new GreedyCTCDecoder(['-', 'A']).decode(ok), 'DECODE_INVALID_INPUT', /expected 2 classes.*got 3/);
    });
    it('NaN or +Infinity in the emission', () => {
      throwsCode(() => new GreedyCTCDecoder(L).decode({ data: Float32Array.of(0, 0, 0, 0, NaN, 0), shape: [2, 3] }), 'DECODE_INVALID_INPUT', /NaN at frame 1, label 1/);
      throwsCode(() => new GreedyCTCDecoder(L).decode({ data: Float32Array.of(0, Infinity, 0), shape: [1, 3] }), 'DECODE_INVALID_INPUT', /finite/);
      throwsCode(() => new GreedyCTCDecoder(L).decode({ data: Float32Array.of(-Infinity, -Infinity, -Infinity), shape: [1, 3] }), 'DECODE_INVALID_INPUT', /every label is -Infinity/);
    });
    it('an empty emission', () => {
      throwsCode(() => new GreedyCTCDecoder(L).decode({ data: new Float32Array(0), shape: [0, 3] }), 'DECODE_INVALID_INPUT', /at least one frame/);
      throwsCode(() => new GreedyCTCDecoder(L).decodeBatch({ data: new Float32Array(0), shape: [2, 0, 3] }), 'DECODE_INVALID_INPUT', /emissions: expected at least one frame/);
      // A valid length of 0: refused by the lengths rule itself, whose message states the range.
      throwsCode(() => new GreedyCTCDecoder(L).decodeBatch({ data: new Float32Array(6), shape: [1, 2, 3] }, [0]), 'DECODE_INVALID_INPUT', /lengths\[0\]: expected an integer in \[1, 2\] \(every item needs at least one frame\)/);
    });
    it('not a tensor, or a shape that does not fit the data', () => {
      throwsCode(() => new GreedyCTCDecoder(L).decode([1, 2, 3] as never), 'DECODE_INVALID_INPUT');
      throwsCode(() => new GreedyCTCDecoder(L).decode({ data: Array.from(ok.data) as never, shape: [2, 3] }), 'DECODE_INVALID_INPUT');
      throwsCode(() => new GreedyCTCDecoder(L).decode({ data: ok.data, shape: [3, 3] }), 'DECODE_INVALID_INPUT', /holds 9 values but data has 6/);
      throwsCode(() => new GreedyCTCDecoder(L).decode({ data: ok.data, shape: [6] }), 'DECODE_INVALID_INPUT', /\[frames, classes\]/);
      throwsCode(() => new GreedyCTCDecoder(L).decode({ data: ok.data, shape: [2, 1, 3] }), 'DECODE_INVALID_INPUT');
    });
    it('batch lengths of the wrong count or out of range', () => {
      const b = { data: new Float32Array(12), shape: [2, 2, 3] };
      throwsCode(() => new GreedyCTCDecoder(L).decodeBatch(b, [1]), 'DECODE_INVALID_INPUT', /2 lengths/);
      throwsCode(() => new GreedyCTCDecoder(L).decodeBatch(b, [1, 3]), 'DECODE_INVALID_INPUT', /lengths\[1\]/);
      throwsCode(() => new GreedyCTCDecoder(L).decodeBatch(b, [1, 1.5]), 'DECODE_INVALID_INPUT');
    });
    it('bad constructor arguments', () => {
      throwsCode(() => new GreedyCTCDecoder([]), 'DECODE_INVALID_INPUT');
      throwsCode(() => new GreedyCTCDecoder(['-', 3] as never), 'DECODE_INVALID_INPUT');
      throwsCode(() => new GreedyCTCDecoder(L, { blank: 3 }), 'DECODE_INVALID_INPUT', /blank/);
      throwsCode(() => new GreedyCTCDecoder(L, { wordDelimiter: ' ' }), 'DECODE_INVALID_INPUT', /wordDelimiter/);
      throwsCode(() => new GreedyCTCDecoder(L, { frameStride: 0 }), 'DECODE_INVALID_INPUT', /frameStride/);
    });
  });
});
