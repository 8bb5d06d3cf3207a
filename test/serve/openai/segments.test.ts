/** verbose_json's segments: cut at pauses between word timings, never at fixed times. */
import assert from 'node:assert/strict';
import { segmentsOf } from '../../../lib/serve/openai/segments';
import type { Word } from '../../../lib/decode';

/** Words of 0.3 s, each `gaps[i]` seconds after the previous one ends. */
function words(gaps: number[]): Word[] {
  let t = 0.2;
  return gaps.map((g, i) => {
    const start = t + (i === 0 ? 0 : g);
    t = start + 0.3;
    return { word: `W${i}`, start, end: t, confidence: 0.5 + i / 100 };
  });
}

describe('serve/openai: segments', () => {
  it('a gap of 0.5 s or more between words starts a segment; shorter ones do not, wherever they fall', () => {
    const w = words([0, 0.1, 0.45, 0.1, 0.5, 0.05, 2, 0.2]);
    const s = segmentsOf(w);
    assert.deepEqual(s.map((x) => x.text), [' W0 W1 W2 W3', ' W4 W5', ' W6 W7']);
    assert.deepEqual(s.map((x) => [x.start, x.end]), [[w[0]!.start, w[3]!.end], [w[4]!.start, w[5]!.end], [w[6]!.start, w[7]!.end]].map((p) => p.map((v) => +v.toFixed(3))));
    assert.deepEqual(s.map((x) => x.id), [0, 1, 2]);
  });

  it('avg_logprob is the mean log of the words\' confidences; compression_ratio as Whisper computes it', () => {
    const w = words([0, 0.1]);
    const [s] = segmentsOf(w);
    assert.equal(s!.avg_logprob, +((Math.log(w[0]!.confidence) + Math.log(w[1]!.confidence)) / 2).toFixed(4));
    const repetitive = segmentsOf(Array.from({ length: 60 }, (_, i) => ({ word: 'AGAIN', start: i * 0.35, end: i * 0.35 + 0.3, confidence: 0.9 })));
    assert.ok(repetitive[0]!.compression_ratio > s!.compression_ratio, 'repeated words compress better');
  });

  it('speech without a pause is cut at a word once a segment would pass 30 s; no words, no segments', () => {
    const s = segmentsOf(words(Array.from({ length: 150 }, () => 0.1)));
    assert.ok(s.length >= 2);
    for (const x of s) assert.ok(x.end - x.start <= 30);
    assert.equal(s.map((x) => x.text).join('').trim().split(' ').length, 150);
    assert.deepEqual(segmentsOf([]), []);
  });
});
