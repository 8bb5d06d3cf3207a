/**
 * The `language_model/` folder Wav2Vec2ProcessorWithLM saves (pyctcdecode's LanguageModel.save_to_dir): attrs.json
 * (alpha, beta, unk_score_offset, score_boundary), unigrams.txt, and one KenLM file under its original name, `.arpa`
 * or a KenLM binary (`.bin`/`.binary`). ARPA files load into our beam decoder; a KenLM binary cannot be read back
 * into ARPA, so it is refused with LM_UNSUPPORTED and what to do instead.
 */
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { extname, join } from 'node:path';
import { Wav2Vec2Error } from '../errors';
import { readJsonObject } from './json';
import { isDirectory, isFile } from './source';
import type { LanguageModelInfo } from './types';

/** Every KenLM binary file starts with this (kenlm/lm/binary_format.cc). */
export const KENLM_MAGIC = 'mmap lm http://kheafield.com/code';
const KENLM_EXTENSIONS = new Set(['.arpa', '.bin', '.binary']);

function lmError(file: string, what: string): Wav2Vec2Error {
  return new Wav2Vec2Error('LM_INVALID', `${file}: ${what}.`);
}

/** Reads `<dir>/language_model/`; undefined when the checkpoint has none. */
export function readLanguageModel(dir: string): LanguageModelInfo | undefined {
  const lmDir = join(dir, 'language_model');
  if (!isDirectory(lmDir)) return undefined;
  const attrsPath = join(lmDir, 'attrs.json');
  let attrs;
  try {
    attrs = readJsonObject(attrsPath);
  } catch (err) {
    throw lmError(attrsPath, (err as Error).message.replace(/^.*?: /, '').replace(/\.$/, ''));
  }
  if (!attrs) throw lmError(lmDir, 'no attrs.json (pyctcdecode writes alpha and beta there)');
  const alpha = attrs.alpha;
  const beta = attrs.beta;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || typeof beta !== 'number' || !Number.isFinite(beta)) {
    throw lmError(attrsPath, `alpha and beta must be finite numbers; found ${JSON.stringify(alpha)} and ${JSON.stringify(beta)}`);
  }
  const unigrams = join(lmDir, 'unigrams.txt');
  return { arpa: arpaFile(lmDir), alpha, beta, ...(isFile(unigrams) ? { unigrams } : {}) };
}

/** The one KenLM file pyctcdecode allows next to attrs.json and unigrams.txt, checked to be ARPA text. */
function arpaFile(lmDir: string): string {
  const candidates = readdirSync(lmDir).filter((f) => !f.startsWith('.') && KENLM_EXTENSIONS.has(extname(f).toLowerCase()));
  if (candidates.length !== 1) {
    throw lmError(lmDir, candidates.length === 0 ? 'no language model file (.arpa, .bin or .binary)' : `several language model files (${candidates.join(', ')}); pyctcdecode allows one`);
  }
  const path = join(lmDir, candidates[0]!);
  const head = readHead(path, 4096);
  if (head.startsWith(KENLM_MAGIC) || extname(path).toLowerCase() !== '.arpa') {
    throw new Wav2Vec2Error('LM_UNSUPPORTED', `${path} is a KenLM binary language model; only ARPA files can be loaded, and a binary cannot be converted back to ARPA. ` +
      'Use the ARPA file it was built from (ask the model\'s author, or look for an .arpa in the repository\'s history), or build a new one from text with KenLM\'s lmplz (or scripts/build-arpa.ts) and pass it as the decoder\'s lm.');
  }
  if (!/^\s*\\data\\/.test(head)) throw lmError(path, 'not an ARPA file: it does not start with \\data\\');
  return path;
}

function readHead(path: string, n: number): string {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(n);
    return b.toString('latin1', 0, readSync(fd, b, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}
