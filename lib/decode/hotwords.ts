import { invalid } from '../errors';
import { isFiniteNumber } from '../is';

/**
 * Hotword boosting as pyctcdecode does it: every complete occurrence of a hotword adds `weight` to a
 * hypothesis' score, and a word in progress that is a prefix of a hotword gets the share
 * `weight * spelled / length` of it (length of the shortest hotword it can still become), so the beam keeps
 * hotwords alive before they are complete. Phrases are boosted word by word, as in pyctcdecode.
 */

export const DEFAULT_HOTWORD_WEIGHT = 10;

export interface Hotwords {
  /** Words or phrases to boost (phrases are split into words). */
  words: readonly string[];
  /** Added (natural-log units) per complete hotword; default 10 (pyctcdecode's default). Negative suppresses. */
  weight?: number;
}

/** A node of the hotword spelling trie. */
export class HotNode {
  readonly tokens: number[] = [];
  readonly children: HotNode[] = [];
  /** A hotword's spelling ends here. */
  terminal = false;
  /** Length of the shortest hotword spelling through this node. */
  minLength = Infinity;
  /** Partial-word bonus for a word spelled up to here: weight * depth / minLength. */
  bonus = 0;

  constructor(readonly depth: number) {}

  child(token: number): HotNode | null {
    const i = this.tokens.indexOf(token);
    return i < 0 ? null : this.children[i]!;
  }
}

export function checkHotwords(value: unknown): { words: string[]; weight: number } | undefined {
  if (value === undefined || value === null) return undefined;
  const h = value as Hotwords;
  const list: unknown = Array.isArray(value) ? value : h.words;
  if (!Array.isArray(list) || !list.every((w) => typeof w === 'string')) {
    throw invalid('DECODE_INVALID_INPUT', 'hotwords', '{ words: string[], weight?: number } or a string array', value);
  }
  const weight = Array.isArray(value) ? DEFAULT_HOTWORD_WEIGHT : h.weight ?? DEFAULT_HOTWORD_WEIGHT;
  if (!isFiniteNumber(weight)) throw invalid('DECODE_INVALID_INPUT', 'hotwords.weight', 'a finite number', weight);
  const words = [...new Set((list as string[]).flatMap((p) => p.trim().split(/\s+/)).filter((w) => w.length > 0))];
  return words.length === 0 ? undefined : { words, weight };
}

/** Hotwords compiled against the token set the search runs on. */
export class HotwordBooster {
  readonly root = new HotNode(0);
  readonly weight: number;
  /** Hotwords in lower case, to recognise complete lexicon words whatever their case. */
  private readonly lower: Set<string>;

  /** `spellings(word)`: the token spellings a word can take (empty when it cannot be spelled). */
  constructor(words: readonly string[], weight: number, spellings: (word: string) => number[][]) {
    this.weight = weight;
    this.lower = new Set(words.map((w) => w.toLowerCase()));
    for (const w of words) {
      for (const ids of spellings(w)) {
        if (ids.length === 0) continue;
        let node = this.root;
        node.minLength = Math.min(node.minLength, ids.length);
        for (const id of ids) {
          let next = node.child(id);
          if (!next) {
            next = new HotNode(node.depth + 1);
            node.tokens.push(id);
            node.children.push(next);
          }
          next.minLength = Math.min(next.minLength, ids.length);
          node = next;
        }
        node.terminal = true;
      }
    }
    const visit = (n: HotNode): void => {
      n.bonus = n.depth === 0 ? 0 : (weight * n.depth) / n.minLength;
      n.children.forEach(visit);
    };
    visit(this.root);
  }

  /** Whether a complete word is a hotword (case-insensitive). */
  isHotword(word: string): boolean {
    return this.lower.has(word.toLowerCase());
  }
}
