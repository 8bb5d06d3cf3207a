import { readFileSync } from 'node:fs';
import { invalid } from '../errors';
import { isFiniteNumber, isObject, isPositiveInteger } from '../is';
import { checkBatch, checkEmission, checkLabels, logSoftmax, rowLogSumExp, type Frames } from './emission';
import * as prefixes from './beam-prefixes';
import { cannotRead } from './files';
import type { PrefixNode } from './beam-prefixes';
import { checkHotwords, HotwordBooster, type HotNode, type Hotwords } from './hotwords';
import { Lexicon, LexiconTrie, spellWord, type TrieNode } from './lexicon';
import { checkLmScore, isLanguageModel, NGramLanguageModel, type LanguageModel } from './lm';
import type { CTCResult } from './result';
import {
  checkFramesOption, checkTimeBase, groupByDelimiter, tokenSpans, withoutFrames, wordSpans,
  type TimeBase, type WordGroup,
} from './timestamps';


// Local bindings: esbuild (tsx) compiles imports to getter calls, too slow inside the search loop.
const { Candidates, logAddExp, mergeN, PLAIN, SILENCE, UNK, WORD } = prefixes;
const Prefix = prefixes.PrefixNode;
/**
 * CTC prefix beam search with an optional lexicon, language model and hotwords: the search of
 * torchaudio's `ctc_decoder` (flashlight's LexiconDecoder / LexiconFreeDecoder) with its options, written
 * as a prefix search so that hypotheses are distinct outputs and scores are exact CTC prefix scores.
 *
 * How it differs from flashlight, on purpose:
 * - Emissions are log-softmaxed per frame first (`logSoftmax: true`, the default) so that acoustic scores
 *   are log-probabilities that add up meaningfully with LM log-probabilities and thresholds; set it to
 *   false to use emissions as given like flashlight does.
 * - A hypothesis is an output (token sequence + word segmentation), kept as two CTC states (ending in
 *   blank / ending in its last token). `logAdd: true` sums paths into a state (the score is then the
 *   log-probability of the output), false keeps the best path (Viterbi), like flashlight's log_add.
 *   `beamSize` counts outputs, and the n-best list never repeats an output.
 *   Flashlight also merges different word sequences that reach the same LM state; we do not, so the
 *   n-best list holds real alternatives.
 * - LM scores are natural logs (see lm.ts); `silScore` is added once per emitted silence token, not per
 *   frame, so that every score term belongs to the output, not to one alignment.
 * - `beamSizeToken` limits the new tokens tried per frame; staying (blank, or repeating the last token)
 *   is always tried. Without a lexicon, `wordScore` is added per word between silences (pyctcdecode's
 *   beta), and a word LM scores those words (pyctcdecode's behaviour; `lmUnit: 'token'` gives flashlight's).
 * - An output already in the beam is found by a hash of its event sequence, confirmed exactly by walking
 *   back to the common ancestor, so every way into an output merges into one hypothesis, even when one of
 *   its prefixes was pruned and produced again. Nodes off the beam's ancestry are left to the GC.
 */

export interface CTCBeamSearchDecoderOptions {
  /** Lexicon (object, or path of a `word token token ...` file); omitted or null: lexicon-free decoding. */
  lexicon?: Lexicon | string | null;
  /** Language model: an `NGramLanguageModel`, an ARPA path (loaded synchronously), or a custom LM. */
  lm?: LanguageModel | string | null;
  /**
   * Lexicon-free decoding only: 'word' (default) scores the words between silence tokens with the LM (as
   * pyctcdecode does); 'token' scores every token label (flashlight's lexicon-free decoder with a token LM).
   */
  lmUnit?: 'word' | 'token';
  /** Hypotheses returned: the best, and `nbest - 1` alternatives at most (default 1). */
  nbest?: number;
  /** Hypotheses kept after each frame (default 50). */
  beamSize?: number;
  /** New tokens tried per frame, the most likely first (default: all). */
  beamSizeToken?: number;
  /** Hypotheses scoring more than this below the best are dropped (default 50). */
  beamThreshold?: number;
  /** Weight of the LM log-probabilities (natural log; default 2/ln 10, torchaudio's 2 on its log10 scale). */
  lmWeight?: number;
  /** Added per word (default 0). */
  wordScore?: number;
  /** Added per unknown word, a partial spelling committed as `unkWord` (default -Infinity: never). */
  unkScore?: number;
  /** Added per silence token emitted (default 0). */
  silScore?: number;
  /** Sum alignment probabilities (true) or keep the best alignment (false, default), per hypothesis. */
  logAdd?: boolean;
  /** Blank token (default '-'). */
  blankToken?: string;
  /** Silence / word-delimiter token (default '|'; null: none). */
  silToken?: string | null;
  /** Word reported for unknown words (default '<unk>'). */
  unkWord?: string;
  /** Words to boost (pyctcdecode's hotwords). */
  hotwords?: Hotwords | readonly string[];
  /** Log-softmax each frame before searching (default true). */
  logSoftmax?: boolean;
  frameStride?: number;
  sampleRate?: number;
  /** Give words and tokens their frame indices, `startFrame` and `endFrame` (default false: seconds only). */
  frames?: boolean;
}

/**
 * One output of the search, in the shared shape (result.ts): words are lexicon words (with a lexicon) or the runs
 * between silences (without); tokens are timed on the best alignment into the output's final state.
 */
export interface CTCHypothesis extends CTCResult {
  /** Total score: acoustic + lmWeight * LM + word, silence, unknown-word and hotword scores. */
  score: number;
  /** Log-probability of the emissions for this output (all paths with logAdd, the best path without). */
  acousticScore: number;
  /** LM log-probability of the words (natural log, unweighted, with the sentence end). */
  lmScore: number;
}

/** What `decode` returns: the best hypothesis, with the rest of the n-best list. */
export interface CTCBeamSearchResult extends CTCHypothesis {
  /**
   * The next best outputs, best first: `[result, ...result.alternatives]` is the n-best list (at most `nbest`
   * outputs, never one twice). Empty with the default `nbest` of 1.
   */
  alternatives: CTCHypothesis[];
}

/**
 * Reads a torchaudio tokens file: one token per line; several on a line are aliases of one index. Unreadable or
 * malformed, it is a bad decoder argument: DECODE_INVALID_INPUT (see files.ts).
 */
function readTokens(path: string): { labels: string[]; aliases: Array<[string, number]> } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw cannotRead('DECODE_INVALID_INPUT', 'tokens file', path, err);
  }
  const labels: string[] = [];
  const aliases: Array<[string, number]> = [];
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/).filter((p) => p.length > 0);
    if (parts.length === 0) continue;
    for (const p of parts.slice(1)) aliases.push([p, labels.length]);
    labels.push(parts[0]!);
  }
  return { labels, aliases };
}

export class CTCBeamSearchDecoder {
  readonly tokens: readonly string[];
  readonly blank: number;
  /** Silence / word delimiter index, -1 if none. */
  readonly silence: number;
  readonly lexicon: LexiconTrie | null;
  readonly lm: LanguageModel | null;
  readonly timeBase: TimeBase;
  /** Whether results carry frame indices (the `frames` option). */
  readonly frames: boolean;
  readonly options: Readonly<{
    nbest: number; beamSize: number; beamSizeToken: number; beamThreshold: number; lmWeight: number;
    wordScore: number; unkScore: number; silScore: number; logAdd: boolean; logSoftmax: boolean;
    unkWord: string; lmUnit: 'word' | 'token';
  }>;
  private readonly hot: HotwordBooster | null;
  private readonly ngram: NGramLanguageModel | null;
  /** LM word id per lexicon word id (n-gram fast path). */
  private readonly lmIds: Int32Array | null;
  private readonly unkLmId: number;
  private readonly tokenLmIds: Int32Array | null;
  private lmNext: unknown = null;

  constructor(tokens: readonly string[] | string, options: CTCBeamSearchDecoderOptions = {}) {
    const where = 'CTCBeamSearchDecoder';
    if (!isObject(options)) throw invalid('DECODE_INVALID_INPUT', `${where} options`, 'an object', options);
    const tokenIndex = new Map<string, number>();
    if (typeof tokens === 'string') {
      const read = readTokens(tokens);
      this.tokens = checkLabels(read.labels, `${where} tokens (${tokens})`, true);
      this.tokens.forEach((t, i) => tokenIndex.set(t, i));
      for (const [a, i] of read.aliases) if (!tokenIndex.has(a)) tokenIndex.set(a, i);
    } else {
      this.tokens = checkLabels(tokens, `${where} tokens`, true).slice();
      this.tokens.forEach((t, i) => tokenIndex.set(t, i));
    }
    const o = options;
    const int = (v: unknown, def: number, what: string): number => {
      if (v === undefined) return def;
      if (!isPositiveInteger(v)) throw invalid('DECODE_INVALID_INPUT', `${where} options.${what}`, 'a positive integer', v);
      return v;
    };
    const num = (v: unknown, def: number, what: string, allowNegInf = false): number => {
      if (v === undefined) return def;
      if (!(isFiniteNumber(v) || (allowNegInf && v === -Infinity))) throw invalid('DECODE_INVALID_INPUT', `${where} options.${what}`, allowNegInf ? 'a number (or -Infinity)' : 'a finite number', v);
      return v as number;
    };
    const blankToken = o.blankToken ?? '-';
    const blank = tokenIndex.get(blankToken as string);
    if (typeof blankToken !== 'string' || blank === undefined) throw invalid('DECODE_INVALID_INPUT', `${where} options.blankToken`, 'one of the tokens', blankToken);
    this.blank = blank;
    if (o.silToken === null) this.silence = -1;
    else if (o.silToken === undefined) this.silence = tokenIndex.get('|') ?? -1;
    else {
      const s = typeof o.silToken === 'string' ? tokenIndex.get(o.silToken) : undefined;
      if (s === undefined) throw invalid('DECODE_INVALID_INPUT', `${where} options.silToken`, 'one of the tokens or null', o.silToken);
      this.silence = s;
    }
    if (this.silence === this.blank) throw invalid('DECODE_INVALID_INPUT', `${where} options.silToken`, 'a token other than the blank', o.silToken);
    const beamThreshold = o.beamThreshold === Infinity ? Infinity : num(o.beamThreshold, 50, 'beamThreshold');
    if (!(beamThreshold > 0)) throw invalid('DECODE_INVALID_INPUT', `${where} options.beamThreshold`, 'a positive number', o.beamThreshold);
    if (o.logAdd !== undefined && typeof o.logAdd !== 'boolean') throw invalid('DECODE_INVALID_INPUT', `${where} options.logAdd`, 'true or false', o.logAdd);
    if (o.logSoftmax !== undefined && typeof o.logSoftmax !== 'boolean') throw invalid('DECODE_INVALID_INPUT', `${where} options.logSoftmax`, 'true or false', o.logSoftmax);
    if (o.lmUnit !== undefined && o.lmUnit !== 'word' && o.lmUnit !== 'token') throw invalid('DECODE_INVALID_INPUT', `${where} options.lmUnit`, "'word' or 'token'", o.lmUnit);
    const unkWord = o.unkWord ?? '<unk>';
    if (typeof unkWord !== 'string' || unkWord.length === 0) throw invalid('DECODE_INVALID_INPUT', `${where} options.unkWord`, 'a non-empty string', unkWord);
    this.options = {
      nbest: int(o.nbest, 1, 'nbest'),
      beamSize: int(o.beamSize, 50, 'beamSize'),
      beamSizeToken: Math.min(int(o.beamSizeToken, this.tokens.length, 'beamSizeToken'), this.tokens.length),
      beamThreshold,
      lmWeight: num(o.lmWeight, 2 / Math.LN10, 'lmWeight'),
      wordScore: num(o.wordScore, 0, 'wordScore'),
      unkScore: num(o.unkScore, -Infinity, 'unkScore', true),
      silScore: num(o.silScore, 0, 'silScore'),
      logAdd: o.logAdd ?? false,
      logSoftmax: o.logSoftmax ?? true,
      unkWord,
      lmUnit: o.lmUnit ?? 'word',
    };
    this.timeBase = checkTimeBase(o, `${where} options`);
    this.frames = checkFramesOption(o.frames, `${where} options.frames`);

    // Language model.
    if (o.lm === undefined || o.lm === null) this.lm = null;
    else if (typeof o.lm === 'string') this.lm = NGramLanguageModel.loadSync(o.lm);
    else if (isLanguageModel(o.lm)) this.lm = o.lm;
    else throw invalid('LM_INVALID', `${where} options.lm`, 'an NGramLanguageModel, an ARPA file path, or an object with start/score/finish', o.lm);
    this.ngram = this.lm instanceof NGramLanguageModel ? this.lm : null;

    // Lexicon.
    const lexicon = o.lexicon === undefined || o.lexicon === null ? null
      : typeof o.lexicon === 'string' ? Lexicon.loadSync(o.lexicon)
      : o.lexicon instanceof Lexicon ? o.lexicon : undefined;
    if (lexicon === undefined) throw invalid('LEXICON_INVALID', `${where} options.lexicon`, 'a Lexicon, a lexicon file path, or null', o.lexicon);
    this.lexicon = lexicon ? new LexiconTrie(lexicon, tokenIndex, this.silence, this.blank) : null;

    // Hotwords: spelled with the lexicon when there is one (added to it when missing), else with the labels.
    const hw = checkHotwords(o.hotwords);
    if (hw) {
      const spellTokens = (w: string): number[] => {
        const ids = spellWord(w, this.tokens, this.blank);
        if (!ids) throw invalid('DECODE_INVALID_INPUT', 'hotword', 'a word spelled with the tokens', w);
        return ids;
      };
      const trie = this.lexicon;
      if (trie) {
        for (const w of hw.words) {
          if (findWord(trie, w) === undefined) {
            const ids = spellTokens(w);
            trie.add(w, trie.spellingsEndWithSilence && this.silence >= 0 ? [...ids, this.silence] : ids);
          }
        }
      }
      this.hot = new HotwordBooster(hw.words, hw.weight, (w) => {
        if (!trie) return [spellTokens(w)];
        const id = findWord(trie, w)!;
        // The silence ending a spelling is not part of the word being spelled.
        return trie.spellingsOf(id).map((s) => (s[s.length - 1] === this.silence ? s.slice(0, -1) : s));
      });
    } else {
      this.hot = null;
    }

    // LM ids and look-ahead.
    if (this.lexicon && this.ngram) {
      const ng = this.ngram;
      this.lmIds = Int32Array.from(this.lexicon.words, (w) => ng.idOf(w));
    } else {
      this.lmIds = null;
    }
    this.unkLmId = this.ngram ? this.ngram.idOf(unkWord) : -1;
    this.tokenLmIds = this.ngram && this.options.lmUnit === 'token' ? Int32Array.from(this.tokens, (t) => this.ngram!.idOf(t)) : null;
    if (this.lexicon && this.lm) {
      const start = this.lm.start();
      this.lexicon.smear((w) => this.lmScore(start, this.lexicon!.words[w]!, this.lmIds ? this.lmIds[w]! : -1));
    }
  }

  /** The best hypothesis for one utterance `[frames, tokens]` (or `[1, frames, tokens]`), with its alternatives. */
  decode(emission: { data: Float32Array; shape: number[] }): CTCBeamSearchResult {
    return this.search(checkEmission(emission, this.tokens.length));
  }

  /** One result per batch item of `[B, frames, tokens]`, as `decode` gives it; frames at or after `lengths[b]` are ignored. */
  decodeBatch(emissions: { data: Float32Array; shape: number[] }, lengths?: ArrayLike<number | bigint>): CTCBeamSearchResult[] {
    return checkBatch(emissions, this.tokens.length, lengths).map((f) => this.search(f));
  }

  /** LM score of `word` after `state` (ln); the next state is left in `lmNext`. */
  private lmScore(state: unknown, word: string, id: number): number {
    if (this.ngram) {
      const s = this.ngram.scoreId(state as number, id >= 0 ? id : this.ngram.idOf(word));
      this.lmNext = this.ngram.nextState;
      return s;
    }
    const r = this.lm!.score(state, word);
    if (!isObject(r)) throw invalid('LM_INVALID', 'language model score()', 'an object { state, score }', r);
    this.lmNext = r.state;
    return checkLmScore(r.score, 'language model score().score');
  }

  private lmFinish(state: unknown): number {
    return checkLmScore(this.lm!.finish(state), 'language model finish()');
  }

  private search(f: Frames): CTCBeamSearchResult {
    const { frames, classes } = f;
    const lp = this.options.logSoftmax ? logSoftmax(f) : f.data;
    const o = this.options;
    const { blank, silence } = this;
    const lex = this.lexicon;
    const lm = this.lm;
    const hot = this.hot;
    const wordLm = lm !== null && !lex && o.lmUnit === 'word';
    const tokenLm = lm !== null && !lex && o.lmUnit === 'token';
    const root = new Prefix(null, -1, PLAIN, -1, lex ? lex.root : null, lm ? lm.start() : null, 0, 0, 0, null, 0);
    root.pB = 0;
    let beam: PrefixNode[] = [root];
    const c = this.scratch;

    const numTokens = classes;
    const order = new Int32Array(numTokens);
    const allowed = new Uint8Array(numTokens);
    const allTokens = o.beamSizeToken >= numTokens;
    const thr = o.beamThreshold;
    const logAdd = o.logAdd;

    for (let t = 0; t < frames; t++) {
      const row = t * classes;
      // Tokens tried as new outputs this frame (flashlight's beam_size_token).
      let nAllowed = 0;
      if (allTokens) {
        // Most likely first, so the bound on new outputs (Candidates.keepTop) rises early.
        for (let k = 0; k < numTokens; k++) order[k] = k;
        partialSortDesc(order, lp, row, numTokens);
        for (let r = 0; r < numTokens; r++) if (order[r] !== blank) order[nAllowed++] = order[r]!;
        allowed.fill(1);
      } else {
        for (let k = 0; k < numTokens; k++) order[k] = k;
        partialSortDesc(order, lp, row, o.beamSizeToken);
        allowed.fill(0);
        for (let r = 0; r < o.beamSizeToken; r++) {
          const k = order[r]!;
          if (k !== blank) { allowed[k] = 1; order[nAllowed++] = k; }
        }
      }
      const lpBlank = lp[row + blank]!;

      for (const node of beam) { node.nB = -Infinity; node.nN = -Infinity; }
      c.reset(beam, t, logAdd, thr, o.beamSize);

      for (let bi = 0; bi < beam.length; bi++) {
        const P = beam[bi]!;
        const sB = P.pB;
        const sN = P.pN;
        const total = logAdd ? logAddExp(sB, sN) : (sB > sN ? sB : sN);
        const bBetter = sB >= sN;
        // Stay, ending in blank.
        P.nB = total + lpBlank;
        if (bBetter) { P.xbPrev = P.bPrev; P.xbStart = P.bStart; P.xbEnd = P.bEnd; } else { P.xbPrev = P.nPrev; P.xbStart = P.nStart; P.xbEnd = P.nEnd; }
        c.see(P.nB + P.bonus);
        // Stay, repeating the last token.
        const last = P.token;
        if (last >= 0 && sN !== -Infinity) {
          mergeN(P, sN + lp[row + last]!, P.nPrev, P.nStart, t + 1, logAdd);
          c.see(P.nN + P.bonus);
        }
        // A new token: from either state, except the last token, which needs a blank in between.
        if (lex) {
          const L = P.lex!;
          const atRoot = L === lex.root;
          const nChildren = L.tokens.length;
          for (let ci = -1; ci < nChildren; ci++) {
            let n: number;
            let child: TrieNode | null = null;
            if (ci < 0) {
              if (!atRoot || silence < 0) continue;
              n = silence; // silence between words
            } else {
              n = L.tokens[ci]!;
              child = L.children[ci]!;
            }
            if (!allowed[n]) continue;
            const base = n === last ? sB : total;
            if (base === -Infinity) continue;
            const ac = base + lp[row + n]!;
            const fromB = n === last || bBetter;
            if (child === null) {
              const committed = P.committed + o.silScore;
              c.offer(P, n * 4 + SILENCE, n, SILENCE, -1, lex.root, P.lmState, committed, committed, P.lm, null, 0, ac, fromB);
              continue;
            }
            if (child.children.length > 0) {
              const h = hot ? (atRoot ? hot.root : P.hot)?.child(n) ?? null : null;
              const bonus = P.committed + (lm ? o.lmWeight * child.smear : 0) + (h ? h.bonus : 0);
              c.offer(P, n * 4 + PLAIN, n, PLAIN, -1, child, P.lmState, P.committed, bonus, P.lm, h, 0, ac, fromB);
            }
            const words = child.words;
            for (let wi = 0; wi < words.length; wi++) {
              const w = words[wi]!;
              let committed = P.committed + o.wordScore;
              let lmTotal = P.lm;
              let state = P.lmState;
              if (lm) {
                const s = this.lmScore(P.lmState, lex.words[w]!, this.lmIds ? this.lmIds[w]! : -1);
                committed += o.lmWeight * s;
                lmTotal += s;
                state = this.lmNext;
              }
              if (hot && hot.isHotword(lex.words[w]!)) committed += hot.weight;
              c.offer(P, ((w + 1) * numTokens + n) * 4 + WORD, n, WORD, w, lex.root, state, committed, committed, lmTotal, null, 0, ac, fromB);
            }
            if (words.length === 0 && o.unkScore !== -Infinity) {
              let committed = P.committed + o.unkScore;
              let lmTotal = P.lm;
              let state = P.lmState;
              if (lm) {
                const s = this.lmScore(P.lmState, o.unkWord, this.unkLmId);
                committed += o.lmWeight * s;
                lmTotal += s;
                state = this.lmNext;
              }
              c.offer(P, n * 4 + UNK, n, UNK, -1, lex.root, state, committed, committed, lmTotal, null, 0, ac, fromB);
            }
          }
        } else {
          for (let r = 0; r < nAllowed; r++) {
            const n = order[r]!;
            const base = n === last ? sB : total;
            if (base === -Infinity) continue;
            const ac = base + lp[row + n]!;
            const fromB = n === last || bBetter;
            let committed = P.committed;
            let lmTotal = P.lm;
            let state = P.lmState;
            let h: HotNode | null = null;
            let partial = P.partial;
            if (n === silence) {
              committed += o.silScore;
              if (partial > 0) {
                committed += o.wordScore;
                if (wordLm) {
                  const s = this.lmScore(state, this.partialWord(P), -1);
                  committed += o.lmWeight * s;
                  lmTotal += s;
                  state = this.lmNext;
                }
                if (hot && P.hot && P.hot.terminal) committed += hot.weight;
              }
              partial = 0;
            } else {
              h = hot ? (partial === 0 ? hot.root : P.hot)?.child(n) ?? null : null;
              partial++;
            }
            if (tokenLm) {
              const s = this.lmScore(state, this.tokens[n]!, this.tokenLmIds ? this.tokenLmIds[n]! : -1);
              committed += o.lmWeight * s;
              lmTotal += s;
              state = this.lmNext;
            }
            c.offer(P, n * 4 + PLAIN, n, PLAIN, -1, null, state, committed, committed + (h ? h.bonus : 0), lmTotal, h, partial, ac, fromB);
          }
        }
      }

      beam = c.select(beam, o.beamSize, thr);
      if (beam.length === 0) break;
    }
    return this.finish(beam, f);
  }

  private partialWord(P: PrefixNode): string {
    let s = '';
    for (let node: PrefixNode | null = P, k = P.partial; node && k > 0; node = node.parent, k--) s = this.tokens[node.token]! + s;
    return s;
  }

  /** Final scores (sentence end, last word of a lexicon-free output), n-best, and what each contains. */
  private finish(beam: PrefixNode[], f: Frames): CTCBeamSearchResult {
    const o = this.options;
    const lex = this.lexicon;
    const lm = this.lm;
    const wordLm = lm !== null && !lex && o.lmUnit === 'word';
    // As flashlight: outputs ending inside a word only count when none ends on a word boundary.
    const nice = lex ? beam.some((n) => n.lex === lex.root) : true;
    const finals: Array<{ node: PrefixNode; score: number; ac: number; lm: number }> = [];
    for (const node of beam) {
      if (lex && nice && node.lex !== lex.root) continue;
      const ac = o.logAdd ? logAddExp(node.pB, node.pN) : Math.max(node.pB, node.pN);
      if (ac === -Infinity) continue;
      let score = ac + node.committed;
      let lmTotal = node.lm;
      let state = node.lmState;
      if (!lex && node.partial > 0) {
        score += o.wordScore;
        if (wordLm) {
          const s = this.lmScore(state, this.partialWord(node), -1);
          score += o.lmWeight * s;
          lmTotal += s;
          state = this.lmNext;
        }
        if (this.hot && node.hot && node.hot.terminal) score += this.hot.weight;
      }
      if (lm) {
        const s = this.lmFinish(state);
        score += o.lmWeight * s;
        lmTotal += s;
      }
      finals.push({ node, score, ac, lm: lmTotal });
    }
    finals.sort((a, b) => b.score - a.score);
    const lse = rowLogSumExp(f.data, f.frames, f.classes);
    const [best, ...alternatives] = finals.slice(0, o.nbest).map((r) => this.hypothesis(r.node, r.score, r.ac, r.lm, f, lse));
    // No output survived (every path impossible, or none the lexicon allows): an empty result scored -Infinity.
    return { ...(best ?? noOutput()), alternatives };
  }

  private hypothesis(node: PrefixNode, score: number, ac: number, lmTotal: number, f: Frames, lse: Float64Array): CTCHypothesis {
    const chain: PrefixNode[] = [];
    for (let n: PrefixNode | null = node; n && n.parent; n = n.parent) chain.push(n);
    chain.reverse();
    const tokens = chain.map((n) => n.token);
    // Frames of the best path into the better of the two final states.
    const starts = new Array<number>(tokens.length);
    const ends = new Array<number>(tokens.length);
    if (tokens.length > 0) {
      const useB = node.pB >= node.pN;
      let i = tokens.length - 1;
      starts[i] = useB ? node.bStart : node.nStart;
      ends[i] = useB ? node.bEnd : node.nEnd;
      for (let cell = useB ? node.bPrev : node.nPrev; cell && i > 0; cell = cell.prev) {
        i--;
        starts[i] = cell.start;
        ends[i] = cell.end;
      }
    }
    let groups: WordGroup[];
    const lex = this.lexicon;
    if (lex) {
      groups = [];
      let first = -1;
      chain.forEach((n, i) => {
        if (n.kind === PLAIN) {
          if (first < 0) first = i;
        } else if (n.kind === WORD || n.kind === UNK) {
          if (first < 0) first = i;
          // A spelling's closing silence belongs to the gap after the word, not to the word.
          const lastTok = n.token === this.silence && i > first ? i - 1 : i;
          groups.push({ word: n.kind === WORD ? lex.words[n.word]! : this.options.unkWord, firstToken: first, lastToken: lastTok });
          first = -1;
        }
      });
    } else {
      groups = groupByDelimiter(tokens, this.tokens, this.silence);
    }
    const spans = tokenSpans(tokens, starts, ends, f.data, f.classes, lse, this.tokens, this.timeBase);
    return {
      text: groups.map((g) => g.word).join(' '),
      transcript: tokens.map((k) => this.tokens[k]).join(''),
      words: withoutFrames(wordSpans(groups, spans, this.timeBase), this.frames),
      indices: tokens,
      tokens: withoutFrames(spans, this.frames),
      score,
      acousticScore: ac,
      lmScore: lmTotal,
    };
  }

  private readonly scratch = new Candidates();
}

function noOutput(): CTCHypothesis {
  return { text: '', transcript: '', words: [], indices: [], tokens: [], score: -Infinity, acousticScore: -Infinity, lmScore: 0 };
}

function findWord(trie: LexiconTrie, w: string): number | undefined {
  return trie.wordIds.get(w) ?? trie.wordIds.get(w.toLowerCase()) ?? trie.wordIds.get(w.toUpperCase());
}

/** Partially sorts `idx` so its first k entries are the k largest `lp[row + idx[i]]`, largest first. */
function partialSortDesc(idx: Int32Array, lp: Float32Array, row: number, k: number): void {
  for (let i = 0; i < k; i++) {
    let bi = i;
    for (let j = i + 1; j < idx.length; j++) if (lp[row + idx[j]!]! > lp[row + idx[bi]!]!) bi = j;
    const tmp = idx[i]!; idx[i] = idx[bi]!; idx[bi] = tmp;
  }
}
