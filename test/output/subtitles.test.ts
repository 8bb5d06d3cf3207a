/** SubRip and WebVTT from timed words. */
import assert from 'node:assert/strict';
import { cues, toSrt, toVtt } from '../../lib/output';

const w = (word: string, start: number, end: number) => ({ word, start, end, confidence: 0.9 });

describe('output: subtitles', () => {
  const words = [w('HELLO', 0.04, 0.5), w('WORLD', 0.6, 1.0), w('AGAIN', 2.5, 3.0), w('AN', 3661.2, 3661.5)];

  it('starts a new cue after a pause of a second or more, and keeps cues short', () => {
    assert.deepEqual(cues(words).map((c) => c.text), ['HELLO WORLD', 'AGAIN', 'AN']);
    const many = Array.from({ length: 30 }, (_, i) => w('WORD', i * 0.3, i * 0.3 + 0.2));
    for (const c of cues(many)) {
      assert.ok(c.text.length <= 42);
      assert.ok(c.end - c.start <= 7);
    }
  });

  it('writes SubRip', () => {
    assert.equal(toSrt(words), '1\n00:00:00,040 --> 00:00:01,000\nHELLO WORLD\n\n2\n00:00:02,500 --> 00:00:03,000\nAGAIN\n\n3\n01:01:01,200 --> 01:01:01,500\nAN\n');
  });

  it('writes WebVTT', () => {
    assert.equal(toVtt(words.slice(0, 2)), 'WEBVTT\n\n00:00:00.040 --> 00:00:01.000\nHELLO WORLD\n');
    assert.equal(toVtt([]), 'WEBVTT\n\n');
  });
});
