import { closeSync, createReadStream, openSync, readFileSync, readSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip, gunzipSync } from 'node:zlib';
import { invalid, Wav2Vec2Error } from '../errors';
import { isObject } from '../is';
import { cannotRead } from './files';

/**
 * Language models for the beam search. Scores are natural logarithms (the same unit as log-softmax
 * emissions); ARPA files store log10 and are converted on load. torchaudio/flashlight add KenLM's log10
 * scores unconverted, so a torchaudio `lm_weight` w corresponds to `lmWeight = w / ln(10)` here.
 */

/**
 * A word-level language model the decoder calls as it completes words (torchaudio's CTCDecoderLM, with
 * words as strings). States are opaque to the decoder and must not be mutated once returned.
 */
export interface LanguageModel<S = unknown> {
  /** State before the first word (a sentence start). */
  start(): S;
  /** Log-probability (natural log) of `word` after `state`, and the state that follows it. */
  score(state: S, word: string): { state: S; score: number };
  /** Log-probability of ending the sentence in `state`. */
  finish(state: S): number;
}

export function isLanguageModel(v: unknown): v is LanguageModel {
  return isObject(v) && typeof v.start === 'function' && typeof v.score === 'function' && typeof v.finish === 'function';
}

/** A score from a user's LM: a number that is not NaN and not +Infinity (-Infinity means impossible). */
export function checkLmScore(score: unknown, what: string): number {
  if (typeof score !== 'number' || score !== score || score === Infinity) {
    throw invalid('LM_INVALID', what, 'a log-probability (a number, -Infinity allowed)', score);
  }
  return score;
}

const LOG10_TO_LN = Math.LN10;
/** Bytes read (or decompressed text decoded) at a time by loadSync. */
const READ_CHUNK = 1 << 20;
/**
 * Entries allocated up front from the \data\ counts, at most: a header may claim any count, and a tiny or damaged
 * file must not allocate gigabytes on its word. Larger models grow as they are read, each time by half or towards
 * the declared total, at most 4x what was read (ArpaReader.child); the bench's 1.02M n-gram LM still fits the first
 * allocation.
 */
const MAX_INITIAL_ENTRIES = 1 << 20;
/** Entries are int32 indices, and depths one byte. */
const MAX_ENTRIES = 2 ** 31 - 1;
const MAX_ORDER = 255;
/** KenLM's log10 probability for a word when the model has no <unk>. */
const MISSING_UNK_LOG10 = -100;

/**
 * A back-off n-gram model of any order read from an ARPA file, held in flat typed arrays: every n-gram is
 * an entry `(parent, word)` where `parent` is the entry of its first n-1 words, found through one open
 * addressing hash table. About 30 bytes per n-gram. Immutable once loaded: share one instance between
 * decoders.
 *
 * A state is the entry of the longest suffix of the history (at most order-1 words) that exists in the
 * model. Given prefix closure (enforced on load by adding missing prefixes as context-only entries), that
 * suffix is all back-off needs, so scores are exact.
 */
export class NGramLanguageModel implements LanguageModel<number> {
  /** Highest n-gram order. */
  readonly order: number;
  /** N-grams per order as read: counts[0] is the number of unigrams. */
  readonly counts: number[];
  /** Vocabulary, index = word id. */
  readonly words: string[];
  private readonly ids: Map<string, number>;
  private readonly parent: Int32Array;
  private readonly word: Int32Array;
  /** ln p; NaN for context-only entries that the file did not list. */
  private readonly prob: Float32Array;
  private readonly backoff: Float32Array;
  private readonly suffix: Int32Array;
  private readonly depth: Uint8Array;
  private readonly table: Int32Array;
  private readonly mask: number;
  private readonly size: number;
  private readonly bos: number;
  private readonly eosId: number;
  private readonly unkId: number;
  /** State after the last `scoreId` call (lets the decoder score without allocating). */
  nextState = 0;

  /** @internal built by ArpaReader */
  constructor(b: ArpaReader) {
    this.order = b.order;
    this.counts = b.found.slice(1);
    this.words = b.words;
    this.ids = b.ids;
    this.size = b.n;
    this.parent = b.parent.subarray(0, b.n);
    this.word = b.word.subarray(0, b.n);
    this.prob = b.prob.subarray(0, b.n);
    this.backoff = b.backoff.subarray(0, b.n);
    this.depth = b.depth.subarray(0, b.n);
    this.table = b.table;
    this.mask = b.mask;
    this.suffix = new Int32Array(b.n);
    this.computeSuffixes();
    const s = this.ids.get('<s>');
    // A unigram model keeps no context, not even <s>.
    this.bos = s === undefined || this.order === 1 ? 0 : Math.max(0, this.find(0, s));
    this.eosId = this.ids.get('</s>') ?? -1;
    this.unkId = this.has('<unk>') ? this.ids.get('<unk>')! : -1;
  }

  /** Parses ARPA text. */
  static fromArpa(text: string): NGramLanguageModel {
    const r = new ArpaReader('ARPA text');
    r.push(text);
    return r.finish();
  }

  /**
   * Reads an ARPA file (`.gz` is gunzipped), synchronously. The text is parsed in chunks and never held as one
   * string. A plain file is read 1 MiB at a time; a `.gz` file is decompressed whole into one Buffer first (Node
   * has no synchronous streaming gunzip), so it needs its uncompressed size in memory for the duration of the
   * load: for a multi-GiB ARPA, use `load()`, which streams both.
   */
  static loadSync(path: string): NGramLanguageModel {
    const r = new ArpaReader(path);
    try {
      if (path.endsWith('.gz')) {
        const text = gunzipSync(readFileSync(path));
        const dec = new StringDecoder('utf8');
        for (let i = 0; i < text.length; i += READ_CHUNK) r.push(dec.write(text.subarray(i, i + READ_CHUNK)));
        r.push(dec.end());
      } else {
        const fd = openSync(path, 'r');
        try {
          const buf = Buffer.allocUnsafe(READ_CHUNK);
          const dec = new StringDecoder('utf8');
          for (;;) {
            const n = readSync(fd, buf, 0, buf.length, null);
            if (n === 0) break;
            r.push(dec.write(buf.subarray(0, n)));
          }
          r.push(dec.end());
        } finally {
          closeSync(fd);
        }
      }
    } catch (err) {
      throw wrapReadError(err, path);
    }
    return r.finish();
  }

  /**
   * Reads an ARPA file (`.gz` is gunzipped) as a stream. Every failure (a missing or unreadable file, a damaged
   * `.gz`, malformed ARPA) rejects with `LM_INVALID`; the streams are closed either way.
   */
  static async load(path: string): Promise<NGramLanguageModel> {
    const r = new ArpaReader(path);
    const consume = async (source: AsyncIterable<Buffer>): Promise<void> => {
      const dec = new StringDecoder('utf8');
      for await (const chunk of source) r.push(dec.write(chunk));
      r.push(dec.end());
    };
    try {
      // pipeline() forwards an error of any stage (ENOENT from the file, a bad header from gunzip) to the promise
      // and destroys the others; `.pipe()` would leave the file's error unhandled and crash the process.
      if (path.endsWith('.gz')) await pipeline(createReadStream(path), createGunzip(), consume);
      else await pipeline(createReadStream(path), consume);
    } catch (err) {
      throw wrapReadError(err, path);
    }
    return r.finish();
  }

  /** Word id, or -1 when the word is not in the vocabulary. */
  idOf(word: string): number {
    return this.ids.get(word) ?? -1;
  }

  has(word: string): boolean {
    const id = this.ids.get(word);
    if (id === undefined) return false;
    const e = this.find(0, id);
    return e >= 0 && this.prob[e] === this.prob[e];
  }

  start(): number {
    return this.bos;
  }

  score(state: number, word: string): { state: number; score: number } {
    const score = this.scoreId(state, this.ids.get(word) ?? -1);
    return { state: this.nextState, score };
  }

  finish(state: number): number {
    return this.eosId < 0 ? 0 : this.scoreId(state, this.eosId);
  }

  /** ln p(word | state) by back-off; the following state is left in `nextState`. */
  scoreId(state: number, id: number): number {
    if (state < 0 || state >= this.size) throw invalid('LM_INVALID', 'n-gram LM state', `an integer in [0, ${this.size - 1}]`, state);
    if (id < 0) id = this.unkId;
    if (id < 0) {
      // No <unk> in the model: KenLM's fixed penalty after backing off the whole context.
      let bo = 0;
      for (let s = state; s !== 0; s = this.suffix[s]!) bo += this.backoff[s]!;
      this.nextState = 0;
      return bo + MISSING_UNK_LOG10 * LOG10_TO_LN;
    }
    let bo = 0;
    let cur = state;
    let next = -1;
    for (;;) {
      const e = this.find(cur, id);
      if (e >= 0) {
        if (next < 0) next = e;
        const p = this.prob[e]!;
        if (p === p) {
          this.nextState = this.depth[next] === this.order ? this.suffix[next]! : next;
          return bo + p;
        }
      }
      if (cur === 0) break;
      bo += this.backoff[cur]!;
      cur = this.suffix[cur]!;
    }
    // A word with no unigram probability (it only occurs inside higher n-grams): treat it as unknown.
    if (this.unkId >= 0 && id !== this.unkId) return this.scoreId(state, this.unkId);
    this.nextState = 0;
    return bo + MISSING_UNK_LOG10 * LOG10_TO_LN;
  }

  /** Total ln-probability of a sentence, with <s> and </s> (for tests and tools). */
  sentenceLogProb(words: readonly string[]): number {
    let s = this.start();
    let total = 0;
    for (const w of words) {
      const r = this.score(s, w);
      total += r.score;
      s = r.state;
    }
    return total + this.finish(s);
  }

  /** Bytes held by the model's arrays and vocabulary (an estimate for the strings). */
  memoryBytes(): number {
    let strings = 0;
    for (const w of this.words) strings += 40 + 2 * w.length;
    return this.parent.buffer.byteLength + this.word.buffer.byteLength + this.prob.buffer.byteLength +
      this.backoff.buffer.byteLength + this.suffix.byteLength + this.depth.buffer.byteLength + this.table.byteLength + strings;
  }

  private find(parent: number, word: number): number {
    const t = this.table;
    let h = hash(parent, word) & this.mask;
    for (;;) {
      const e = t[h]!;
      if (e < 0) return -1;
      if (this.word[e] === word && this.parent[e] === parent) return e;
      h = (h + 1) & this.mask;
    }
  }

  /**
   * suffix[e]: the longest proper suffix of e's words that exists, found from the parent's suffix
   * (Aho-Corasick style). Entries are processed by increasing order so parents' links are ready.
   */
  private computeSuffixes(): void {
    const byDepth: number[][] = [];
    for (let e = 1; e < this.size; e++) (byDepth[this.depth[e]!] ??= []).push(e);
    for (const level of byDepth) {
      if (!level) continue;
      for (const e of level) {
        const p = this.parent[e]!;
        if (p === 0) { this.suffix[e] = 0; continue; }
        const w = this.word[e]!;
        let s = this.suffix[p]!;
        let found = -1;
        for (;;) {
          found = this.find(s, w);
          if (found >= 0 || s === 0) break;
          s = this.suffix[s]!;
        }
        this.suffix[e] = found >= 0 ? found : 0;
      }
    }
  }
}

function hash(parent: number, word: number): number {
  let h = Math.imul(parent, 0x9e3779b1) ^ Math.imul(word + 0x7f4a7c15, 0x85ebca77);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

/** A read or decompression failure as the LM's coded error (the same shape as the lexicon's `Cannot read ...`). */
function wrapReadError(err: unknown, path: string): Error {
  if (err instanceof Wav2Vec2Error) return err;
  // gunzipSync's output is one Buffer: a file too large for it can still be streamed.
  const hint = err instanceof RangeError && path.endsWith('.gz') ? 'Load a file this large with NGramLanguageModel.load(), which streams it.' : '';
  return cannotRead('LM_INVALID', 'language model', path, err, hint);
}

/** Parses ARPA text pushed in chunks of any size into the arrays NGramLanguageModel keeps. */
class ArpaReader {
  order = 0;
  declared: number[] = [0];
  found: number[] = [0];
  words: string[] = [];
  ids = new Map<string, number>();
  n = 1; // entry 0 is the empty context
  parent = new Int32Array(0);
  word = new Int32Array(0);
  prob = new Float32Array(0);
  backoff = new Float32Array(0);
  depth = new Uint8Array(0);
  table = new Int32Array(0);
  mask = 0;
  private section: 'start' | 'data' | 'grams' | 'end' = 'start';
  private k = 0;
  private line = 0;
  private rest = '';
  private readonly fields: string[] = [];

  constructor(private readonly source: string) {
    this.allocate(1024);
  }

  push(chunk: string): void {
    let text = this.rest + chunk;
    let pos = 0;
    for (;;) {
      const nl = text.indexOf('\n', pos);
      if (nl < 0) break;
      this.line++;
      this.handle(text, pos, nl);
      pos = nl + 1;
    }
    this.rest = text.slice(pos);
    text = '';
  }

  finish(): NGramLanguageModel {
    if (this.rest.length > 0) {
      this.line++;
      const r = this.rest;
      this.rest = '';
      this.handle(r, 0, r.length);
    }
    if (this.section !== 'end') this.fail(this.section === 'start' ? 'no \\data\\ section: this is not an ARPA file' : 'the file ends before \\end\\');
    for (let k = 1; k <= this.order; k++) {
      if (this.found[k] !== this.declared[k]) this.fail(`\\data\\ declares ${this.declared[k]} ${k}-grams but the file lists ${this.found[k] ?? 0}`);
    }
    if (this.order === 0 || this.found[1] === 0) this.fail('no unigrams');
    try {
      return new NGramLanguageModel(this);
    } catch (err) {
      // The suffix links take one more int32 per entry: out of memory here is the same failure as in allocate().
      if (!(err instanceof RangeError)) throw err;
      this.fail(`cannot allocate memory for the suffix links of ${this.n} n-gram entries (${err.message})`);
    }
  }

  private fail(msg: string): never {
    throw new Wav2Vec2Error('LM_INVALID', `${this.source}: ${msg}${this.line ? ` (line ${this.line})` : ''}. Build ARPA files with KenLM (lmplz) or scripts/build-arpa.ts.`);
  }

  private handle(text: string, from: number, to: number): void {
    // Trim (ARPA files written on Windows end lines with \r).
    while (from < to && text.charCodeAt(from) <= 32) from++;
    while (to > from && text.charCodeAt(to - 1) <= 32) to--;
    if (from === to) return;
    if (text.charCodeAt(from) === 92 /* \ */) {
      this.header(text.slice(from, to));
      return;
    }
    if (this.section === 'data') {
      const m = /^ngram\s+(\d+)\s*=\s*(\d+)$/.exec(text.slice(from, to));
      if (!m) this.fail(`expected "ngram N=count" in \\data\\, got ${JSON.stringify(text.slice(from, Math.min(to, from + 60)))}`);
      const k = Number(m[1]);
      if (k !== this.order + 1) this.fail(`expected the count of ${this.order + 1}-grams, got ${k}-grams`);
      if (k > MAX_ORDER) this.fail(`an n-gram order above ${MAX_ORDER}`);
      const count = Number(m[2]);
      const total = this.declared.reduce((a, b) => a + b, 0) + count;
      if (total > MAX_ENTRIES - 1) this.fail(`\\data\\ declares ${total} n-grams in all; at most ${MAX_ENTRIES - 1} are supported`);
      this.order = k;
      this.declared[k] = count;
      return;
    }
    if (this.section === 'grams') {
      this.ngram(text, from, to);
      return;
    }
    // Text before \data\ is a comment; anything after \end\ is ignored like KenLM does.
  }

  private header(h: string): void {
    if (h === '\\data\\') {
      if (this.section !== 'start') this.fail('a second \\data\\ section');
      this.section = 'data';
      return;
    }
    if (h === '\\end\\') {
      if (this.section === 'start') this.fail('\\end\\ before \\data\\');
      this.section = 'end';
      return;
    }
    const m = /^\\(\d+)-grams:$/.exec(h);
    if (!m || this.section === 'start' || this.section === 'end') {
      if (this.section === 'start') return; // a comment line starting with a backslash
      this.fail(`unexpected line ${JSON.stringify(h.slice(0, 60))}`);
    }
    const k = Number(m[1]);
    if (k !== this.k + 1 || k > this.order) this.fail(`unexpected section \\${k}-grams: (expected \\${this.k + 1}-grams: of ${this.order})`);
    if (this.k === 0) {
      // Trust the counts only up to a point (see MAX_INITIAL_ENTRIES); `child` grows the arrays when they fill.
      let total = 0;
      for (let i = 1; i <= this.order; i++) total += this.declared[i]!;
      this.allocate(Math.min(total + 1, MAX_INITIAL_ENTRIES));
    }
    this.k = k;
    this.found[k] = 0;
    this.section = 'grams';
  }

  private ngram(text: string, from: number, to: number): void {
    const f = this.fields;
    f.length = 0;
    let i = from;
    while (i < to) {
      while (i < to && isSpace(text.charCodeAt(i))) i++;
      const s = i;
      while (i < to && !isSpace(text.charCodeAt(i))) i++;
      if (i > s) f.push(text.slice(s, i));
    }
    const k = this.k;
    if (f.length !== k + 1 && f.length !== k + 2) this.fail(`expected a ${k}-gram line "logprob w1 .. w${k} [backoff]", got ${f.length} fields`);
    const p = parseLog(f[0]!);
    const bo = f.length === k + 2 ? parseLog(f[k + 1]!) : 0;
    if (p !== p || bo !== bo) this.fail(`not a number in ${JSON.stringify(text.slice(from, Math.min(to, from + 80)))}`);
    let parent = 0;
    for (let j = 1; j < k; j++) parent = this.child(parent, this.wordId(f[j]!), j);
    const e = this.child(parent, this.wordId(f[k]!), k);
    if (this.prob[e] === this.prob[e]) this.fail(`the ${k}-gram "${f.slice(1, k + 1).join(' ')}" is listed twice`);
    this.prob[e] = p * LOG10_TO_LN;
    this.backoff[e] = bo * LOG10_TO_LN;
    this.found[k]!++;
  }

  private wordId(w: string): number {
    let id = this.ids.get(w);
    if (id === undefined) {
      id = this.words.length;
      this.words.push(w);
      this.ids.set(w, id);
    }
    return id;
  }

  /** Entry (parent, word), created as context-only (prob NaN) if absent. */
  private child(parent: number, word: number, depth: number): number {
    let h = hash(parent, word) & this.mask;
    for (;;) {
      const e = this.table[h]!;
      if (e < 0) break;
      if (this.word[e] === word && this.parent[e] === parent) return e;
      h = (h + 1) & this.mask;
    }
    if (this.n >= this.parent.length) {
      if (this.n >= MAX_ENTRIES) this.fail(`more than ${MAX_ENTRIES - 1} n-grams (with context-only prefixes): too many for this reader`);
      // Grow by half, or straight towards the declared total when the file has backed the claim so far (at most 4x
      // what has been read, so a false claim costs little): fewer rehashes for big honest files.
      const len = this.parent.length;
      const declared = this.declared.reduce((a, b) => a + b, 0) + 1;
      const next = Math.max(Math.ceil(len * 1.5) + 16, Math.min(declared, len * 4));
      this.allocate(Math.min(next, MAX_ENTRIES));
      return this.child(parent, word, depth);
    }
    const e = this.n++;
    this.parent[e] = parent;
    this.word[e] = word;
    this.prob[e] = NaN;
    this.backoff[e] = 0;
    this.depth[e] = depth;
    this.table[h] = e;
    return e;
  }

  /**
   * (Re)allocates entry arrays for `capacity` entries and a hash table under half full. Running out of memory
   * (a RangeError from the typed arrays) becomes an LM_INVALID error that says how many entries were asked for.
   */
  private allocate(capacity: number): void {
    if (capacity <= this.parent.length) return;
    try {
      this.reallocate(capacity);
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      this.fail(`cannot allocate memory for ${capacity} n-gram entries (${err.message})`);
    }
  }

  private reallocate(capacity: number): void {
    const grow = <T extends Int32Array | Float32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(capacity);
      b.set(a.subarray(0, this.n) as never);
      return b;
    };
    this.parent = grow(this.parent, (n) => new Int32Array(n));
    this.word = grow(this.word, (n) => new Int32Array(n));
    this.prob = grow(this.prob, (n) => new Float32Array(n));
    this.backoff = grow(this.backoff, (n) => new Float32Array(n));
    this.depth = grow(this.depth, (n) => new Uint8Array(n));
    let size = 1024;
    while (size < capacity * 2) size *= 2;
    this.table = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    for (let e = 1; e < this.n; e++) {
      let h = hash(this.parent[e]!, this.word[e]!) & this.mask;
      while (this.table[h]! >= 0) h = (h + 1) & this.mask;
      this.table[h] = e;
    }
  }
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 11 || c === 12;
}

function parseLog(s: string): number {
  if (s === '-inf' || s === '-Infinity' || s === '-INF') return -Infinity;
  const x = Number(s);
  return x === Infinity ? NaN : x;
}
