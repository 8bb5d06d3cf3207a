/**
 * Builds a small back-off n-gram language model in ARPA format from text, for tests, benchmarks and the
 * embedded model. Real models should come from KenLM (`lmplz -o 3 < text > lm.arpa`); this is a faithful
 * but simple, in-memory version of the same smoothing so the project needs no native tool for small LMs.
 *
 * Smoothing: interpolated Kneser-Ney with one absolute discount per order, D_n = n1 / (n1 + 2 n2) from
 * the count-of-counts of that order (Ney et al.), and KenLM's adjusted counts: the highest order and
 * n-grams starting with <s> use raw counts, lower orders use continuation counts N1+(. w). Unigrams are
 * interpolated with the uniform distribution over the vocabulary (so <unk> gets the uniform share).
 * Written in back-off form: p(w|h) for seen n-grams is the interpolated probability and the back-off
 * weight of a context is its interpolation weight gamma(h) = D_n N1+(h .) / sum_w a(h w), which makes every
 * conditional distribution sum to one exactly (up to the printed precision).
 *
 * Usage: node --import tsx scripts/build-arpa.ts [--order 3] [--upper] [--lexicon out.lex] input.txt[.gz] output.arpa
 *   one sentence per line, words separated by spaces (gzipped input is recognised by its bytes); --upper
 *   upper-cases the text (for the torchaudio English labels); --lexicon also writes a lexicon spelling each word
 *   letter by letter, then '|'. `npm run build:lm` builds the default model's LM and lexicon this way.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

const BOS = 0;
const EOS = 1;
const UNK = 2;

export interface ArpaStats {
  order: number;
  /** n-grams written per order. */
  counts: number[];
  vocabulary: number;
  discounts: number[];
}

/** Builds ARPA text from sentences (arrays of words); `order` >= 1. */
export function buildArpa(sentences: Iterable<readonly string[]>, order = 3): { arpa: string; stats: ArpaStats } {
  if (!Number.isInteger(order) || order < 1 || order > 9) throw new Error(`order must be an integer in [1, 9], got ${order}`);
  const ids = new Map<string, number>([['<s>', BOS], ['</s>', EOS], ['<unk>', UNK]]);
  const words = ['<s>', '</s>', '<unk>'];
  const corpus: Int32Array[] = [];
  for (const s of sentences) {
    const seq = new Int32Array(s.length + 2);
    seq[0] = BOS;
    s.forEach((w, i) => {
      if (w === '<s>' || w === '</s>') throw new Error(`the text contains the reserved word ${w}`);
      let id = ids.get(w);
      if (id === undefined) { id = words.length; words.push(w); ids.set(w, id); }
      seq[i + 1] = id;
    });
    seq[s.length + 1] = EOS;
    corpus.push(seq);
  }
  const V = words.length;
  // n-gram keys: numbers while V^order fits in a double's integers, strings beyond.
  const numeric = Math.pow(V, order) < Number.MAX_SAFE_INTEGER;
  type Key = number | string;
  const keyOf = (seq: Int32Array, from: number, n: number): Key => {
    if (numeric) { let k = 0; for (let i = 0; i < n; i++) k = k * V + seq[from + i]!; return k; }
    let k = ''; for (let i = 0; i < n; i++) k += (i ? ' ' : '') + seq[from + i]; return k;
  };
  const idsOf = (key: Key, n: number): number[] => {
    if (typeof key === 'string') return key.split(' ').map(Number);
    const out = new Array<number>(n);
    let k = key;
    for (let i = n - 1; i >= 0; i--) { out[i] = k % V; k = Math.floor(k / V); }
    return out;
  };
  const keyOfIds = (a: readonly number[]): Key => keyOf(Int32Array.from(a), 0, a.length);

  // Raw counts per order (index n-1).
  const raw: Array<Map<Key, number>> = [];
  for (let n = 1; n <= order; n++) {
    const m = new Map<Key, number>();
    for (const seq of corpus) {
      for (let i = 0; i + n <= seq.length; i++) {
        if (n === 1 && seq[i] === BOS) continue;
        const k = keyOf(seq, i, n);
        m.set(k, (m.get(k) ?? 0) + 1);
      }
    }
    raw.push(m);
  }
  // Adjusted counts: continuation counts below the top order, except n-grams starting with <s>.
  const adj: Array<Map<Key, number>> = [];
  for (let n = 1; n <= order; n++) {
    if (n === order) { adj.push(raw[n - 1]!); continue; }
    const m = new Map<Key, number>();
    for (const key of raw[n]!.keys()) {
      const g = idsOf(key, n + 1);
      const suffix = keyOfIds(g.slice(1));
      m.set(suffix, (m.get(suffix) ?? 0) + 1);
    }
    for (const [key, c] of raw[n - 1]!) {
      if (idsOf(key, n)[0] === BOS) m.set(key, c);
    }
    adj.push(m);
  }
  // One discount per order from the count-of-counts.
  const discounts = adj.map((m) => {
    let n1 = 0;
    let n2 = 0;
    for (const c of m.values()) { if (c === 1) n1++; else if (c === 2) n2++; }
    const d = n1 > 0 && n2 > 0 ? n1 / (n1 + 2 * n2) : 0.5;
    return Math.min(Math.max(d, 0.05), 0.95);
  });

  // Interpolated probabilities, order by order; gamma per context.
  const prob: Array<Map<Key, number>> = [];
  const gamma: Array<Map<Key, number>> = []; // gamma[n-1]: contexts of length n-1 used at order n
  {
    const D = discounts[0]!;
    let A = 0;
    let types = 0;
    for (const [key, c] of adj[0]!) if (key !== keyOfIds([BOS])) { A += c; types++; }
    const g0 = (D * types) / A;
    const uniform = 1 / (V - 1); // every word but <s>
    const p = new Map<Key, number>();
    for (let w = 1; w < V; w++) {
      const c = adj[0]!.get(keyOfIds([w])) ?? 0;
      p.set(keyOfIds([w]), Math.max(c - D, 0) / A + g0 * uniform);
    }
    prob.push(p);
    gamma.push(new Map([[keyOfIds([]), g0]]));
  }
  for (let n = 2; n <= order; n++) {
    const D = discounts[n - 1]!;
    const totals = new Map<Key, { sum: number; types: number }>();
    for (const [key, c] of adj[n - 1]!) {
      const h = keyOfIds(idsOf(key, n).slice(0, -1));
      const t = totals.get(h) ?? { sum: 0, types: 0 };
      t.sum += c;
      t.types++;
      totals.set(h, t);
    }
    const gm = new Map<Key, number>();
    for (const [h, t] of totals) gm.set(h, (D * t.types) / t.sum);
    const p = new Map<Key, number>();
    for (const [key, c] of adj[n - 1]!) {
      const g = idsOf(key, n);
      const h = keyOfIds(g.slice(0, -1));
      const lower = prob[n - 2]!.get(keyOfIds(g.slice(1)));
      if (lower === undefined) throw new Error(`internal: missing lower-order n-gram for ${g.map((i) => words[i]).join(' ')}`);
      p.set(key, (c - D) / totals.get(h)!.sum + gm.get(h)! * lower);
    }
    prob.push(p);
    gamma.push(gm);
  }

  const fmt = (x: number): string => String(Number(Math.log10(x).toPrecision(8)));
  const lines: string[] = ['\\data\\'];
  const counts: number[] = [];
  for (let n = 1; n <= order; n++) {
    const c = n === 1 ? V : prob[n - 1]!.size;
    counts.push(c);
    lines.push(`ngram ${n}=${c}`);
  }
  lines.push('');
  for (let n = 1; n <= order; n++) {
    lines.push(`\\${n}-grams:`);
    const entries: Array<[number[], number]> = [];
    if (n === 1) entries.push([[BOS], NaN]);
    for (const [key, p] of prob[n - 1]!) entries.push([idsOf(key, n), p]);
    entries.sort((a, b) => { for (let i = 0; i < n; i++) if (a[0][i] !== b[0][i]) return a[0][i]! - b[0][i]!; return 0; });
    for (const [g, p] of entries) {
      const text = g.map((i) => words[i]).join(' ');
      const bo = n < order ? gamma[n]!.get(keyOfIds(g)) : undefined;
      const lp = Number.isNaN(p) ? '-99' : fmt(p);
      lines.push(bo === undefined ? `${lp}\t${text}` : `${lp}\t${text}\t${fmt(bo)}`);
    }
    lines.push('');
  }
  lines.push('\\end\\', '');
  return { arpa: lines.join('\n'), stats: { order, counts, vocabulary: V, discounts } };
}

/**
 * A text file's contents, gunzipped when it starts with gzip's magic bytes. Anything that is not UTF-8 text (a
 * compressed or binary file) is refused: its bytes would otherwise become "words" of a useless LM.
 */
export function readText(path: string): string {
  let bytes = readFileSync(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${path} is not UTF-8 text (a binary or compressed file other than gzip?)`);
  }
  if (text.includes('\0')) throw new Error(`${path} is not text: it holds NUL bytes`);
  return text;
}

/** Sentences of a text: one per non-empty line, words split on whitespace. */
export function sentencesOf(text: string, upper = false): string[][] {
  return text.split('\n').map((l) => (upper ? l.toUpperCase() : l).trim()).filter((l) => l.length > 0).map((l) => l.split(/\s+/));
}

function main(argv: string[]): void {
  let order = 3;
  let upper = false;
  let lexicon: string | undefined;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--order') order = Number(argv[++i]);
    else if (a === '--upper') upper = true;
    else if (a === '--lexicon') lexicon = argv[++i];
    else files.push(a);
  }
  if (files.length !== 2) {
    console.error('usage: node --import tsx scripts/build-arpa.ts [--order 3] [--upper] [--lexicon out.lex] input.txt[.gz] output.arpa');
    process.exit(2);
  }
  const sentences = sentencesOf(readText(files[0]!), upper);
  if (sentences.length === 0) throw new Error(`${files[0]} holds no sentence: nothing to build an LM from`);
  const { arpa, stats } = buildArpa(sentences, order);
  writeFileSync(files[1]!, arpa);
  if (lexicon) {
    const vocab = [...new Set(sentences.flat())].sort();
    writeFileSync(lexicon, vocab.map((w) => `${w} ${[...w.toUpperCase()].join(' ')} |`).join('\n') + '\n');
  }
  console.log(`${files[1]}: order ${stats.order}, ${stats.counts.map((c, i) => `${c} ${i + 1}-grams`).join(', ')}, vocabulary ${stats.vocabulary}, discounts ${stats.discounts.map((d) => d.toFixed(3)).join(' ')}`);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(`build-arpa: ${(err as Error).message}`);
    process.exit(1);
  }
}
