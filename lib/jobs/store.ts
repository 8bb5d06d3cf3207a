/**
 * The output folder of a batch job, and how it stays exactly-once across crashes.
 *
 *   job.json            the settings that shape results (a rerun with other settings is refused)
 *   results/<key>.json  one record per finished input: THE commit point
 *   transcripts.jsonl   every record of results/, one line each (the aggregate people read)
 *   failed/<key>.json   one record per input that failed in its latest attempt
 *   failures.jsonl      every record of failed/, rebuilt at the start and end of each run
 *   attempts/<key>.json one per input that reached the model and is not yet done or failed: how many times the
 *                       process has died with it in flight (see markAttempt)
 *   txt/ srt/ vtt/ features/<key>/   optional outputs
 *   .tmp/  .lock
 *
 * A finished input is committed in this order: its optional outputs are written under .tmp/, flushed and renamed
 * into place; then its record is written under .tmp/, flushed and renamed to results/<key>.json (rename is atomic,
 * so a result is either absent or whole), and the folder is flushed; only then is its line appended to
 * transcripts.jsonl and flushed. A kill at any point leaves one of: nothing (the input is redone; optional outputs
 * already renamed are overwritten by the same content), a result without its line, or a result with a torn
 * or whole line. Opening the folder repairs the last two: it cuts a torn last line, and appends the line of every
 * result the file lacks. A line is appended only for a result the file does not hold yet, so no line is ever
 * doubled; results/ decides what a rerun skips.
 *
 * Queue workers on many hosts (lib/jobs/queue) share one folder through openShared: no lock, no appends (appends
 * from two hosts to one file are unsafe on NFS-like file systems), a .tmp/ of their own under .workers/; they commit
 * results/<key>.json and failed/<key>.json by rename only, and the holder of the lock makes the two .jsonl files from
 * them with merge(). See docs/cluster.md.
 */
import { link, mkdir, open, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Wav2Vec2Error } from '../errors';
import { crashPoint } from './faults';
import { FolderLock } from './lock';
import { AppendFile, expectSize, fsyncDir, replaceFile, writeAll, writeDurable, writeFailed } from './write';

export interface FailureRecord {
  id: string;
  key: string;
  file: string;
  code: string;
  message: string;
  time: string;
}

/** An optional output of one input: a path under the output folder and its content. */
export interface OutputFile {
  rel: string;
  content: string | Buffer;
}

const JOB_FORMAT = 'wav2vec2-node-batch/1';

/** Where a shared store's attempts are counted instead of attempts/ (the queue: in the job itself). */
export interface AttemptMarks {
  mark(key: string): Promise<void>;
  unmark(key: string): Promise<void>;
}

export class JobStore {
  readonly dir: string;
  /** Keys with a committed result. */
  readonly done = new Set<string>();
  /** Keys whose latest attempt failed (retried by a rerun unless told otherwise). */
  readonly failed = new Map<string, FailureRecord>();
  /** Keys not done whose attempt markers survived a run: how many times the process died with each in flight. */
  readonly deaths = new Map<string, number>();
  #jsonl: AppendFile | null = null;
  #failures: AppendFile | null = null;
  #tmpCounter = 0;
  #lock: FolderLock | null = null;
  #opened = false;
  #closed = false;
  /** Set for a queue worker's store (openShared). */
  #shared: { tmp: string; marks: AttemptMarks } | null = null;

  private constructor(dir: string) {
    this.dir = dir;
  }

  get tmpDir(): string {
    return this.#shared?.tmp ?? join(this.dir, '.tmp');
  }

  get transcriptsFile(): string {
    return join(this.dir, 'transcripts.jsonl');
  }

  get failuresFile(): string {
    return join(this.dir, 'failures.jsonl');
  }

  /**
   * Opens (or creates) the folder: lock, check the settings, clear .tmp, repair transcripts.jsonl. `settings` null:
   * take those of job.json as they are (the queue's merge, which loads no model).
   */
  static async open(dir: string, settings: Record<string, unknown> | null): Promise<JobStore> {
    const store = new JobStore(dir);
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw writeFailed(`the output folder ${dir}`, err);
    }
    store.#lock = await FolderLock.acquire(dir);
    try {
      if (settings) await store.#checkSettings(settings);
      await rm(store.tmpDir, { recursive: true, force: true });
      for (const sub of ['.tmp', 'results', 'failed', 'attempts']) await mkdir(join(dir, sub), { recursive: true });
      await store.#scanResults();
      await store.#scanAttempts();
      await store.#repairTranscripts();
      await store.#scanFailures();
      await store.#rebuildFailures();
      store.#jsonl = await AppendFile.open(store.transcriptsFile);
      store.#failures = await AppendFile.open(store.failuresFile);
      store.#opened = true;
    } catch (err) {
      await store.close().catch(() => undefined);
      if (err instanceof Wav2Vec2Error) throw err;
      throw writeFailed(`the output folder ${dir}`, err);
    }
    return store;
  }

  /**
   * The folder as one of many queue workers sees it (see the file comment): settings checked against job.json (or
   * written there by the first worker), nothing scanned (ask isDone), attempts counted by `marks`.
   */
  static async openShared(dir: string, settings: Record<string, unknown>, marks: AttemptMarks): Promise<JobStore> {
    const store = new JobStore(dir);
    store.#shared = { tmp: join(dir, '.workers', `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`), marks };
    try {
      for (const sub of ['results', 'failed']) await mkdir(join(dir, sub), { recursive: true });
      await mkdir(store.tmpDir, { recursive: true });
      await store.#checkSettings(settings);
    } catch (err) {
      await rm(store.tmpDir, { recursive: true, force: true }).catch(() => undefined);
      if (err instanceof Wav2Vec2Error) throw err;
      throw writeFailed(`the output folder ${dir}`, err);
    }
    store.#opened = true;
    return store;
  }

  /** Whether `key` has a committed result (asked of the folder, which other hosts write too). */
  async isDone(key: string): Promise<boolean> {
    return stat(join(this.dir, 'results', `${key}.json`)).then(() => true, () => false);
  }

  /**
   * For the holder of the lock while queue workers commit: takes in what they committed since open (results/ and
   * failed/), and makes transcripts.jsonl and failures.jsonl hold each of them exactly once.
   */
  async merge(): Promise<void> {
    try {
      await this.#jsonl?.close();
      await this.#failures?.close();
      this.#jsonl = this.#failures = null;
      await this.#scanResults();
      await this.#repairTranscripts();
      this.failed.clear();
      await this.#scanFailures();
      await this.#rebuildFailures();
      this.#jsonl = await AppendFile.open(this.transcriptsFile);
      this.#failures = await AppendFile.open(this.failuresFile);
    } catch (err) {
      throw writeFailed(`the merged results in ${this.dir}`, err);
    }
  }

  /** A fresh path under .tmp/ (removed by the next run if left behind). */
  tmpPath(name: string): string {
    return join(this.tmpDir, `${++this.#tmpCounter}-${name}`);
  }

  /**
   * Commits one finished input: `files` and `dirs` (folders already written under .tmp/, moved to their place
   * whole), then the record. Returns once the record and its transcripts.jsonl line are on disk.
   */
  async commit(key: string, record: Record<string, unknown>, files: OutputFile[], dirs: Array<{ tmp: string; rel: string }> = []): Promise<void> {
    const placed: string[] = [];
    try {
      await this.#placeOutputs(key, files, dirs, placed);
      crashPoint('before-commit');
      const line = JSON.stringify(record);
      const tmp = this.tmpPath(key);
      await writeDurable(tmp, line + '\n');
      await rename(tmp, join(this.dir, 'results', `${key}.json`));
      fsyncDir(join(this.dir, 'results'));
      this.done.add(key);
      crashPoint('after-commit');
      // Shared: the line is written by the merge (no appends from many hosts).
      if (!this.#shared) await this.#append(this.#jsonl!, line, true);
      crashPoint('after-append');
      await this.#clearAttempt(key);
      // Shared: another host may have recorded a failure of it (an earlier attempt), unknown here.
      if (this.failed.delete(key) || this.#shared) await unlink(join(this.dir, 'failed', `${key}.json`)).catch(() => undefined);
    } catch (err) {
      // Not committed: what was moved into place for it goes (a rerun redoes the input), and gives its room back.
      if (!this.done.has(key)) for (const p of placed) await rm(p, { recursive: true, force: true }).catch(() => undefined);
      throw writeFailed(`the results of ${key} in ${this.dir}`, err);
    }
  }

  /** Moves an input's optional outputs into place (files written whole under .tmp/ first); `placed` lists them. */
  async #placeOutputs(key: string, files: OutputFile[], dirs: Array<{ tmp: string; rel: string }>, placed: string[]): Promise<void> {
    const touched = new Set<string>();
    for (const f of files) {
      const tmp = this.tmpPath(key);
      await writeDurable(tmp, f.content);
      const dest = join(this.dir, f.rel);
      const parent = join(dest, '..');
      await mkdir(parent, { recursive: true });
      await rename(tmp, dest);
      placed.push(dest);
      touched.add(parent);
    }
    for (const d of dirs) {
      const dest = join(this.dir, d.rel);
      const parent = join(dest, '..');
      await mkdir(parent, { recursive: true });
      // A folder from an attempt that was killed before its commit: same input, same settings, replaced whole.
      await rm(dest, { recursive: true, force: true });
      await rename(d.tmp, dest);
      placed.push(dest);
      touched.add(parent);
    }
    for (const t of touched) fsyncDir(t);
  }

  /** Records a failed input (replacing an earlier failure of it). */
  async fail(failure: FailureRecord): Promise<void> {
    try {
      const line = JSON.stringify(failure);
      const tmp = this.tmpPath(failure.key);
      await writeDurable(tmp, line + '\n');
      await rename(tmp, join(this.dir, 'failed', `${failure.key}.json`));
      this.failed.set(failure.key, failure);
      // A retried input may already have a line from an earlier run; failures.jsonl is rebuilt without doubles on close.
      if (!this.#shared) await this.#append(this.#failures!, line);
      // A crashed input keeps its count: a rerun does not run it again unless the limit is raised.
      if (failure.code !== 'BATCH_INPUT_CRASHED') await this.#clearAttempt(failure.key);
    } catch (err) {
      throw writeFailed(`the failure record of ${failure.key} in ${this.dir}`, err);
    }
  }

  /**
   * Persists, before an input's first batch goes to the model, that it is in flight: if the process dies before the
   * input is committed or failed, the next run finds the marker and counts one more death against it (one marker per
   * input per run; what is in flight together shares a death, which is why a rerun runs such inputs alone).
   */
  async markAttempt(input: { id: string; key: string; path: string }): Promise<void> {
    if (this.#shared) return this.#shared.marks.mark(input.key);
    await this.#writeAttempt(input, (this.deaths.get(input.key) ?? 0) + 1);
  }

  /** Takes back markAttempt for an input the job stopped without dying (an abort, a write failure). */
  async unmarkAttempt(input: { id: string; key: string; path: string }): Promise<void> {
    if (this.#shared) return this.#shared.marks.unmark(input.key);
    const deaths = this.deaths.get(input.key) ?? 0;
    if (deaths === 0) await this.#clearAttempt(input.key);
    else await this.#writeAttempt(input, deaths);
  }

  async #writeAttempt(input: { id: string; key: string; path: string }, deaths: number): Promise<void> {
    try {
      const tmp = this.tmpPath(`${input.key}.attempt`);
      await writeDurable(tmp, JSON.stringify({ id: input.id, file: input.path, deaths, time: new Date().toISOString() }) + '\n');
      await rename(tmp, join(this.dir, 'attempts', `${input.key}.json`));
      fsyncDir(join(this.dir, 'attempts'));
    } catch (err) {
      throw writeFailed(`the attempt marker of ${input.key} in ${this.dir}`, err);
    }
  }

  async #clearAttempt(key: string): Promise<void> {
    if (this.#shared) {
      this.deaths.delete(key);
      return;
    }
    // Not flushed: a marker that survives a kill after the commit belongs to a done input, and is dropped on open.
    await unlink(join(this.dir, 'attempts', `${key}.json`)).catch(() => undefined);
    this.deaths.delete(key);
  }

  /** Rebuilds failures.jsonl from failed/ and releases the lock. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#jsonl?.close().catch(() => undefined);
    await this.#failures?.close().catch(() => undefined);
    this.#jsonl = this.#failures = null;
    if (this.#shared) {
      await rm(this.#shared.tmp, { recursive: true, force: true }).catch(() => undefined);
      return;
    }
    if (!this.#lock) return;
    try {
      if (this.#opened) await this.#rebuildFailures();
    } catch (err) {
      throw writeFailed(this.failuresFile, err);
    } finally {
      await rm(this.tmpDir, { recursive: true, force: true }).catch(() => undefined);
      await this.#lock.release();
    }
  }

  async #append(file: AppendFile, line: string, faulty = false): Promise<void> {
    const bytes = Buffer.from(line + '\n');
    await file.append(bytes, faulty ? async (fh) => {
      if (crashPoint('mid-append', true)) {
        // Fault injection: half a line on disk, then the kill (what a kill during a large write can leave).
        await writeAll(fh, bytes.subarray(0, bytes.length >> 1), null);
        await fh.sync();
      }
      crashPoint('mid-append');
    } : undefined);
  }

  async #checkSettings(settings: Record<string, unknown>): Promise<void> {
    const file = join(this.dir, 'job.json');
    const want = { format: JOB_FORMAT, ...settings };
    let have: Record<string, unknown> | null = null;
    try {
      have = JSON.parse(await readFile(file, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') have = null;
    }
    if (have) {
      const changed = Object.keys({ ...have, ...want }).filter((k) => JSON.stringify(have![k]) !== JSON.stringify((want as Record<string, unknown>)[k]));
      if (changed.length > 0) {
        throw new Wav2Vec2Error('BATCH_OPTIONS_CHANGED',
          `${this.dir} holds results made with other settings (${changed.map((k) => `${k}: ${JSON.stringify(have![k])} then, ${JSON.stringify((want as Record<string, unknown>)[k])} now`).join('; ')}). ` +
          'Rerun with the same settings to resume, or write to another --out.');
      }
      return;
    }
    const tmp = this.#shared ? this.tmpPath('job.json') : join(this.dir, 'job.json.tmp');
    await writeDurable(tmp, JSON.stringify(want, null, 2) + '\n');
    if (!this.#shared) await rename(tmp, file);
    else {
      // Many workers may start at once: link() creates job.json only if absent, so the first settings win and every
      // other worker compares its own with them (a rename would let the last one win unchecked).
      const first = await link(tmp, file).then(() => true, (err: NodeJS.ErrnoException) => {
        if (err.code === 'EEXIST') return false;
        throw err;
      });
      await unlink(tmp).catch(() => undefined);
      if (!first) return this.#checkSettings(settings);
    }
    fsyncDir(this.dir);
  }

  async #scanResults(): Promise<void> {
    for (const name of await readdir(join(this.dir, 'results'))) {
      if (name.endsWith('.json')) this.done.add(name.slice(0, -5));
    }
  }

  async #scanAttempts(): Promise<void> {
    for (const name of await readdir(join(this.dir, 'attempts'))) {
      if (!name.endsWith('.json')) continue;
      const key = name.slice(0, -5);
      let deaths: unknown = null;
      if (!this.done.has(key)) {
        deaths = await readFile(join(this.dir, 'attempts', name), 'utf8').then((t) => (JSON.parse(t) as { deaths?: unknown }).deaths, () => null);
      }
      // Written whole and renamed, so unreadable only if tampered with: dropped, as for a done input.
      if (typeof deaths === 'number' && deaths > 0) this.deaths.set(key, deaths);
      else await unlink(join(this.dir, 'attempts', name)).catch(() => undefined);
    }
  }

  async #scanFailures(): Promise<void> {
    for (const name of await readdir(join(this.dir, 'failed'))) {
      if (!name.endsWith('.json')) continue;
      const key = name.slice(0, -5);
      if (this.done.has(key)) {
        // Succeeded after failing, killed before the failure record was removed.
        await unlink(join(this.dir, 'failed', name)).catch(() => undefined);
        continue;
      }
      try {
        this.failed.set(key, JSON.parse(await readFile(join(this.dir, 'failed', name), 'utf8')));
      } catch {
        await unlink(join(this.dir, 'failed', name)).catch(() => undefined);
      }
    }
  }

  /**
   * Makes transcripts.jsonl hold exactly one line per result: cuts a torn last line, appends the lines of results
   * committed just before a kill. Lines are read one at a time (a long job's file may be large).
   */
  async #repairTranscripts(): Promise<void> {
    const file = this.transcriptsFile;
    const seen = new Set<string>();
    let validEnd = 0;
    let rebuild = false;
    const fh = await open(file, 'a+');
    try {
      const size = (await fh.stat()).size;
      const chunk = Buffer.alloc(1 << 20);
      let pending: Buffer[] = [];
      let pos = 0;
      while (pos < size) {
        const { bytesRead } = await fh.read(chunk, 0, chunk.length, pos);
        if (bytesRead === 0) break;
        let from = 0;
        for (let i = 0; i < bytesRead; i++) {
          if (chunk[i] !== 0x0a) continue;
          pending.push(Buffer.from(chunk.subarray(from, i)));
          const line = Buffer.concat(pending).toString('utf8');
          pending = [];
          from = i + 1;
          let key: unknown;
          try {
            key = (JSON.parse(line) as { key?: unknown }).key;
          } catch {
            key = undefined;
          }
          // A bad line before the end, or a line twice: not something appends can leave; rebuild from results/.
          if (typeof key !== 'string' || seen.has(key) || !this.done.has(key)) rebuild = true;
          else seen.add(key);
          validEnd = pos + i + 1;
        }
        if (from < bytesRead) pending.push(Buffer.from(chunk.subarray(from, bytesRead)));
        pos += bytesRead;
      }
      if (!rebuild && validEnd < size) {
        await fh.truncate(validEnd);
        await fh.sync();
      }
    } finally {
      await fh.close();
    }
    const missing = [...this.done].filter((k) => !seen.has(k)).sort();
    if (rebuild) {
      const tmp = join(this.dir, 'transcripts.jsonl.tmp');
      const out = await open(tmp, 'w');
      try {
        let size = 0;
        for (const key of [...this.done].sort()) {
          const line = Buffer.from(await this.#resultLine(key));
          await writeAll(out, line, null);
          size += line.length;
        }
        await expectSize(out, size, tmp);
        await out.sync();
      } catch (err) {
        await unlink(tmp).catch(() => undefined);
        throw err;
      } finally {
        await out.close();
      }
      await rename(tmp, file);
      fsyncDir(this.dir);
      return;
    }
    if (missing.length === 0) return;
    const out = await open(file, 'a');
    try {
      for (const key of missing) await writeAll(out, Buffer.from(await this.#resultLine(key)), null);
      await out.sync();
    } finally {
      await out.close();
    }
  }

  async #resultLine(key: string): Promise<string> {
    const text = (await readFile(join(this.dir, 'results', `${key}.json`), 'utf8')).trim();
    return text + '\n';
  }

  async #rebuildFailures(): Promise<void> {
    await replaceFile(this.failuresFile, [...this.failed.values()].sort((a, b) => (a.key < b.key ? -1 : 1)).map((f) => JSON.stringify(f) + '\n').join(''));
  }
}
