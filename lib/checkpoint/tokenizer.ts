/**
 * The labels of a CTC head from Wav2Vec2CTCTokenizer's files: vocab.json (token → id), added_tokens.json and
 * tokenizer_config.json's `added_tokens_decoder` (tokens past the vocabulary), and the special tokens from
 * tokenizer_config.json, overridden by special_tokens_map.json as transformers does when it loads them. The pad
 * token is the CTC blank. The ids must cover 0..n-1 exactly once: a gap or a clash would shift every label after it.
 */
import { join } from 'node:path';
import { checkpointError, isObject, MAX_JSON_BYTES, readJsonObject, type JsonObject } from './json';
import type { TokenizerInfo } from './types';

/** Larger than any CTC vocabulary (MMS's all-language vocab.json is read per language). */
export const MAX_LABELS = 1_000_000;

export interface TokenizerFiles {
  /** The checkpoint folder, for messages. */
  dir: string;
  vocab: JsonObject;
  config?: JsonObject;
  specialTokens?: JsonObject;
  addedTokens?: JsonObject;
}

/** Reads the tokenizer files of a checkpoint folder; undefined when it has no vocab.json. */
export function readTokenizer(dir: string): TokenizerInfo | undefined {
  const vocab = readJsonObject(join(dir, 'vocab.json'), MAX_JSON_BYTES.large);
  if (!vocab) return undefined;
  return tokenizerFrom({
    dir,
    vocab,
    config: readJsonObject(join(dir, 'tokenizer_config.json')),
    specialTokens: readJsonObject(join(dir, 'special_tokens_map.json')),
    addedTokens: readJsonObject(join(dir, 'added_tokens.json')),
  });
}

export function tokenizerFrom(f: TokenizerFiles): TokenizerInfo {
  const vocabPath = join(f.dir, 'vocab.json');
  const configPath = join(f.dir, 'tokenizer_config.json');
  const config = f.config ?? {};
  const special = { ...config, ...(f.specialTokens ?? {}) };
  const ids = new Map<number, string>();
  const add = (token: string, id: unknown, where: string) => {
    if (!Number.isSafeInteger(id) || (id as number) < 0 || (id as number) >= MAX_LABELS) {
      throw checkpointError(where, `token ${JSON.stringify(token)} has id ${JSON.stringify(id)}; ids are integers from 0`);
    }
    const known = ids.get(id as number);
    if (known !== undefined && known !== token) throw checkpointError(where, `tokens ${JSON.stringify(known)} and ${JSON.stringify(token)} share id ${id}`);
    ids.set(id as number, token);
  };
  for (const [token, id] of Object.entries(vocabOf(vocabPath, f.vocab, config))) add(token, id, vocabPath);
  for (const [token, id] of Object.entries(f.addedTokens ?? {})) add(token, id, join(f.dir, 'added_tokens.json'));
  const decoder = config.added_tokens_decoder;
  if (decoder !== undefined) {
    if (!isObject(decoder)) throw checkpointError(configPath, '"added_tokens_decoder" is not an object');
    for (const [id, entry] of Object.entries(decoder)) add(tokenText(configPath, entry, 'an added_tokens_decoder entry'), /^\d+$/.test(id) ? Number(id) : id, configPath);
  }
  const labels = denseLabels(vocabPath, ids);
  const pad = specialToken(configPath, special, 'pad_token', '<pad>');
  const blank = labels.indexOf(pad);
  if (blank < 0) throw checkpointError(vocabPath, `the pad token ${JSON.stringify(pad)} (the CTC blank) is not in the vocabulary`);
  const delimiter = specialToken(configPath, special, 'word_delimiter_token', '|');
  const lowerCase = config.do_lower_case ?? false;
  if (typeof lowerCase !== 'boolean') throw checkpointError(configPath, `"do_lower_case" is ${JSON.stringify(lowerCase)}, not a boolean`);
  return { labels, blank, ...(labels.includes(delimiter) ? { wordDelimiter: delimiter } : {}), lowerCase };
}

/**
 * vocab.json maps tokens to ids, or, in multilingual checkpoints (MMS), languages to such maps; those need
 * tokenizer_config.json's `target_lang` to pick one.
 */
function vocabOf(path: string, vocab: JsonObject, config: JsonObject): JsonObject {
  const values = Object.values(vocab);
  if (values.length === 0) throw checkpointError(path, 'the vocabulary is empty');
  if (!values.every(isObject)) return vocab;
  const lang = config.target_lang;
  if (typeof lang !== 'string') throw checkpointError(path, 'a vocabulary per language, and tokenizer_config.json names no "target_lang" to pick one');
  const chosen = vocab[lang];
  if (!isObject(chosen)) throw checkpointError(path, `no vocabulary for target_lang ${JSON.stringify(lang)}`);
  return chosen;
}

/** Special tokens are strings, or AddedToken objects ({"content": ..., "__type": "AddedToken"}). */
function specialToken(file: string, special: JsonObject, key: string, fallback: string): string {
  const v = special[key];
  return v === undefined || v === null ? fallback : tokenText(file, v, key);
}

function tokenText(file: string, v: unknown, where: string): string {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  throw checkpointError(file, `${where} is ${JSON.stringify(v)?.slice(0, 80)}, not a token`);
}

function denseLabels(path: string, ids: Map<number, string>): string[] {
  const labels = new Array<string>(ids.size);
  for (const [id, token] of ids) {
    if (id >= ids.size) throw checkpointError(path, `token ${JSON.stringify(token)} has id ${id}, but there are only ${ids.size} tokens: ids must be 0..${ids.size - 1} with no gaps`);
    labels[id] = token;
  }
  return labels;
}
