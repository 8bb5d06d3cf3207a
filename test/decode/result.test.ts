/** The one result shape (lib/decode/result.ts): the same fields from every decoder, times in seconds. */
import assert from 'node:assert/strict';
import { CTCBeamSearchDecoder, forcedAlign, GreedyCTCDecoder, Lexicon, tokenize, type CTCResult } from '../../lib/decode';
import { itemOf } from '../../lib/tensor';
import { throwsCode } from '../helpers/errors';
import { randomLogits, rng } from './oracle';

const L = ['-', '|', 'A', 'B'];
// A timing other than the default, so that seconds cannot come out right by accident: 400 samples at 8 kHz.
const timing = { frameStride: 400, sampleRate: 8000 };
const sec = (frame: number) => (frame * timing.frameStride) / timing.sampleRate;

/** Log-probabilities whose argmax path is `path` (label indices), each frame's best at 0.7. */
function emissionFor(path: number[]): { data: Float32Array; shape: number[] } {
  const rows = path.map((k) => L.map((_, c) => (c === k ? 0.7 : 0.1)));
  return { data: Float32Array.from(rows.flat().map(Math.log)), shape: [path.length, L.length] };
}

// - A A | B - : word "A" on frames [1, 3), "B" on [4, 5); the delimiter on [3, 4).
const PATH = [0, 2, 2, 1, 3, 0];
const WORDS = [{ word: 'A', startFrame: 1, endFrame: 3 }, { word: 'B', startFrame: 4, endFrame: 5 }];

const SHARED = ['text', 'transcript', 'words', 'indices', 'tokens'];
const WORD_FIELDS = ['word', 'start', 'end', 'confidence'];
const TOKEN_FIELDS = ['token', 'label', 'start', 'end', 'confidence'];

function decoders(frames: boolean): Array<[string, () => CTCResult]> {
  const em = emissionFor(PATH);
  return [
    ['greedy', () => new GreedyCTCDecoder(L, { ...timing, frames }).decode(em)],
    ['beam search', () => new CTCBeamSearchDecoder(L, { ...timing, frames }).decode(em)],
    ['forced alignment', () => forcedAlign(em, tokenize('a b', L), { labels: L, ...timing, frames })],
  ];
}

describe('decode/result: one shape for every decoder', () => {
  for (const [name, run] of decoders(false)) {
    it(`${name}: text, transcript, words, indices, tokens; words and tokens in seconds, no frame fields`, () => {
      const r = run();
      for (const k of SHARED) assert.ok(k in r, `${name} has ${k}`);
      assert.equal(r.text, 'A B');
      assert.equal(r.transcript, 'A|B');
      assert.deepEqual(r.indices, [2, 1, 3]);
      assert.deepEqual(r.words.map((w) => Object.keys(w).sort()), r.words.map(() => [...WORD_FIELDS].sort()));
      assert.deepEqual(r.tokens.map((t) => Object.keys(t).sort()), r.tokens.map(() => [...TOKEN_FIELDS].sort()));
      // Frame f starts at f × frameStride / sampleRate.
      assert.deepEqual(r.words.map((w) => [w.word, w.start, w.end]), WORDS.map((w) => [w.word, sec(w.startFrame), sec(w.endFrame)]));
      assert.deepEqual(r.tokens.map((t) => [t.label, t.start, t.end]), [['A', sec(1), sec(3)], ['|', sec(3), sec(4)], ['B', sec(4), sec(5)]]);
      // Each frame's label has probability 0.7 (after the softmax of log(0.7), log(0.1) × 3): so has every word.
      for (const w of r.words) assert.ok(Math.abs(w.confidence - 0.7) < 1e-6, `${w.word}: ${w.confidence}`);
    });

    it(`${name}: frames: true adds startFrame and endFrame to words and tokens, nothing else changes`, () => {
      const plain = run();
      const framed = decoders(true).find(([n]) => n === name)![1]();
      assert.deepEqual(framed.words.map((w) => [w.word, w.startFrame, w.endFrame]), WORDS.map((w) => [w.word, w.startFrame, w.endFrame]));
      assert.deepEqual(framed.tokens.map((t) => [t.startFrame, t.endFrame]), [[1, 3], [3, 4], [4, 5]]);
      assert.deepEqual(framed.words.map(({ startFrame: _s, endFrame: _e, ...w }) => w), plain.words);
      assert.deepEqual(framed.tokens.map(({ startFrame: _s, endFrame: _e, ...t }) => t), plain.tokens);
    });
  }

  it('greedy and beam search give equal words and tokens on the same emissions (no LM: the best output is the argmax path)', () => {
    const em = { data: randomLogits(rng(3), 40, L.length, 3), shape: [40, L.length] };
    const g = new GreedyCTCDecoder(L).decode(em);
    const b = new CTCBeamSearchDecoder(L, { beamSize: 1, beamSizeToken: 1 }).decode(em);
    assert.ok(g.words.length > 0);
    assert.deepEqual(b.words, g.words);
    assert.deepEqual(b.tokens, g.tokens);
    assert.deepEqual(b.indices, g.indices);
  });

  it('decodeBatch: one result per item from both decoders; beam search keeps its n-best list in alternatives', () => {
    const batch = { data: randomLogits(rng(9), 2 * 12, L.length, 2), shape: [2, 12, L.length] };
    const lengths = [12, 7];
    const greedy = new GreedyCTCDecoder(L).decodeBatch(batch, lengths);
    const beam = new CTCBeamSearchDecoder(L, { nbest: 3 }).decodeBatch(batch, lengths);
    assert.equal(greedy.length, 2);
    assert.equal(beam.length, 2);
    beam.forEach((r, b) => {
      for (const k of SHARED) assert.ok(k in greedy[b]! && k in r);
      assert.ok(r.alternatives.length <= 2);
      const list = [r, ...r.alternatives];
      for (let i = 1; i < list.length; i++) assert.ok(list[i - 1]!.score >= list[i]!.score);
      assert.equal(new Set(list.map((h) => h.indices.join(','))).size, list.length);
      for (const alt of r.alternatives) {
        assert.deepEqual(Object.keys(alt).sort(), Object.keys(r).filter((k) => k !== 'alternatives').sort());
      }
    });
    assert.deepEqual(new CTCBeamSearchDecoder(L).decode(itemOf(batch, 0)).alternatives, []);
  });

  it('itemOf(batch, i, length) is item i over its valid frames: decode(itemOf(...)) is decodeBatch(...)[i]', () => {
    const batch = { data: randomLogits(rng(4), 3 * 10, L.length, 2), shape: [3, 10, L.length] };
    const lengths = Int32Array.of(10, 4, 7);
    const dec = new GreedyCTCDecoder(L);
    const all = dec.decodeBatch(batch, lengths);
    for (let i = 0; i < 3; i++) {
      const item = itemOf(batch, i, lengths[i]);
      assert.deepEqual(item.shape, [lengths[i], L.length]);
      assert.equal(item.data.buffer, batch.data.buffer, 'a view, not a copy');
      assert.deepEqual(Array.from(item.data), Array.from(batch.data.subarray(i * 10 * L.length, (i * 10 + lengths[i]!) * L.length)));
      assert.deepEqual(dec.decode(item), all[i]);
    }
    assert.deepEqual(itemOf(batch, 2).shape, [10, L.length]);
    assert.deepEqual(itemOf({ data: new Float64Array(6), shape: [3, 2] }, 1, BigInt(1)).shape, [1]);
  });

  it('itemOf refuses what is not item i of a batch (INVALID_INPUT)', () => {
    const batch = { data: new Float32Array(2 * 3 * 4), shape: [2, 3, 4] };
    throwsCode(() => itemOf(batch, 2), 'INVALID_INPUT', /itemOf index: expected an integer in \[0, 1\], got the number 2/);
    throwsCode(() => itemOf(batch, -1), 'INVALID_INPUT', /itemOf index/);
    throwsCode(() => itemOf(batch, 0, 4), 'INVALID_INPUT', /itemOf length: expected an integer in \[0, 3\]/);
    throwsCode(() => itemOf({ data: new Float32Array(5), shape: [2, 3] }, 0), 'INVALID_INPUT', /holds 6 values but data has 5/);
    throwsCode(() => itemOf({ data: new Float32Array(3), shape: [3] }, 0), 'INVALID_INPUT', /itemOf batch/);
    throwsCode(() => itemOf([1, 2] as never, 0), 'INVALID_INPUT', /itemOf batch/);
  });

  it('the frames option is checked like every decoder option (DECODE_INVALID_INPUT)', () => {
    throwsCode(() => new GreedyCTCDecoder(L, { frames: 1 as never }), 'DECODE_INVALID_INPUT', /GreedyCTCDecoder options\.frames: expected true or false/);
    throwsCode(() => new CTCBeamSearchDecoder(L, { frames: 'yes' as never }), 'DECODE_INVALID_INPUT', /options\.frames/);
    throwsCode(() => forcedAlign(emissionFor(PATH), [2], { frames: null as never }), 'DECODE_INVALID_INPUT', /options\.frames/);
  });

  it('beam search with no surviving output gives an empty result scored -Infinity, not an empty list', () => {
    // Only "B" is possible in the first frame, and the lexicon's one word starts with "A": nothing survives.
    const data = Float32Array.from([-Infinity, -Infinity, -Infinity, 0, 0, 0, 0, 0]);
    const r = new CTCBeamSearchDecoder(L, { lexicon: Lexicon.parse('ab A B |\n') }).decode({ data, shape: [2, 4] });
    assert.deepEqual({ ...r }, { text: '', transcript: '', words: [], indices: [], tokens: [], score: -Infinity, acousticScore: -Infinity, lmScore: 0, alternatives: [] });
  });
});
