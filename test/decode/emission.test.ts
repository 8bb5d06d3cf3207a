/** lib/decode/emission.ts: the log-sum-exp every decoder shares, and the one rule for frame counts and lengths. */
import assert from 'node:assert/strict';
import { CTCBeamSearchDecoder, forcedAlignBatch, GreedyCTCDecoder } from '../../lib/decode';
import { logSoftmax, logSumExp, rowLogSumExp } from '../../lib/decode/emission';
import { throwsCode } from '../helpers/errors';
import { logSoftmax64, randomLogits, rng } from './oracle';

describe('decode/emission', () => {
  describe('log-sum-exp', () => {
    const T = 7;
    const C = 5;
    const logits = randomLogits(rng(3), T, C, 30);
    // Independent float64 reference (oracle.ts): log-softmax rows, so lse[t] = x[t, c] - lp[t, c].
    const lp = logSoftmax64(logits, T, C);

    it('logSumExp of a frame matches the float64 reference, with or without the maximum given', () => {
      for (let t = 0; t < T; t++) {
        const want = logits[t * C]! - lp[t * C]!;
        const max = Math.max(...logits.subarray(t * C, t * C + C));
        assert.ok(Math.abs(logSumExp(logits, t * C, C) - want) < 1e-12, `frame ${t}`);
        assert.equal(logSumExp(logits, t * C, C, max), logSumExp(logits, t * C, C));
      }
    });

    it('rowLogSumExp and logSoftmax are built on it', () => {
      const lse = rowLogSumExp(logits, T, C);
      const ls = logSoftmax({ data: logits, frames: T, classes: C });
      for (let t = 0; t < T; t++) {
        assert.equal(lse[t], logSumExp(logits, t * C, C));
        for (let c = 0; c < C; c++) assert.equal(ls[t * C + c], Math.fround(logits[t * C + c]! - lse[t]!));
      }
    });

    it('is exact for -Infinity labels and large logits (no overflow)', () => {
      const x = Float32Array.of(-Infinity, 1000, 1000, -Infinity);
      assert.ok(Math.abs(logSumExp(x, 0, 4) - (1000 + Math.LN2)) < 1e-9);
    });

    it('greedy and beam search report the same token confidences from it', () => {
      const labels = ['-', '|', 'A', 'B'];
      const em = { data: randomLogits(rng(5), 12, 4, 3), shape: [12, 4] };
      const g = new GreedyCTCDecoder(labels).decode(em);
      const b = new CTCBeamSearchDecoder(labels, { beamSize: 1, beamSizeToken: 1 }).decode(em);
      assert.deepEqual(b.tokens.map((s) => [s.label, s.start, s.confidence]), g.tokens.map((s) => [s.label, s.start, s.confidence]));
    });
  });

  describe('frames and lengths: every item needs at least one frame', () => {
    const labels = ['-', '|', 'A'];
    const batch = { data: randomLogits(rng(1), 2 * 3, 3), shape: [2, 3, 3] };
    const decoders: Array<[string, (lengths: number[]) => unknown]> = [
      ['greedy', (l) => new GreedyCTCDecoder(labels).decodeBatch(batch, l)],
      ['beam search', (l) => new CTCBeamSearchDecoder(labels).decodeBatch(batch, l)],
      ['forced alignment', (l) => forcedAlignBatch(batch, [[2], [2]], { lengths: l })],
    ];
    for (const [name, run] of decoders) {
      it(`${name}: a valid length of 0 is refused, and the message gives the allowed range [1, frames]`, () => {
        throwsCode(() => run([3, 0]), 'DECODE_INVALID_INPUT', /emissions lengths\[1\]: expected an integer in \[1, 3\] \(every item needs at least one frame\), got the number 0/);
        throwsCode(() => run([4, 1]), 'DECODE_INVALID_INPUT', /lengths\[0\]: expected an integer in \[1, 3\]/);
        assert.doesNotThrow(() => run([1, 3]));
      });
    }
    it('the message for an utterance without frames names no fixed rate or size', () => {
      throwsCode(() => new GreedyCTCDecoder(labels).decode({ data: new Float32Array(0), shape: [0, 3] }), 'DECODE_INVALID_INPUT', /at least one frame, got none\. .*model\.receptiveField/);
      assert.throws(() => new GreedyCTCDecoder(labels).decode({ data: new Float32Array(0), shape: [0, 3] }), (e: Error) => !/400 samples|16 kHz/.test(e.message));
    });
  });
});
