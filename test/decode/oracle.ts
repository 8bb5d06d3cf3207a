/**
 * Independent references for the decoding tests: brute-force enumeration of every CTC alignment of a
 * short emission. Nothing here shares code with lib/decode.
 */

/** Deterministic PRNG (the project's mulberry32; a generator, not decoding code). */
export { mulberry32 as rng } from '../../scripts/random';

/** Random logits, uniform in [-scale, scale]. */
export function randomLogits(r: () => number, frames: number, classes: number, scale = 2): Float32Array {
  const out = new Float32Array(frames * classes);
  for (let i = 0; i < out.length; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

/** log-softmax per row in float64. */
export function logSoftmax64(data: ArrayLike<number>, frames: number, classes: number): Float64Array {
  const out = new Float64Array(frames * classes);
  for (let t = 0; t < frames; t++) {
    let m = -Infinity;
    for (let c = 0; c < classes; c++) m = Math.max(m, data[t * classes + c]!);
    let s = 0;
    for (let c = 0; c < classes; c++) s += Math.exp(data[t * classes + c]! - m);
    for (let c = 0; c < classes; c++) out[t * classes + c] = data[t * classes + c]! - m - Math.log(s);
  }
  return out;
}

/** Calls `visit` with every path in [0, classes)^frames (the array is reused). */
export function forEachPath(frames: number, classes: number, visit: (path: Int32Array) => void): void {
  const path = new Int32Array(frames);
  const total = Math.pow(classes, frames);
  for (let k = 0; k < total; k++) {
    let x = k;
    for (let t = frames - 1; t >= 0; t--) { path[t] = x % classes; x = Math.floor(x / classes); }
    visit(path);
  }
}

/** CTC collapse: merge repeats, then drop blanks. */
export function collapse(path: ArrayLike<number>, blank: number): number[] {
  const out: number[] = [];
  for (let t = 0; t < path.length; t++) {
    if (path[t] === blank) continue;
    if (t > 0 && path[t] === path[t - 1]) continue;
    out.push(path[t]!);
  }
  return out;
}

export interface OutputProb {
  tokens: number[];
  /** log P(output): log-sum-exp over its alignments (logAdd) or the best alignment's log-probability. */
  score: number;
  /** The best alignment, and the [start, end) frames of each token on it. */
  bestPath: Int32Array;
  bestScore: number;
  starts: number[];
  ends: number[];
}

/** Every output with non-zero probability, by enumerating all alignments of log-probabilities `lp`. */
export function ctcOutputs(lp: ArrayLike<number>, frames: number, classes: number, blank: number, logAdd: boolean): Map<string, OutputProb> {
  const out = new Map<string, OutputProb>();
  forEachPath(frames, classes, (path) => {
    let s = 0;
    for (let t = 0; t < frames; t++) s += lp[t * classes + path[t]!]!;
    const tokens = collapse(path, blank);
    const key = tokens.join(',');
    const o = out.get(key);
    if (!o) {
      out.set(key, { tokens, score: s, bestPath: path.slice(), bestScore: s, starts: [], ends: [] });
      return;
    }
    if (logAdd) {
      const m = Math.max(o.score, s);
      o.score = m + Math.log(Math.exp(o.score - m) + Math.exp(s - m));
    } else {
      o.score = Math.max(o.score, s);
    }
    if (s > o.bestScore) { o.bestScore = s; o.bestPath = path.slice(); }
  });
  for (const o of out.values()) {
    const p = o.bestPath;
    for (let t = 0; t < frames; t++) {
      if (p[t] === blank) continue;
      if (t > 0 && p[t] === p[t - 1]) { o.ends[o.ends.length - 1] = t + 1; continue; }
      o.starts.push(t);
      o.ends.push(t + 1);
    }
  }
  return out;
}

/** The best alignment of `frames` frames spelling exactly `target` (max log-probability), by enumeration. */
export function bestAlignment(lp: ArrayLike<number>, frames: number, classes: number, blank: number, target: readonly number[]): { path: Int32Array; score: number } | null {
  let best: { path: Int32Array; score: number } | null = null;
  const key = target.join(',');
  forEachPath(frames, classes, (path) => {
    if (collapse(path, blank).join(',') !== key) return;
    let s = 0;
    for (let t = 0; t < frames; t++) s += lp[t * classes + path[t]!]!;
    if (!best || s > best.score) best = { path: path.slice(), score: s };
  });
  return best;
}

/**
 * Textbook CTC prefix beam search (no LM): prefixes keyed by their token string, each with the
 * probabilities of ending in blank and in its last token; after every frame the `beamSize` best prefixes
 * are kept. The reference for long emissions, where enumerating alignments is impossible.
 */
export function prefixBeamSearch(lp: ArrayLike<number>, frames: number, classes: number, blank: number, beamSize: number, logAdd: boolean): Array<{ tokens: number[]; score: number }> {
  const merge = (a: number, b: number): number => {
    if (!logAdd) return Math.max(a, b);
    if (a === -Infinity) return b;
    if (b === -Infinity) return a;
    const m = Math.max(a, b);
    return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
  };
  interface Beam { tokens: number[]; pb: number; pnb: number }
  let beams = new Map<string, Beam>([['', { tokens: [], pb: 0, pnb: -Infinity }]]);
  for (let t = 0; t < frames; t++) {
    const next = new Map<string, Beam>();
    const add = (tokens: number[], pb: number, pnb: number): void => {
      const key = tokens.join(',');
      const b = next.get(key);
      if (!b) next.set(key, { tokens, pb, pnb });
      else { b.pb = merge(b.pb, pb); b.pnb = merge(b.pnb, pnb); }
    };
    for (const b of beams.values()) {
      const total = merge(b.pb, b.pnb);
      const last = b.tokens.length ? b.tokens[b.tokens.length - 1]! : -1;
      add(b.tokens, total + lp[t * classes + blank]!, -Infinity);
      if (last >= 0) add(b.tokens, -Infinity, b.pnb + lp[t * classes + last]!);
      for (let c = 0; c < classes; c++) {
        if (c === blank) continue;
        add([...b.tokens, c], -Infinity, (c === last ? b.pb : total) + lp[t * classes + c]!);
      }
    }
    const sorted = [...next.values()].sort((x, y) => merge(y.pb, y.pnb) - merge(x.pb, x.pnb));
    beams = new Map(sorted.slice(0, beamSize).map((b) => [b.tokens.join(','), b]));
  }
  return [...beams.values()].map((b) => ({ tokens: b.tokens, score: merge(b.pb, b.pnb) })).sort((x, y) => y.score - x.score);
}
