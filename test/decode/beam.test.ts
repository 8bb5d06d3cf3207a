import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CTCBeamSearchDecoder, GreedyCTCDecoder, Lexicon, NGramLanguageModel, type CTCBeamSearchResult, type CTCHypothesis, type LanguageModel } from '../../lib/decode';
import { buildArpa } from '../../scripts/build-arpa';
import { rejectsCode, throwsCode } from '../helpers/errors';
import { manifest, readF32, readI64 } from '../helpers/fixtures';
import { ctcOutputs, logSoftmax64, prefixBeamSearch, randomLogits, rng } from './oracle';

/** Exhaustive search: every option, no pruning. */
const EXACT = { beamSize: 1_000_000, beamThreshold: Infinity };

interface Expected { key: string; score: number; words: string[]; ac: number }

/** The n-best list of a result: the best, then its alternatives. */
const nbest = (r: CTCBeamSearchResult): CTCHypothesis[] => [r, ...r.alternatives];
const wordsOf = (h: CTCHypothesis): string[] => h.words.map((w) => w.word);

/**
 * Compares the decoder's n-best list with the oracle's ranking: rank by rank the scores agree, and each
 * returned hypothesis is an oracle candidate with that score (robust to near-ties in the order).
 */
function assertMatches(got: CTCHypothesis[], expected: Expected[], n: number): void {
  expected.sort((a, b) => b.score - a.score);
  assert.equal(got.length, Math.min(n, expected.length));
  const byKey = new Map<string, Expected[]>();
  for (const e of expected) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e]);
  got.forEach((h, i) => {
    assert.ok(Math.abs(h.score - expected[i]!.score) < 1e-4, `rank ${i}: score ${h.score} vs oracle ${expected[i]!.score} (${expected[i]!.key} ${expected[i]!.words})`);
    const cands = byKey.get(h.indices.join(',')) ?? [];
    const match = cands.find((e) => Math.abs(e.score - h.score) < 1e-4 && e.words.join(' ') === h.text);
    assert.ok(match, `rank ${i}: output [${h.indices}] "${h.text}" score ${h.score} is not an oracle candidate with that score`);
    assert.ok(Math.abs(h.acousticScore - match.ac) < 1e-4, `acoustic ${h.acousticScore} vs ${match.ac}`);
  });
}

/** A hand-made word bigram LM (natural-log scores) implementing the custom LM interface. */
function tableLm(table: Record<string, number>, fallback = -4): LanguageModel<string> {
  return {
    start: () => '<s>',
    score: (state, word) => ({ state: word, score: table[`${state} ${word}`] ?? table[word] ?? fallback }),
    finish: (state) => table[`${state} </s>`] ?? -1,
  };
}

function lmWords(lm: LanguageModel, words: readonly string[]): number {
  let s = lm.start();
  let total = 0;
  for (const w of words) {
    const r = lm.score(s, w);
    total += r.score;
    s = r.state;
  }
  return total + lm.finish(s);
}

describe('decode/beam: CTCBeamSearchDecoder', () => {
  describe('lexicon-free: agrees with brute-force CTC prefix probabilities', () => {
    const tokens = ['-', '|', 'A', 'B'];
    const T = 7;
    for (const logAdd of [true, false]) {
      for (const seed of [1, 2, 3]) {
        it(`logAdd=${logAdd}, seed ${seed}: n-best, scores, and silence/word scores`, () => {
          const logits = randomLogits(rng(seed), T, tokens.length);
          const lp = logSoftmax64(logits, T, tokens.length);
          const opts = { silScore: 0.3, wordScore: -0.2 };
          const dec = new CTCBeamSearchDecoder(tokens, { ...EXACT, nbest: 8, logAdd, ...opts });
          const got = nbest(dec.decode({ data: logits, shape: [T, tokens.length] }));
          const expected = [...ctcOutputs(lp, T, tokens.length, 0, logAdd).values()].map((o) => {
            const words = o.tokens.map((k) => tokens[k]).join('').split('|').filter((w) => w.length > 0);
            const sils = o.tokens.filter((k) => k === 1).length;
            return { key: o.tokens.join(','), words, ac: o.score, score: o.score + opts.silScore * sils + opts.wordScore * words.length };
          });
          assertMatches(got, expected, 8);
        });
      }
    }

    it('Viterbi mode (logAdd=false) reports the frames of the best alignment of each output', () => {
      const logits = randomLogits(rng(11), T, tokens.length);
      const outs = ctcOutputs(logSoftmax64(logits, T, tokens.length), T, tokens.length, 0, false);
      const got = nbest(new CTCBeamSearchDecoder(tokens, { ...EXACT, nbest: 6, frames: true }).decode({ data: logits, shape: [T, tokens.length] }));
      for (const h of got) {
        const o = outs.get(h.indices.join(','))!;
        assert.deepEqual(h.tokens.map((s) => s.startFrame), o.starts);
        assert.deepEqual(h.tokens.map((s) => s.endFrame), o.ends);
        assert.deepEqual(h.tokens.map((s) => s.start), o.starts.map((f) => (f * 320) / 16000));
        assert.deepEqual(h.tokens.map((s) => s.end), o.ends.map((f) => (f * 320) / 16000));
      }
    });

    it('with a word LM (custom interface) scores the words between silences', () => {
      const lm = tableLm({ 'A': -1, 'B': -2, 'AB': -0.5, 'BA': -3, '<s> B': -0.2, 'A B': -0.3, 'AB </s>': -0.1 });
      for (const logAdd of [true, false]) {
        const logits = randomLogits(rng(5), T, tokens.length);
        const lp = logSoftmax64(logits, T, tokens.length);
        const opts = { lmWeight: 0.7, wordScore: 0.4 };
        const got = nbest(new CTCBeamSearchDecoder(tokens, { ...EXACT, nbest: 6, logAdd, lm, ...opts }).decode({ data: logits, shape: [T, tokens.length] }));
        const expected = [...ctcOutputs(lp, T, tokens.length, 0, logAdd).values()].map((o) => {
          const words = o.tokens.map((k) => tokens[k]).join('').split('|').filter((w) => w.length > 0);
          return { key: o.tokens.join(','), words, ac: o.score, score: o.score + opts.lmWeight * lmWords(lm, words) + opts.wordScore * words.length };
        });
        assertMatches(got, expected, 6);
        got.forEach((h) => assert.ok(Math.abs(h.lmScore - lmWords(lm, wordsOf(h))) < 1e-9));
      }
    });

    it("with a token LM (lmUnit 'token') scores every token, as flashlight's lexicon-free decoder", () => {
      const lm = tableLm({ 'A': -1.5, 'B': -0.5, '|': -1, 'A B': -0.1, 'B |': -0.2, '| A': -0.3 }, -2);
      const logits = randomLogits(rng(6), T, tokens.length);
      const lp = logSoftmax64(logits, T, tokens.length);
      const got = nbest(new CTCBeamSearchDecoder(tokens, { ...EXACT, nbest: 6, lm, lmUnit: 'token', lmWeight: 1.3 }).decode({ data: logits, shape: [T, tokens.length] }));
      const expected = [...ctcOutputs(lp, T, tokens.length, 0, false).values()].map((o) => {
        const words = o.tokens.map((k) => tokens[k]).join('').split('|').filter((w) => w.length > 0);
        return { key: o.tokens.join(','), words, ac: o.score, score: o.score + 1.3 * lmWords(lm, o.tokens.map((k) => tokens[k]!)) };
      });
      assertMatches(got, expected, 6);
    });

    it('hotwords add their weight per complete occurrence', () => {
      const logits = randomLogits(rng(8), T, tokens.length);
      const lp = logSoftmax64(logits, T, tokens.length);
      const got = nbest(new CTCBeamSearchDecoder(tokens, { ...EXACT, nbest: 6, hotwords: { words: ['ab'], weight: 2.5 } }).decode({ data: logits, shape: [T, tokens.length] }));
      const expected = [...ctcOutputs(lp, T, tokens.length, 0, false).values()].map((o) => {
        const words = o.tokens.map((k) => tokens[k]).join('').split('|').filter((w) => w.length > 0);
        return { key: o.tokens.join(','), words, ac: o.score, score: o.score + 2.5 * words.filter((w) => w === 'AB').length };
      });
      assertMatches(got, expected, 6);
    });

    it('a pruned search never reports more than the exact score of its output', () => {
      for (const seed of [21, 22, 23]) {
        const logits = randomLogits(rng(seed), T, tokens.length);
        const lp = logSoftmax64(logits, T, tokens.length);
        for (const logAdd of [true, false]) {
          const outs = ctcOutputs(lp, T, tokens.length, 0, logAdd);
          for (const opts of [{ beamSize: 2 }, { beamSize: 4, beamSizeToken: 2 }, { beamSize: 50, beamThreshold: 1 }]) {
            const got = nbest(new CTCBeamSearchDecoder(tokens, { ...opts, logAdd, nbest: 3 }).decode({ data: logits, shape: [T, tokens.length] }));
            assert.ok(got.length >= 1);
            for (const h of got) assert.ok(h.acousticScore <= outs.get(h.indices.join(','))!.score + 1e-5);
          }
        }
      }
    });
  });

  describe('with a lexicon and an n-gram LM: agrees with a brute-force parse of every output', () => {
    const tokens = ['-', '|', 'A', 'B', 'C'];
    const T = 7;
    const lmText = [['a', 'b'], ['ab', 'ba'], ['cab', 'a'], ['c', 'ab'], ['ba', 'c', 'a']];
    const lm = NGramLanguageModel.fromArpa(buildArpa(lmText, 2).arpa);

    /** All segmentations of a token string into silences, lexicon words and (optionally) unknown words. */
    function parses(y: string, spell: Map<string, string[]>, unkPrefixes: Set<string>, sil: string | null): Array<{ words: string[]; sils: number; unks: number }> {
      const out: Array<{ words: string[]; sils: number; unks: number }> = [];
      const go = (i: number, words: string[], sils: number, unks: number): void => {
        if (i === y.length) { out.push({ words, sils, unks }); return; }
        if (sil !== null && y[i] === sil) go(i + 1, words, sils + 1, unks);
        for (const [w, spellings] of spell) {
          for (const s of spellings) if (y.startsWith(s, i)) go(i + s.length, [...words, w], sils, unks);
        }
        for (const p of unkPrefixes) if (y.startsWith(p, i)) go(i + p.length, [...words, '<unk>'], sils, unks + 1);
      };
      go(0, [], 0, 0);
      return out;
    }

    function expectedFor(lp: Float64Array, logAdd: boolean, spell: Map<string, string[]>, o: { lmWeight: number; wordScore: number; silScore: number; unkScore?: number; hot?: { words: string[]; weight: number } }, unkPrefixes = new Set<string>()): Expected[] {
      const list: Expected[] = [];
      for (const out of ctcOutputs(lp, T, tokens.length, 0, logAdd).values()) {
        const y = out.tokens.map((k) => tokens[k]).join('');
        for (const p of parses(y, spell, unkPrefixes, '|')) {
          const hot = o.hot ? o.hot.weight * p.words.filter((w) => o.hot!.words.includes(w)).length : 0;
          const score = out.score + o.lmWeight * lm.sentenceLogProb(p.words) + o.wordScore * (p.words.length - p.unks) + o.silScore * p.sils + (o.unkScore ?? 0) * p.unks + hot;
          list.push({ key: out.tokens.join(','), words: p.words, ac: out.score, score });
        }
      }
      return list;
    }

    const spellingsWithSil = new Map([['a', ['A|']], ['ab', ['AB|']], ['b', ['B|']], ['ba', ['BA|']], ['c', ['C|']], ['cab', ['CAB|']]]);
    const lexWithSil = Lexicon.parse('a A |\nab A B |\nb B |\nba B A |\nc C |\ncab C A B |\n');

    for (const logAdd of [true, false]) {
      for (const seed of [31, 32]) {
        it(`spellings ending in '|', logAdd=${logAdd}, seed ${seed}`, () => {
          const logits = randomLogits(rng(seed), T, tokens.length);
          const lp = logSoftmax64(logits, T, tokens.length);
          const o = { lmWeight: 0.8, wordScore: 0.5, silScore: -0.25 };
          const got = nbest(new CTCBeamSearchDecoder(tokens, { ...EXACT, ...o, nbest: 6, logAdd, lexicon: lexWithSil, lm }).decode({ data: logits, shape: [T, tokens.length] }));
          assertMatches(got, expectedFor(lp, logAdd, spellingsWithSil, o), 6);
          for (const h of got) assert.ok(Math.abs(h.lmScore - lm.sentenceLogProb(wordsOf(h))) < 1e-9);
        });
      }
    }

    it('spellings without silence: words may follow each other directly, and segmentations compete', () => {
      const lex = Lexicon.from({ a: ['A'], ab: ['A', 'B'], b: ['B'], ba: ['B', 'A'], cab: ['C', 'A', 'B'] });
      const spell = new Map([['a', ['A']], ['ab', ['AB']], ['b', ['B']], ['ba', ['BA']], ['cab', ['CAB']]]);
      const logits = randomLogits(rng(40), T, tokens.length);
      const lp = logSoftmax64(logits, T, tokens.length);
      const o = { lmWeight: 0.5, wordScore: 0.1, silScore: 0 };
      const got = nbest(new CTCBeamSearchDecoder(tokens, { ...EXACT, ...o, nbest: 8, lexicon: lex, lm }).decode({ data: logits, shape: [T, tokens.length] }));
      assertMatches(got, expectedFor(lp, false, spell, o), 8);
    });

    it('unknown words: partial spellings committed as <unk> with unkScore', () => {
      const logits = randomLogits(rng(41), T, tokens.length);
      const lp = logSoftmax64(logits, T, tokens.length);
      const o = { lmWeight: 0.6, wordScore: 0, silScore: 0, unkScore: -1.5 };
      // Trie nodes that end no word: prefixes of spellings that are not spellings themselves.
      const unk = new Set(['A', 'AB', 'B', 'BA', 'C', 'CA', 'CAB']);
      const got = nbest(new CTCBeamSearchDecoder(tokens, { ...EXACT, ...o, nbest: 8, lexicon: lexWithSil, lm }).decode({ data: logits, shape: [T, tokens.length] }));
      assertMatches(got, expectedFor(lp, false, spellingsWithSil, o, unk), 8);
    });

    it('hotwords: a complete lexicon hotword adds its weight; one missing from the lexicon is added to it', () => {
      const logits = randomLogits(rng(42), T, tokens.length);
      const lp = logSoftmax64(logits, T, tokens.length);
      const o = { lmWeight: 0.5, wordScore: 0, silScore: 0, hot: { words: ['ba', 'cc'], weight: 1.7 } };
      const spell = new Map([...spellingsWithSil, ['cc', ['CC|']]]);
      const got = nbest(new CTCBeamSearchDecoder(tokens, { ...EXACT, ...o, hotwords: o.hot, nbest: 8, lexicon: lexWithSil, lm }).decode({ data: logits, shape: [T, tokens.length] }));
      assertMatches(got, expectedFor(lp, false, spell, o), 8);
    });

    it('word spans leave out the silence that closes a spelling', () => {
      // Logits for A A | - B A | : "a" then "ba".
      const A = [2, 0, 8, 0, 0];
      const B = [2, 0, 0, 8, 0];
      const S = [2, 8, 0, 0, 0];
      const blank = [8, 0, 0, 0, 0];
      const data = Float32Array.from([A, A, S, blank, B, A, S].flat());
      const h = new CTCBeamSearchDecoder(tokens, { lexicon: lexWithSil, frames: true }).decode({ data, shape: [7, 5] });
      assert.deepEqual(wordsOf(h), ['a', 'ba']);
      assert.equal(h.transcript, 'A|BA|');
      assert.deepEqual(h.words.map((w) => [w.word, w.startFrame, w.endFrame]), [['a', 0, 2], ['ba', 4, 6]]);
      assert.deepEqual(h.words.map((w) => [w.start, w.end]), [[0, (2 * 320) / 16000], [(4 * 320) / 16000, (6 * 320) / 16000]]);
    });
  });

  it('a hotword turns a close call its way', () => {
    // "B" then A (0.40) vs C (0.45): without hotwords "BC", with the hotword "ba" the output is "BA".
    const tokens = ['-', '|', 'A', 'B', 'C'];
    const rows = [[0.05, 0.05, 0.05, 0.8, 0.05], [0.05, 0.05, 0.4, 0.05, 0.45], [0.05, 0.8, 0.05, 0.05, 0.05]];
    const em = { data: Float32Array.from(rows.flat().map(Math.log)), shape: [3, 5] };
    assert.equal(new CTCBeamSearchDecoder(tokens).decode(em).transcript, 'BC|');
    assert.equal(new CTCBeamSearchDecoder(tokens, { hotwords: ['ba'] }).decode(em).transcript, 'BA|');
    assert.equal(new CTCBeamSearchDecoder(tokens, { hotwords: { words: ['ba'], weight: 0.05 } }).decode(em).transcript, 'BC|');
  });

  describe('on the reference emissions', () => {
    // Without an LM and with logAdd=false the best output is the one of the best single path, which is
    // the argmax path: the beam search must find the greedy transcript recorded with torchaudio.
    for (const name of ['ta_tiny_base', 'ta_tiny_lv60k']) {
      it(`${name}: beam 50 finds the recorded greedy transcripts (single and batch with lengths)`, () => {
        const model = manifest.models[name];
        const dec = new CTCBeamSearchDecoder(manifest.labels, { beamSize: 50 });
        const e = model.cases.single_forward.outputs.emissions;
        const h = dec.decode({ data: readF32(e.file), shape: e.shape });
        assert.equal(h.transcript, model.greedy_ctc.single.transcript);
        const g = new GreedyCTCDecoder(manifest.labels).decode({ data: readF32(e.file), shape: e.shape });
        assert.ok(Math.abs(h.acousticScore - g.logProb) < 1e-3);
        assert.deepEqual(h.tokens.map((t) => [t.start, t.end]), g.tokens.map((t) => [t.start, t.end]));
        assert.deepEqual(h.words, g.words);

        const c = model.cases.batch_forward;
        const batch = dec.decodeBatch({ data: readF32(c.outputs.emissions.file), shape: c.outputs.emissions.shape }, readI64(c.outputs.lengths.file));
        batch.forEach((r, b) => assert.equal(r.transcript, model.greedy_ctc[`batch[${b}]`].transcript));
      });
    }
  });

  it('long emissions: agrees with a textbook prefix beam search, pruning included', () => {
    // Outputs leave the beam and come back (a prefix pruned while its extension lives on, then produced
    // again): each must still be one hypothesis, merged with the one already in the beam.
    const tokens = ['-', '|', 'A', 'B', 'C'];
    const frames = 300;
    for (const [seed, logAdd] of [[90, true], [91, false], [92, true]] as const) {
      const logits = randomLogits(rng(seed), frames, tokens.length, 1.5);
      const lp = Float32Array.from(logSoftmax64(logits, frames, tokens.length));
      const want = prefixBeamSearch(lp, frames, tokens.length, 0, 16, logAdd);
      const got = nbest(new CTCBeamSearchDecoder(tokens, { beamSize: 16, nbest: 16, logAdd, beamThreshold: Infinity, logSoftmax: false }).decode({ data: lp, shape: [frames, tokens.length] }));
      assert.equal(got.length, want.length);
      got.forEach((h, i) => {
        assert.equal(h.indices.join(','), want[i]!.tokens.join(','), `rank ${i}`);
        assert.ok(Math.abs(h.score - want[i]!.score) < 1e-6, `rank ${i}: ${h.score} vs ${want[i]!.score}`);
      });
    }
  });

  it('long emissions: the n-best outputs stay distinct and sorted (an output re-entering the beam merges)', () => {
    const tokens = ['-', '|', 'A', 'B', 'C'];
    const frames = 400;
    const em = { data: randomLogits(rng(77), frames, tokens.length, 1.5), shape: [frames, tokens.length] };
    for (const logAdd of [true, false]) {
      const hyps = nbest(new CTCBeamSearchDecoder(tokens, { beamSize: 30, nbest: 30, logAdd }).decode(em));
      assert.equal(hyps.length, 30);
      assert.equal(new Set(hyps.map((h) => h.indices.join(','))).size, hyps.length);
      for (let i = 1; i < hyps.length; i++) assert.ok(hyps[i - 1]!.score >= hyps[i]!.score);
      for (const h of hyps) assert.equal(h.tokens.length, h.indices.length);
    }
  });

  it('logSoftmax: false uses the emissions as given (flashlight), the default normalises each frame', () => {
    const model = manifest.models.ta_tiny_base;
    const e = model.cases.single_forward.outputs.emissions;
    const em = { data: readF32(e.file), shape: e.shape };
    const raw = new CTCBeamSearchDecoder(manifest.labels, { logSoftmax: false }).decode(em);
    // The best path is the argmax path either way; unnormalised, its score is the sum of the max logits.
    let sumMax = 0;
    for (let t = 0; t < e.shape[1]; t++) sumMax += Math.max(...em.data.subarray(t * 29, t * 29 + 29));
    assert.equal(raw.transcript, model.greedy_ctc.single.transcript);
    assert.ok(Math.abs(raw.acousticScore - sumMax) < 1e-3, `${raw.acousticScore} vs ${sumMax}`);
    const logProbs = Float32Array.from(logSoftmax64(em.data, e.shape[1], 29));
    const a = new CTCBeamSearchDecoder(manifest.labels, { logSoftmax: false, nbest: 1 }).decode({ data: logProbs, shape: e.shape });
    const b = new CTCBeamSearchDecoder(manifest.labels, { nbest: 1 }).decode(em);
    assert.ok(Math.abs(a.score - b.score) < 1e-3);
  });

  describe('options from files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'w2v-beam-'));
    it('tokens, lexicon and ARPA paths give the same result as the objects', () => {
      const tokens = ['-', '|', 'A', 'B', 'C'];
      writeFileSync(join(dir, 'tokens.txt'), tokens.join('\n') + '\n');
      writeFileSync(join(dir, 'lexicon.txt'), 'a A |\nab A B |\nb B |\n');
      writeFileSync(join(dir, 'lm.arpa'), buildArpa([['a', 'b'], ['ab']], 2).arpa);
      const em = { data: randomLogits(rng(3), 12, 5), shape: [12, 5] };
      const fromFiles = nbest(new CTCBeamSearchDecoder(join(dir, 'tokens.txt'), { lexicon: join(dir, 'lexicon.txt'), lm: join(dir, 'lm.arpa'), nbest: 3 }).decode(em));
      const fromObjects = nbest(new CTCBeamSearchDecoder(tokens, {
        lexicon: Lexicon.parse('a A |\nab A B |\nb B |\n'), lm: NGramLanguageModel.fromArpa(buildArpa([['a', 'b'], ['ab']], 2).arpa), nbest: 3,
      }).decode(em));
      assert.deepEqual(fromFiles.map((h) => [wordsOf(h), h.score]), fromObjects.map((h) => [wordsOf(h), h.score]));
    });
    it('Lexicon.load reads the same entries as Lexicon.parse; a tokens file may list aliases', async () => {
      writeFileSync(join(dir, 'words.lex'), '# comment\nab A B |\n\nab A A B |\nb B |\n');
      const lex = await Lexicon.load(join(dir, 'words.lex'));
      assert.deepEqual(lex.entries.map((e) => [e.word, e.spelling.join(' '), e.line]), [['ab', 'A B |', 2], ['ab', 'A A B |', 4], ['b', 'B |', 5]]);
      assert.equal(lex.size, 2);
      writeFileSync(join(dir, 'alias-tokens.txt'), '-\n| <space>\nA a\nB b\n');
      const dec = new CTCBeamSearchDecoder(join(dir, 'alias-tokens.txt'), { lexicon: Lexicon.parse('ab a b <space>\n') });
      assert.deepEqual(dec.tokens, ['-', '|', 'A', 'B']);
      await rejectsCode(Lexicon.load(join(dir, 'missing.lex')), 'LEXICON_INVALID', /Cannot read the lexicon .*missing\.lex/);
    });
    it('a file that cannot be read gives the code of what it holds, in one message shape (docs/decode.md, Errors)', async () => {
      const tokens = ['-', '|', 'A', 'B', 'C'];
      const missing = (name: string): string => join(dir, name);
      const shape = (what: string, name: string): RegExp => new RegExp(`^Cannot read the ${what} .*${name.replace('.', '\\.')}: ENOENT: .*\\.$`);
      throwsCode(() => new CTCBeamSearchDecoder(missing('none.tokens')), 'DECODE_INVALID_INPUT', shape('tokens file', 'none.tokens'));
      throwsCode(() => new CTCBeamSearchDecoder(tokens, { lexicon: missing('none.lex') }), 'LEXICON_INVALID', shape('lexicon', 'none.lex'));
      throwsCode(() => new CTCBeamSearchDecoder(tokens, { lm: missing('none.arpa') }), 'LM_INVALID', shape('language model', 'none.arpa'));
      throwsCode(() => new CTCBeamSearchDecoder(tokens, { lm: missing('none.arpa.gz') }), 'LM_INVALID', shape('language model', 'none.arpa.gz'));
      throwsCode(() => Lexicon.loadSync(missing('none.lex')), 'LEXICON_INVALID', shape('lexicon', 'none.lex'));
      await rejectsCode(Lexicon.load(missing('none.lex')), 'LEXICON_INVALID', shape('lexicon', 'none.lex'));
      // A directory, and a tokens file that reads but holds no tokens: the same code as unreadable.
      throwsCode(() => new CTCBeamSearchDecoder(dir), 'DECODE_INVALID_INPUT', /Cannot read the tokens file .*EISDIR/);
      writeFileSync(join(dir, 'empty.tokens'), '\n\n');
      throwsCode(() => new CTCBeamSearchDecoder(join(dir, 'empty.tokens')), 'DECODE_INVALID_INPUT', /tokens \(.*empty\.tokens\): expected a non-empty array/);
    });
  });

  describe('bad calls', () => {
    const tokens = ['-', '|', 'A', 'B'];
    it('a lexicon spelling with a token the model does not have', () => {
      throwsCode(() => new CTCBeamSearchDecoder(tokens, { lexicon: Lexicon.parse('ab A B |\nbad A X |\n', 'words.lex') }), 'LEXICON_INVALID', /words\.lex, line 2.*"X"/);
      throwsCode(() => new CTCBeamSearchDecoder(tokens, { lexicon: Lexicon.parse('ab A - B\n') }), 'LEXICON_INVALID', /blank/);
      throwsCode(() => Lexicon.parse('ab\n'), 'LEXICON_INVALID', /no spelling/);
      throwsCode(() => Lexicon.from({ ab: [] }), 'LEXICON_INVALID');
      throwsCode(() => new CTCBeamSearchDecoder(tokens, { lexicon: '/nonexistent/lexicon.txt' }), 'LEXICON_INVALID', /Cannot read/);
      throwsCode(() => new CTCBeamSearchDecoder(tokens, { lexicon: 42 as never }), 'LEXICON_INVALID');
    });
    it('tokens and special tokens', () => {
      throwsCode(() => new CTCBeamSearchDecoder(['-', 'A', 'A']), 'DECODE_INVALID_INPUT', /distinct/);
      throwsCode(() => new CTCBeamSearchDecoder(tokens, { blankToken: '<pad>' }), 'DECODE_INVALID_INPUT', /blankToken/);
      throwsCode(() => new CTCBeamSearchDecoder(tokens, { silToken: ' ' }), 'DECODE_INVALID_INPUT', /silToken/);
      throwsCode(() => new CTCBeamSearchDecoder(tokens, { silToken: '-' }), 'DECODE_INVALID_INPUT', /silToken/);
    });
    it('numeric options', () => {
      throwsCode(() => new CTCBeamSearchDecoder(tokens, { beamSize: 0 }), 'DECODE_INVALID_INPUT', /beamSize/);
      throwsCode(() => new CTCBeamSearchDecoder(tokens, { nbest: 1.5 }), 'DECODE_INVALID_INPUT', /nbest/);
      throwsCode(() => new CTCBeamSearchDecoder(tokens, { lmWeight: NaN }), 'DECODE_INVALID_INPUT', /lmWeight/);
      throwsCode(() => new CTCBeamSearchDecoder(tokens, { beamThreshold: 0 }), 'DECODE_INVALID_INPUT', /beamThreshold/);
      throwsCode(() => new CTCBeamSearchDecoder(tokens, { wordScore: -Infinity }), 'DECODE_INVALID_INPUT', /wordScore/);
      throwsCode(() => new CTCBeamSearchDecoder(tokens, { lmUnit: 'char' as never }), 'DECODE_INVALID_INPUT', /lmUnit/);
    });
    it('language models that are not one, or that return nonsense', () => {
      throwsCode(() => new CTCBeamSearchDecoder(tokens, { lm: { score: () => 0 } as never }), 'LM_INVALID');
      const bad: LanguageModel = { start: () => 0, score: () => ({ state: 0, score: NaN }), finish: () => 0 };
      const dec = new CTCBeamSearchDecoder(tokens, { lm: bad });
      throwsCode(() => dec.decode({ data: Float32Array.of(0, 0, 5, 0, 0, 5, 0, 0), shape: [2, 4] }), 'LM_INVALID', /NaN/);
    });
    it('hotwords that cannot be spelled', () => {
      throwsCode(() => new CTCBeamSearchDecoder(tokens, { hotwords: ['abc'] }), 'DECODE_INVALID_INPUT', /hotword/);
      throwsCode(() => new CTCBeamSearchDecoder(tokens, { hotwords: { words: ['ab'], weight: NaN } }), 'DECODE_INVALID_INPUT', /weight/);
    });
    it('emissions that do not fit the tokens, NaN, empty', () => {
      const dec = new CTCBeamSearchDecoder(tokens);
      throwsCode(() => dec.decode({ data: new Float32Array(6), shape: [2, 3] }), 'DECODE_INVALID_INPUT', /expected 4 classes/);
      throwsCode(() => dec.decode({ data: Float32Array.of(0, NaN, 0, 0), shape: [1, 4] }), 'DECODE_INVALID_INPUT', /NaN/);
      throwsCode(() => dec.decode({ data: new Float32Array(0), shape: [0, 4] }), 'DECODE_INVALID_INPUT', /at least one frame/);
      throwsCode(() => dec.decodeBatch({ data: new Float32Array(8), shape: [2, 1, 4] }, [1]), 'DECODE_INVALID_INPUT', /2 lengths/);
    });
  });
});
