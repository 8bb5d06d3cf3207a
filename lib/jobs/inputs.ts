/**
 * What a batch job reads: audio files, directories (walked recursively for audio file names), glob patterns, and
 * manifests (`.csv` / `.jsonl` lists of paths with optional ids), expanded into one list of files with stable ids.
 *
 * The id names a file's results and decides what a rerun skips: a manifest's id when it gives one, else the file's
 * absolute path (so a rerun from another directory still finds them). Output files are named by `key`: a readable
 * part of the id plus a hash of all of it, so two ids never share a name and no id can escape the output folder.
 */
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { glob, isDynamicPattern } from 'tinyglobby';
import { Wav2Vec2Error } from '../errors';

export interface JobInput {
  id: string;
  /** Absolute path of the audio file. */
  path: string;
  /** File-name-safe, unique name for this input's outputs. */
  key: string;
  /** Why this input fails without being read (a link to nothing): recorded in failures.jsonl like any failure. */
  error?: Wav2Vec2Error;
}

/** A path found by expanding the inputs, before ids are given. */
interface Found {
  path: string;
  id?: string;
  error?: Wav2Vec2Error;
}

/** Extensions a directory walk picks up (a file named explicitly is read whatever its name: formats are sniffed). */
export const AUDIO_EXTENSIONS = ['.wav', '.flac', '.mp3', '.ogg', '.oga'];
const MANIFEST_EXTENSIONS = ['.csv', '.jsonl'];
const PATH_COLUMNS = ['path', 'file', 'audio', 'filename'];

export function keyOf(id: string): string {
  const hash = createHash('sha1').update(id).digest('hex').slice(0, 10);
  const readable = basename(id).replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(-60);
  return `${readable || 'input'}-${hash}`;
}

function bad(message: string): Wav2Vec2Error {
  return new Wav2Vec2Error('BATCH_INPUT_INVALID', message);
}

function isAudio(name: string): boolean {
  return AUDIO_EXTENSIONS.includes(extname(name).toLowerCase());
}

/** The error of a link whose target is missing (or a loop of links): the input fails with it, visibly. */
async function brokenLink(path: string, err: unknown): Promise<Wav2Vec2Error> {
  const target = await readlink(path).catch(() => '?');
  return new Wav2Vec2Error('BATCH_INPUT_BROKEN_LINK',
    `${path} is a symbolic link to ${target}, which cannot be opened (${(err as NodeJS.ErrnoException)?.code ?? String(err)}). Fix or remove the link, then rerun.`);
}

/**
 * Walks `dir` for audio file names, in name order, following symbolic links to files and folders. `walked` holds
 * the real paths of the folders walked so far: a link back up the tree (a loop) or to a folder seen before is not
 * walked again. Links to nothing are kept, with their error.
 */
async function walk(dir: string, out: Found[], walked: Set<string>): Promise<void> {
  const real = await realpath(dir);
  if (walked.has(real)) return;
  walked.add(real);
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    let isDir = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      try {
        const s = await stat(p);
        isDir = s.isDirectory();
        isFile = s.isFile();
      } catch (err) {
        if (isAudio(e.name)) out.push({ path: p, error: await brokenLink(p, err) });
        continue;
      }
    }
    if (isDir) await walk(p, out, walked);
    else if (isFile && isAudio(e.name)) out.push({ path: p });
  }
}

/** Rows of a manifest: a path (relative to the manifest's folder) and an optional id. */
export async function readManifestFile(file: string): Promise<Array<{ path: string; id?: string }>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw bad(`Cannot read the manifest ${file}: ${(err as Error).message}.`);
  }
  const base = dirname(file);
  const rows: Array<{ path: string; id?: string }> = [];
  const add = (p: unknown, id: unknown, where: string) => {
    if (typeof p !== 'string' || p.length === 0) throw bad(`${where}: expected a path, got ${JSON.stringify(p)}.`);
    if (id !== undefined && id !== null && id !== '' && typeof id !== 'string' && typeof id !== 'number') throw bad(`${where}: expected the id to be a string, got ${JSON.stringify(id)}.`);
    rows.push({ path: isAbsolute(p) ? p : resolve(base, p), ...(id !== undefined && id !== null && id !== '' ? { id: String(id) } : {}) });
  };
  if (extname(file).toLowerCase() === '.jsonl') {
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        throw bad(`${file} line ${i + 1}: not JSON (expected {"path": ..., "id": ...} or a string).`);
      }
      if (typeof v === 'string') return add(v, undefined, `${file} line ${i + 1}`);
      if (v === null || typeof v !== 'object') throw bad(`${file} line ${i + 1}: expected an object with "path" (and optionally "id") or a string.`);
      const o = v as Record<string, unknown>;
      const col = PATH_COLUMNS.find((c) => c in o);
      add(col ? o[col] : undefined, o.id, `${file} line ${i + 1}`);
    });
    return rows;
  }
  let records: string[][];
  try {
    records = parseCsv(text, { skip_empty_lines: true, trim: true, relax_column_count: true }) as string[][];
  } catch (err) {
    throw bad(`${file}: not valid CSV (${(err as Error).message}).`);
  }
  // A header names the columns ("path,id" or "id,file", ...); without one the columns are path[,id].
  let pathCol = 0;
  let idCol = 1;
  const head = records[0]?.map((c) => c.toLowerCase());
  if (head && head.some((c) => PATH_COLUMNS.includes(c))) {
    pathCol = head.findIndex((c) => PATH_COLUMNS.includes(c));
    idCol = head.indexOf('id');
    records = records.slice(1);
  }
  records.forEach((r, i) => add(r[pathCol], idCol >= 0 ? r[idCol] : undefined, `${file} row ${i + 1}`));
  return rows;
}

/**
 * Expands `inputs` in order (directories sorted by name). A path that does not exist is kept, so that it is
 * recorded as a failure like any unreadable file; a glob or directory that matches nothing adds nothing.
 */
export async function expandInputs(inputs: readonly string[]): Promise<JobInput[]> {
  const found: Found[] = [];
  const walked = new Set<string>();
  for (const input of inputs) {
    if (typeof input !== 'string' || input.length === 0) throw bad(`inputs: expected file, directory, glob or manifest paths, got ${JSON.stringify(input)}.`);
    const abs = resolve(input);
    const s = await stat(abs).catch(() => null);
    if (s?.isDirectory()) {
      await walk(abs, found, walked);
    } else if (s?.isFile() && MANIFEST_EXTENSIONS.includes(extname(abs).toLowerCase())) {
      found.push(...(await readManifestFile(abs)));
    } else if (!s && isDynamicPattern(input)) {
      // tinyglobby follows links (a loop only as far as it goes) and may list one file under several names: the
      // real paths below count it once. It leaves out links to nothing: a glob lists what exists.
      const files = await glob(input, { absolute: true, onlyFiles: true, dot: false });
      files.sort();
      found.push(...files.map((path) => ({ path })));
    } else if (!s && (await lstat(abs).catch(() => null))?.isSymbolicLink()) {
      found.push({ path: abs, error: await brokenLink(abs, await stat(abs).catch((err: unknown) => err)) });
    } else {
      found.push({ path: abs });
    }
  }
  const inputsOut = await assignIds(found);
  if (inputsOut.length === 0) throw bad(`No audio files found in ${inputs.map((i) => JSON.stringify(i)).join(', ')} (directories are searched for ${AUDIO_EXTENSIONS.join(' ')}).`);
  return inputsOut;
}

/**
 * One input per file: a file found again under another name (a link, a folder and a glob over it) is dropped,
 * unless a manifest gives it an id of its own; one id for two different files is a mistake.
 */
async function assignIds(found: Found[]): Promise<JobInput[]> {
  const byId = new Map<string, JobInput & { real: string }>();
  const reals = new Set<string>();
  for (const f of found) {
    // A path that does not exist (or a broken link) has no real path: its own stands for it.
    const real = f.error ? f.path : await realpath(f.path).catch(() => f.path);
    const id = f.id ?? f.path;
    const prev = byId.get(id);
    if (prev) {
      if (prev.real !== real) throw bad(`The id ${JSON.stringify(id)} is given to two files: ${prev.path} and ${f.path}. Ids must be unique.`);
      continue;
    }
    if (f.id === undefined && reals.has(real)) continue;
    reals.add(real);
    byId.set(id, { id, path: f.path, key: keyOf(id), real, ...(f.error ? { error: f.error } : {}) });
  }
  return [...byId.values()].map(({ real: _real, ...input }) => input);
}
