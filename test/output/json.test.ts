/** The one writer of words and transcript records (lib/output/json.ts). */
import assert from 'node:assert/strict';
import { transcriptJson, wordJson, wordsJson } from '../../lib/output';

describe('output: words and transcript records as JSON', () => {
  // 3 frames of 20 ms: 3 × 0.02 is 0.06000000000000001 in float64.
  const w = { word: 'HELLO', start: 3 * 0.02, end: 17 * 0.02, confidence: 0.123456 };

  it('writes { word, start, end, confidence }: seconds to the millisecond, confidence to 4 decimals', () => {
    assert.deepEqual(wordJson(w), { word: 'HELLO', start: 0.06, end: 0.34, confidence: 0.1235 });
    assert.deepEqual(Object.keys(wordJson(w)), ['word', 'start', 'end', 'confidence']);
  });

  it('moves a piece\'s words to file or stream time by an offset in seconds', () => {
    assert.deepEqual(wordsJson([w], 1.5).map((x) => [x.start, x.end]), [[1.56, 1.84]]);
  });

  it('keeps frame indices when the decoder was asked for them, and adds none otherwise', () => {
    assert.deepEqual(wordJson({ ...w, startFrame: 3, endFrame: 17 }), { word: 'HELLO', start: 0.06, end: 0.34, confidence: 0.1235, startFrame: 3, endFrame: 17 });
    assert.ok(!('startFrame' in wordJson(w)));
  });

  it('a transcript record is { text, duration, words? }: words only when the clip has them', () => {
    assert.deepEqual(transcriptJson({ text: 'HELLO', duration: 2.2000000000000002, words: [w] }), { text: 'HELLO', duration: 2.2, words: [wordJson(w)] });
    assert.deepEqual(transcriptJson({ text: '', duration: 0.5 }), { text: '', duration: 0.5 });
  });
});
