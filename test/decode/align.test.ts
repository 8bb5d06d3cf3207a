import assert from 'node:assert/strict';
import { forcedAlign, forcedAlignBatch, GreedyCTCDecoder, tokenize } from '../../lib/decode';
import { throwsCode } from '../helpers/errors';
import { manifest, readF32 } from '../helpers/fixtures';
import { bestAlignment, logSoftmax64, randomLogits, rng } from './oracle';

describe('decode/align: forcedAlign', () => {
  describe('finds the best alignment that a brute-force enumeration finds', () => {
    const r = rng(20240601);
    const cases: Array<{ T: number; C: number; target: number[] }> = [
      { T: 6, C: 4, target: [1, 2] },
      { T: 7, C: 4, target: [1, 1, 2] }, // a repeat needs a blank between
      { T: 7, C: 4, target: [3, 2, 3] },
      { T: 5, C: 3, target: [1, 1, 1] }, // T == L + R: no freedom at all
      { T: 8, C: 3, target: [2] },
      { T: 7, C: 5, target: [4, 3, 2, 1] },
    ];
    for (const { T, C, target } of cases) {
      for (const logSoftmax of [true, false]) {
        it(`T=${T}, C=${C}, target [${target}] (${logSoftmax ? 'logits' : 'log-probabilities'})`, () => {
          const logits = randomLogits(r, T, C, 3);
          // The aligner works on float32 log-probabilities; the oracle sees the same numbers.
          const lp = Float32Array.from(logSoftmax64(logits, T, C));
          const input = logSoftmax ? logits : lp;
          const want = bestAlignment(lp, T, C, 0, target)!;
          const got = forcedAlign({ data: input, shape: [T, C] }, target, { logSoftmax });
          assert.deepEqual(Array.from(got.alignment), Array.from(want.path));
          assert.ok(Math.abs(got.score - want.score) < 1e-4, `${got.score} vs ${want.score}`);
          for (let t = 0; t < T; t++) assert.ok(Math.abs(got.scores[t]! - lp[t * C + want.path[t]!]!) < 1e-5);
          assert.deepEqual(got.tokens.map((s) => s.token), target);
        });
      }
    }
  });

  it('resolves exact ties the way torchaudio does (stay, unless a move is strictly better than both others)', () => {
    // Worked through torchaudio's recursion by hand: at frame 2, state "b" sees x0 = -3.5 and x1 = x2 = -1.5,
    // so torchaudio keeps x0 and returns [a, b, b] (score -3.6) although [a, a, b] scores -1.6.
    const lp = Float32Array.of(
      -10, -0.5, -10, // frame 0: -, a, b
      -1, -1, -3, // frame 1: a and blank tie
      -5, -5, -0.1, // frame 2
    );
    const got = forcedAlign({ data: lp, shape: [3, 3] }, [1, 2], { logSoftmax: false });
    assert.deepEqual(Array.from(got.alignment), [1, 2, 2]);
    assert.ok(Math.abs(got.score - -3.6) < 1e-6);
  });

  it('aligning the greedy transcript of a fixture emission reproduces the greedy path where it is unique', () => {
    // Greedy's argmax path is the best unconstrained path; when it collapses to the target, it is also the
    // best constrained one.
    const model = manifest.models.ta_tiny_base;
    const e = model.cases.single_forward.outputs.emissions;
    const em = { data: readF32(e.file), shape: e.shape };
    const g = new GreedyCTCDecoder(manifest.labels).decode(em);
    const a = forcedAlign(em, g.indices, { labels: manifest.labels });
    assert.deepEqual(Array.from(a.alignment), Array.from(g.path));
    assert.ok(Math.abs(a.score - g.logProb) < 1e-3);
    assert.deepEqual(a.words.map((w) => w.word), g.words.map((w) => w.word));
    assert.deepEqual(a.words.map((w) => [w.start, w.end]), g.words.map((w) => [w.start, w.end]));
  });

  it('token spans and word spans carry seconds and confidences, and frames with frames: true', () => {
    const labels = ['-', '|', 'A', 'B'];
    // Probabilities chosen so the best alignment is clear: A A - | B B
    const probs = [
      [0.1, 0.1, 0.7, 0.1], [0.2, 0.1, 0.6, 0.1], [0.7, 0.1, 0.1, 0.1],
      [0.1, 0.7, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7], [0.1, 0.1, 0.3, 0.5],
    ];
    const data = Float32Array.from(probs.flat().map(Math.log));
    const a = forcedAlign({ data, shape: [6, 4] }, tokenize('a b', labels), { labels, frames: true });
    assert.deepEqual(Array.from(a.alignment), [2, 2, 0, 1, 3, 3]);
    assert.deepEqual(a.tokens.map((t) => [t.label, t.startFrame, t.endFrame]), [['A', 0, 2], ['|', 3, 4], ['B', 4, 6]]);
    assert.ok(Math.abs(a.tokens[0]!.confidence - 0.65) < 1e-6);
    assert.deepEqual(a.words.map((w) => [w.word, w.start, w.end]), [['A', 0, 0.04], ['B', 0.08, 0.12]]);
    assert.deepEqual(a.words.map((w) => [w.startFrame, w.endFrame]), [[0, 2], [4, 6]]);
    assert.equal(a.text, 'A B');
    assert.equal(a.transcript, 'A|B');
    const plain = forcedAlign({ data, shape: [6, 4] }, tokenize('a b', labels), { labels });
    assert.ok(plain.words.every((w) => !('startFrame' in w) && !('endFrame' in w)));
    assert.ok(Math.abs(a.words[1]!.confidence - 0.6) < 1e-6);
  });

  it('aligns a batch, each item over its valid frames', () => {
    const r = rng(7);
    const T = 6;
    const C = 4;
    const logits = randomLogits(r, 2 * T, C, 3);
    const batch = forcedAlignBatch({ data: logits, shape: [2, T, C] }, [[1, 2], [3]], { lengths: [4, 6] });
    const first = forcedAlign({ data: logits.subarray(0, 4 * C), shape: [4, C] }, [1, 2]);
    const second = forcedAlign({ data: logits.subarray(T * C), shape: [T, C] }, [3]);
    assert.equal(batch[0]!.alignment.length, 4);
    assert.deepEqual(Array.from(batch[0]!.alignment), Array.from(first.alignment));
    assert.deepEqual(Array.from(batch[1]!.alignment), Array.from(second.alignment));
  });

  it('tokenize spells words with the labels, joined by the delimiter', () => {
    const labels = manifest.labels as string[];
    assert.deepEqual(tokenize('i had', labels), [7, 1, 8, 4, 11]);
    assert.deepEqual(tokenize('I|HAD', labels), [7, 1, 8, 4, 11]);
    assert.deepEqual(tokenize("don't", labels), [11, 5, 6, 24, 3]);
    throwsCode(() => tokenize('über', labels), 'DECODE_INVALID_INPUT', /word/);
  });

  describe('bad calls', () => {
    const em = { data: new Float32Array(12), shape: [4, 3] };
    it('targets containing the blank, out of range, or empty', () => {
      throwsCode(() => forcedAlign(em, [1, 0]), 'DECODE_INVALID_INPUT', /blank/);
      throwsCode(() => forcedAlign(em, [3]), 'DECODE_INVALID_INPUT', /\[0, 2\]/);
      throwsCode(() => forcedAlign(em, []), 'DECODE_INVALID_INPUT', /non-empty/);
    });
    it('more tokens (and repeats) than frames', () => {
      throwsCode(() => forcedAlign(em, [1, 1, 2, 2]), 'DECODE_INVALID_INPUT', /4 tokens with 2 repeats need at least 6 frames/);
      throwsCode(() => forcedAlign(em, [1, 1, 1]), 'DECODE_INVALID_INPUT', /need at least 5 frames, the emission has 4/);
    });
    it('labels that do not match the emission, NaN, empty', () => {
      throwsCode(() => forcedAlign(em, [1], { labels: ['-', 'A'] }), 'DECODE_INVALID_INPUT', /expected 2 classes/);
      throwsCode(() => forcedAlign({ data: Float32Array.of(0, NaN, 0), shape: [1, 3] }, [1]), 'DECODE_INVALID_INPUT', /NaN/);
      throwsCode(() => forcedAlign({ data: new Float32Array(0), shape: [0, 3] }, [1]), 'DECODE_INVALID_INPUT', /at least one frame/);
    });
    it('an alignment that is impossible everywhere', () => {
      const d = Float32Array.of(0, -Infinity, 0, 0, -Infinity, 0);
      throwsCode(() => forcedAlign({ data: d, shape: [2, 3] }, [1], { logSoftmax: false }), 'DECODE_INVALID_INPUT', /probability zero/);
    });
    it('a batch with the wrong number of token sequences', () => {
      throwsCode(() => forcedAlignBatch({ data: new Float32Array(24), shape: [2, 4, 3] }, [[1]]), 'DECODE_INVALID_INPUT', /one token sequence per batch item/);
    });
  });
});
