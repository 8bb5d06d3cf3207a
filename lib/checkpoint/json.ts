/**
 * The JSON files of a checkpoint folder (config.json, tokenizer and preprocessor files, sharded indexes): read with
 * a size cap before parsing, and required to be a JSON object. Every failure is CHECKPOINT_INVALID naming the file.
 */
import { readFileSync, statSync } from 'node:fs';
import { Wav2Vec2Error } from '../errors';

export type JsonObject = Record<string, unknown>;

/** Caps by what a file holds; MMS-style multilingual vocab.json files run to a few MB. */
export const MAX_JSON_BYTES = { small: 4 * 1024 * 1024, large: 64 * 1024 * 1024 };

export function checkpointError(file: string, what: string): Wav2Vec2Error {
  return new Wav2Vec2Error('CHECKPOINT_INVALID', `${file}: ${what}.`);
}

/** Parses `text` as a JSON object. */
export function parseJsonObject(file: string, text: string): JsonObject {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw checkpointError(file, `not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(v)) throw checkpointError(file, `expected a JSON object, found ${Array.isArray(v) ? 'an array' : v === null ? 'null' : `a ${typeof v}`}`);
  return v;
}

/** Reads a JSON object file, or returns undefined when there is no such file. */
export function readJsonObject(file: string, maxBytes = MAX_JSON_BYTES.small): JsonObject | undefined {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw checkpointError(file, 'not a regular file');
    size = st.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err instanceof Wav2Vec2Error ? err : checkpointError(file, `cannot be read (${(err as Error).message})`);
  }
  if (size > maxBytes) throw checkpointError(file, `${size} bytes; the limit for this file is ${maxBytes}`);
  return parseJsonObject(file, readFileSync(file, 'utf8'));
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
