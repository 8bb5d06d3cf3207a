import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { invalid, Wav2Vec2Error } from '../errors';
import { isObject } from '../is';
import { cannotRead } from './files';

/**
 * Lexicons: which words the beam search may output and how each is spelled in the model's tokens. The
 * file format is torchaudio's/flashlight's: one `word token token ...` per line, a word on several lines
 * has several spellings, e.g. `hello H E L L O |`.
 */

export interface LexiconEntry {
  word: string;
  spelling: string[];
  /** 1-based line in the file the entry came from (for error messages). */
  line?: number;
}

export class Lexicon {
  readonly entries: readonly LexiconEntry[];
  readonly source: string;

  constructor(entries: readonly LexiconEntry[], source = 'lexicon') {
    this.entries = entries;
    this.source = source;
  }

  /** Parses lexicon text; blank lines and lines starting with '#' are skipped. */
  static parse(text: string, source = 'lexicon text'): Lexicon {
    if (typeof text !== 'string') throw invalid('LEXICON_INVALID', 'lexicon text', 'a string', text);
    const entries: LexiconEntry[] = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === '' || line.startsWith('#')) continue;
      const parts = line.split(/\s+/);
      if (parts.length < 2) {
        throw new Wav2Vec2Error('LEXICON_INVALID', `${source}, line ${i + 1}: expected "word token token ...", got ${JSON.stringify(line.slice(0, 60))} (a word with no spelling).`);
      }
      entries.push({ word: parts[0]!, spelling: parts.slice(1), line: i + 1 });
    }
    if (entries.length === 0) throw new Wav2Vec2Error('LEXICON_INVALID', `${source}: no entries.`);
    return new Lexicon(entries, source);
  }

  static loadSync(path: string): Lexicon {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw cannotRead('LEXICON_INVALID', 'lexicon', path, err);
    }
    return Lexicon.parse(text, path);
  }

  static async load(path: string): Promise<Lexicon> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw cannotRead('LEXICON_INVALID', 'lexicon', path, err);
    }
    return Lexicon.parse(text, path);
  }

  /** From `{ word: spelling }` / `{ word: [spelling, ...] }` / `[word, spelling][]`, spellings as token arrays. */
  static from(words: Record<string, string[] | string[][]> | Map<string, string[] | string[][]> | Array<[string, string[]]>): Lexicon {
    const pairs: Array<[string, unknown]> = Array.isArray(words) ? words
      : words instanceof Map ? [...words.entries()]
      : isObject(words) ? Object.entries(words) : [];
    if (pairs.length === 0) throw invalid('LEXICON_INVALID', 'lexicon', 'a non-empty map of words to spellings', words);
    const entries: LexiconEntry[] = [];
    for (const [word, sp] of pairs) {
      if (typeof word !== 'string' || word.length === 0 || /\s/.test(word)) throw invalid('LEXICON_INVALID', 'lexicon word', 'a non-empty string without spaces', word);
      const spellings = Array.isArray(sp) && sp.length > 0 && Array.isArray(sp[0]) ? sp as unknown[] : [sp];
      for (const s of spellings) {
        if (!Array.isArray(s) || s.length === 0 || !s.every((t) => typeof t === 'string' && t.length > 0)) {
          throw invalid('LEXICON_INVALID', `spelling of ${JSON.stringify(word)}`, 'a non-empty array of token strings', s);
        }
        entries.push({ word, spelling: s as string[] });
      }
    }
    return new Lexicon(entries, 'lexicon');
  }

  /** Number of distinct words. */
  get size(): number {
    return new Set(this.entries.map((e) => e.word)).size;
  }
}

/** Shared by nodes until they get their first child or word: a 100k-word trie has ~500k nodes. */
const NONE: never[] = [];

/** A node of the spelling trie: the tokens spelled so far lead here. */
export class TrieNode {
  /** Tokens of the children, parallel to `children` (do not mutate: shared while empty). */
  tokens: number[] = NONE;
  children: TrieNode[] = NONE;
  /** Word ids whose spelling ends here (do not mutate: shared while empty). */
  words: number[] = NONE;
  /** Best unigram LM score (ln) of any word at or below this node: the look-ahead ("smearing") score. */
  smear = 0;
  readonly depth: number;

  constructor(depth: number) {
    this.depth = depth;
  }

  child(token: number): TrieNode | undefined {
    const i = this.tokens.indexOf(token);
    return i < 0 ? undefined : this.children[i];
  }
}

/** The lexicon compiled against a token set: word ids, and a trie of spellings. */
export class LexiconTrie {
  readonly root = new TrieNode(0);
  readonly words: string[] = [];
  readonly wordIds = new Map<string, number>();
  nodes = 1;
  /** Whether most spellings end with the silence token (`hello H E L L O |`). */
  readonly spellingsEndWithSilence: boolean;

  constructor(lexicon: Lexicon, tokenIndex: ReadonlyMap<string, number>, silence: number, blank: number) {
    let endsWithSil = 0;
    for (const e of lexicon.entries) {
      const ids: number[] = [];
      for (const tok of e.spelling) {
        const id = tokenIndex.get(tok);
        if (id === undefined || id === blank) {
          const where = `${lexicon.source}${e.line ? `, line ${e.line}` : ''}`;
          throw new Wav2Vec2Error('LEXICON_INVALID', id === undefined
            ? `${where}: the spelling of ${JSON.stringify(e.word)} uses ${JSON.stringify(tok)}, which is not one of the tokens. Spell words with the model's labels (e.g. upper-case letters and '|').`
            : `${where}: the spelling of ${JSON.stringify(e.word)} uses the blank token ${JSON.stringify(tok)}.`);
        }
        ids.push(id);
      }
      if (ids[ids.length - 1] === silence) endsWithSil++;
      this.add(e.word, ids);
    }
    this.spellingsEndWithSilence = endsWithSil * 2 >= lexicon.entries.length;
  }

  /** Adds a spelling (returns the word id); used for lexicon entries and for hotwords missing from it. */
  add(word: string, ids: readonly number[]): number {
    let w = this.wordIds.get(word);
    if (w === undefined) {
      w = this.words.length;
      this.words.push(word);
      this.wordIds.set(word, w);
    }
    let node = this.root;
    for (const id of ids) {
      let next = node.child(id);
      if (!next) {
        next = new TrieNode(node.depth + 1);
        if (node.tokens === NONE) { node.tokens = []; node.children = []; }
        node.tokens.push(id);
        node.children.push(next);
        this.nodes++;
      }
      node = next;
    }
    if (!node.words.includes(w)) {
      if (node.words === NONE) node.words = [];
      node.words.push(w);
    }
    return w;
  }

  /** The spellings of a word id (a walk over the whole trie: for the few hotwords, not per frame). */
  spellingsOf(word: number): number[][] {
    const out: number[][] = [];
    const path: number[] = [];
    const visit = (node: TrieNode): void => {
      if (node.words.includes(word)) out.push(path.slice());
      for (let i = 0; i < node.children.length; i++) {
        path.push(node.tokens[i]!);
        visit(node.children[i]!);
        path.pop();
      }
    };
    visit(this.root);
    return out;
  }

  /** Sets every node's look-ahead score from per-word unigram scores (max over the words below it). */
  smear(wordScore: (word: number) => number): void {
    const scores = this.words.map((_, w) => wordScore(w));
    const visit = (node: TrieNode): number => {
      let best = -Infinity;
      for (const w of node.words) if (scores[w]! > best) best = scores[w]!;
      for (const c of node.children) {
        const s = visit(c);
        if (s > best) best = s;
      }
      node.smear = best;
      return best;
    };
    // Iterative would avoid deep recursion, but depth is the longest spelling (tens of tokens).
    visit(this.root);
    this.root.smear = 0;
  }
}

/**
 * Token indices spelling `word` with `labels`: greedy longest match, trying the word as written, then upper
 * case, then lower case (the torchaudio English labels are upper case); never with label `exclude` (the
 * blank). Returns undefined if impossible.
 */
export function spellWord(word: string, labels: readonly string[], exclude = -1): number[] | undefined {
  const index = new Map<string, number>();
  labels.forEach((l, i) => { if (l.length > 0 && i !== exclude && !index.has(l)) index.set(l, i); });
  let longest = 1;
  for (const l of index.keys()) longest = Math.max(longest, l.length);
  for (const form of [word, word.toUpperCase(), word.toLowerCase()]) {
    const ids: number[] = [];
    let i = 0;
    while (i < form.length) {
      let matched = 0;
      for (let len = Math.min(longest, form.length - i); len > 0; len--) {
        const id = index.get(form.slice(i, i + len));
        if (id !== undefined) { ids.push(id); matched = len; break; }
      }
      if (matched === 0) break;
      i += matched;
    }
    if (i === form.length && ids.length > 0) return ids;
  }
  return undefined;
}
