import type { HotNode } from './hotwords';
import type { TrieNode } from './lexicon';

/**
 * The state of the CTC prefix beam search (beam.ts): one node per output prefix with its two CTC states
 * and best-path frames, and the per-frame set of proposed outputs from which the next beam is selected.
 */

/** Event kinds of a prefix node (how it extends its parent). */
export const PLAIN = 0; // lexicon-free token, or a lexicon spelling continuing
export const SILENCE = 1; // silence between words (lexicon mode)
export const UNK = 2; // a partial spelling committed as the unknown word
export const WORD = 3; // a lexicon word completed (key carries the word id)

/** Timing of one emitted token on the best path, as an immutable list towards the first token. */
export class TimeCell {
  constructor(readonly start: number, readonly end: number, readonly prev: TimeCell | null) {}
}

/**
 * One output prefix. Holds its score terms (fixed by the prefix) and its two CTC states: ending in blank
 * (B) and ending in its last token (N), with the frames of the best path into each. `p*` hold the current
 * frame, `n*` the one being computed.
 */
export class PrefixNode {
  /** Events from the root, and the event that made this node from its parent. */
  depth = 0;
  key = 0;
  /** Hash of the event sequence: finds an output in the beam; a match is then checked exactly. */
  hash = 0;
  pB = -Infinity;
  pN = -Infinity;
  nB = -Infinity;
  nN = -Infinity;
  bPrev: TimeCell | null = null;
  bStart = 0;
  bEnd = 0;
  nPrev: TimeCell | null = null;
  nStart = 0;
  nEnd = 0;
  xbPrev: TimeCell | null = null;
  xbStart = 0;
  xbEnd = 0;
  xnPrev: TimeCell | null = null;
  xnStart = 0;
  xnEnd = 0;

  constructor(
    readonly parent: PrefixNode | null,
    readonly token: number,
    readonly kind: number,
    readonly word: number,
    readonly lex: TrieNode | null,
    readonly lmState: unknown,
    /** Score terms of the completed part: LM, word, silence, unknown-word and hotword scores. */
    readonly committed: number,
    /** committed + look-ahead terms for the word in progress (LM smearing, hotword prefix). */
    readonly bonus: number,
    /** Raw LM log-probability of the completed words. */
    readonly lm: number,
    readonly hot: HotNode | null,
    /** Lexicon-free: tokens since the last silence. */
    readonly partial: number,
  ) {}
}

export function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}


/**
 * The outputs proposed during one frame that are not in the beam yet, as parallel arrays so proposing
 * allocates nothing; only the ones selected become PrefixNodes. Proposals to outputs already in the beam
 * are merged into them directly.
 */
export class Candidates {
  private cap = 0;
  private parent: PrefixNode[] = [];
  private key = new Float64Array(0);
  private hash = new Int32Array(0);
  private token = new Int32Array(0);
  private kind = new Int32Array(0);
  private word = new Int32Array(0);
  private lex: Array<TrieNode | null> = [];
  private lmState: unknown[] = [];
  private committed = new Float64Array(0);
  private bonus = new Float64Array(0);
  private lm = new Float64Array(0);
  private hot: Array<HotNode | null> = [];
  private partial = new Int32Array(0);
  private ac = new Float64Array(0);
  private fromB = new Uint8Array(0);
  private selScore = new Float64Array(0);
  private selRef = new Int32Array(0);
  private n = 0;
  private t = 0;
  private logAdd = false;
  private threshold = Infinity;
  /** Best total score seen this frame (for the beam threshold). */
  best = -Infinity;
  /** Min-heap of the `size` best new-output scores offered this frame. */
  private top = new Float64Array(0);
  private topSize = 0;
  private size = 0;
  /**
   * The beam's nodes by output hash (open addressing, at most a quarter full), so a new token into an
   * output already in the beam merges into it.
   */
  private slots: Array<PrefixNode | null> = new Array<PrefixNode | null>(256).fill(null);
  private mask = 255;
  private used: number[] = [];

  constructor() {
    this.grow(1024);
  }

  /** Starts a frame: indexes the beam's outputs. */
  reset(beam: readonly PrefixNode[], t: number, logAdd: boolean, threshold: number, size: number): void {
    for (const i of this.used) this.slots[i] = null;
    this.used.length = 0;
    if (beam.length * 4 > this.slots.length) {
      let size = this.slots.length;
      while (beam.length * 4 > size) size *= 2;
      this.slots = new Array<PrefixNode | null>(size).fill(null);
      this.mask = size - 1;
    }
    for (const node of beam) {
      let i = node.hash & this.mask;
      while (this.slots[i] !== null) i = (i + 1) & this.mask;
      this.slots[i] = node;
      this.used.push(i);
    }
    this.n = 0;
    this.t = t;
    this.logAdd = logAdd;
    this.threshold = threshold;
    this.best = -Infinity;
    if (this.top.length < size) this.top = new Float64Array(size);
    this.topSize = 0;
    this.size = size;
  }

  see(score: number): void {
    if (score > this.best) this.best = score;
  }

  offer(P: PrefixNode, key: number, token: number, kind: number, word: number, lex: TrieNode | null, lmState: unknown,
    committed: number, bonus: number, lm: number, hot: HotNode | null, partial: number, ac: number, fromB: boolean): void {
    const score = ac + bonus;
    if (score < this.best - this.threshold) return;
    if (score > this.best) this.best = score;
    const hash = mix(P.hash, key);
    let C: PrefixNode | null = null;
    for (let i = hash & this.mask; ; i = (i + 1) & this.mask) {
      const s = this.slots[i];
      if (s === null) break;
      if (s.hash === hash && s.key === key && sameOutput(s.parent!, P)) { C = s; break; }
    }
    if (C) {
      // Already in the beam: one more way into its token-ending state.
      if (ac > C.nN) {
        const cell = P.token < 0 ? null : fromB ? new TimeCell(P.bStart, P.bEnd, P.bPrev) : new TimeCell(P.nStart, P.nEnd, P.nPrev);
        mergeN(C, ac, cell, this.t, this.t + 1, this.logAdd);
      } else {
        C.nN = this.logAdd ? logAddExp(C.nN, ac) : C.nN;
      }
      return;
    }
    // Below the size-th best new output so far, it cannot be among the size best outputs at all.
    if (!this.keepTop(score)) return;
    if (this.n === this.cap) this.grow(this.cap * 2);
    const i = this.n++;
    this.parent[i] = P;
    this.hash[i] = hash;
    this.key[i] = key;
    this.token[i] = token;
    this.kind[i] = kind;
    this.word[i] = word;
    this.lex[i] = lex;
    this.lmState[i] = lmState;
    this.committed[i] = committed;
    this.bonus[i] = bonus;
    this.lm[i] = lm;
    this.hot[i] = hot;
    this.partial[i] = partial;
    this.ac[i] = ac;
    this.fromB[i] = fromB ? 1 : 0;
  }

  /** Adds a new output's score to the heap of the best ones; false when it is below all of a full heap. */
  private keepTop(score: number): boolean {
    const h = this.top;
    if (this.topSize < this.size) {
      let i = this.topSize++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (h[p]! <= score) break;
        h[i] = h[p]!;
        i = p;
      }
      h[i] = score;
      return true;
    }
    if (score < h[0]!) return false;
    // Replace the minimum and sift down.
    const n = this.topSize;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r]! < h[l]! ? r : l;
      if (h[c]! >= score) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = score;
    return true;
  }

  /** The next beam: the `size` best of the beam's outputs and the candidates, within `threshold` of the best. */
  select(beam: PrefixNode[], size: number, threshold: number): PrefixNode[] {
    const total = beam.length + this.n;
    if (this.selScore.length < total) {
      this.selScore = new Float64Array(total * 2);
      this.selRef = new Int32Array(total * 2);
    }
    const score = this.selScore;
    const ref = this.selRef;
    let m = 0;
    for (let i = 0; i < beam.length; i++) {
      const node = beam[i]!;
      const s = (this.logAdd ? logAddExp(node.nB, node.nN) : Math.max(node.nB, node.nN)) + node.bonus;
      if (s === -Infinity) continue;
      score[m] = s; ref[m] = -(i + 1); m++;
      if (s > this.best) this.best = s;
    }
    for (let j = 0; j < this.n; j++) {
      score[m] = this.ac[j]! + this.bonus[j]!; ref[m] = j; m++;
    }
    const kept = selectTop(score, ref, m, size, this.best - threshold);
    // Best first: the next frame's proposals then raise the bound on new outputs early.
    for (let i = 1; i < kept; i++) {
      const s = score[i]!;
      const r = ref[i]!;
      let j = i - 1;
      while (j >= 0 && score[j]! < s) { score[j + 1] = score[j]!; ref[j + 1] = ref[j]!; j--; }
      score[j + 1] = s;
      ref[j + 1] = r;
    }
    const t = this.t;
    const next: PrefixNode[] = [];
    for (let k = 0; k < kept; k++) {
      const r = ref[k]!;
      if (r < 0) { next.push(beam[-r - 1]!); continue; }
      const P = this.parent[r]!;
      const C = new PrefixNode(P, this.token[r]!, this.kind[r]!, this.word[r]!, this.lex[r]!, this.lmState[r], this.committed[r]!, this.bonus[r]!, this.lm[r]!, this.hot[r]!, this.partial[r]!);
      C.depth = P.depth + 1;
      C.key = this.key[r]!;
      C.hash = this.hash[r]!;
      C.nB = -Infinity;
      C.nN = this.ac[r]!;
      // P's current timing is still intact: states are swapped only below.
      C.xnPrev = P.token < 0 ? null : this.fromB[r] === 1 ? new TimeCell(P.bStart, P.bEnd, P.bPrev) : new TimeCell(P.nStart, P.nEnd, P.nPrev);
      C.xnStart = t;
      C.xnEnd = t + 1;
      next.push(C);
    }
    for (const node of next) {
      node.pB = node.nB; node.pN = node.nN;
      node.bPrev = node.xbPrev; node.bStart = node.xbStart; node.bEnd = node.xbEnd;
      node.nPrev = node.xnPrev; node.nStart = node.xnStart; node.nEnd = node.xnEnd;
    }
    // Drop references so pruned outputs can be collected.
    for (let j = 0; j < this.n; j++) { this.parent[j] = undefined as never; this.lex[j] = null; this.lmState[j] = undefined; this.hot[j] = null; }
    this.n = 0;
    return next;
  }

  private grow(cap: number): void {
    const g = <T extends Float64Array | Int32Array | Uint8Array>(a: T, make: (k: number) => T): T => { const b = make(cap); b.set(a as never); return b; };
    this.key = g(this.key, (k) => new Float64Array(k));
    this.hash = g(this.hash, (k) => new Int32Array(k));
    this.token = g(this.token, (k) => new Int32Array(k));
    this.kind = g(this.kind, (k) => new Int32Array(k));
    this.word = g(this.word, (k) => new Int32Array(k));
    this.committed = g(this.committed, (k) => new Float64Array(k));
    this.bonus = g(this.bonus, (k) => new Float64Array(k));
    this.lm = g(this.lm, (k) => new Float64Array(k));
    this.partial = g(this.partial, (k) => new Int32Array(k));
    this.ac = g(this.ac, (k) => new Float64Array(k));
    this.fromB = g(this.fromB, (k) => new Uint8Array(k));
    this.parent.length = cap; this.lex.length = cap; this.lmState.length = cap; this.hot.length = cap;
    this.cap = cap;
  }
}


/** One step of a hash of an event sequence (murmur3's finaliser over the previous hash and the event). */
function mix(h: number, key: number): number {
  let x = Math.imul(h ^ 0x3c6ef372, 0xcc9e2d51) ^ Math.imul((key | 0) + 0x9e3779b9, 0x1b873593);
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x | 0;
}

/** Whether two prefix nodes stand for the same output (walks back to their common ancestor). */
function sameOutput(a: PrefixNode, b: PrefixNode): boolean {
  while (a !== b) {
    if (a.key !== b.key || a.hash !== b.hash || a.depth !== b.depth || !a.parent || !b.parent) return false;
    a = a.parent;
    b = b.parent;
  }
  return true;
}

export function mergeN(P: PrefixNode, v: number, prev: TimeCell | null, start: number, end: number, logAdd: boolean): void {
  const cur = P.nN;
  if (v > cur) { P.xnPrev = prev; P.xnStart = start; P.xnEnd = end; }
  P.nN = logAdd ? logAddExp(cur, v) : Math.max(cur, v);
}


/**
 * Moves the (at most) k best entries scoring at least `floor` to the front of score/ref, in no particular
 * order, and returns how many there are. Quickselect: linear in m.
 */
function selectTop(score: Float64Array, ref: Int32Array, m: number, k: number, floor: number): number {
  let n = 0;
  for (let i = 0; i < m; i++) {
    if (score[i]! >= floor) { score[n] = score[i]!; ref[n] = ref[i]!; n++; }
  }
  if (n <= k) return n;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = score[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (score[i]! > pivot) i++;
      while (score[j]! < pivot) j--;
      if (i <= j) {
        const s = score[i]!; score[i] = score[j]!; score[j] = s;
        const r = ref[i]!; ref[i] = ref[j]!; ref[j] = r;
        i++; j--;
      }
    }
    if (k - 1 <= j) hi = j;
    else if (k - 1 >= i) lo = i;
    else break;
  }
  return k;
}
