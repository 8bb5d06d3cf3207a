/**
 * Writing into the output folder. A write(2) may write less than it was given (a disk that fills up part-way
 * through), so every write is repeated until all of it is on disk or an error says why not, and what a file must
 * hold is checked against its size before it is committed: a file is never renamed into place shorter than its
 * contents claim.
 *
 * Errors: a folder that has no room left (ENOSPC, EDQUOT) or is read-only (EROFS) fails every input alike, so the
 * job stops with BATCH_WRITE_FAILED (rerun once there is room); so does any failure to write the job's own records.
 * Anything else that goes wrong writing one input's streamed outputs (its features) fails that input alone
 * (BATCH_OUTPUT_FAILED) and the job goes on.
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Wav2Vec2Error } from '../errors';

const NO_ROOM = new Set(['ENOSPC', 'EDQUOT', 'EROFS']);

export function writeFailed(what: string, err: unknown): Wav2Vec2Error {
  if (err instanceof Wav2Vec2Error && err.code === 'BATCH_WRITE_FAILED') return err;
  return new Wav2Vec2Error('BATCH_WRITE_FAILED', `Cannot write ${what}: ${(err as Error)?.message ?? String(err)}. The job stopped; rerun it to resume once this is fixed.`, { cause: err });
}

/** The error of one input's output file: stops the job when the folder is full or read-only (see above). */
export function outputFailed(what: string, err: unknown): Wav2Vec2Error {
  if (err instanceof Wav2Vec2Error) return err;
  if (NO_ROOM.has((err as NodeJS.ErrnoException)?.code ?? '')) return writeFailed(what, err);
  return new Wav2Vec2Error('BATCH_OUTPUT_FAILED', `Cannot write ${what}: ${(err as Error)?.message ?? String(err)}.`, { cause: err });
}

/** Writes all of `bytes` at `position` (null: at the file's position, as an append does), however many calls it takes. */
export async function writeAll(fh: FileHandle, bytes: Uint8Array, position: number | null): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, position === null ? null : position + done);
    // write(2) returns 0 only for an empty request; guard anyway rather than spin.
    if (bytesWritten <= 0) throw Object.assign(new Error('the file system accepted no bytes'), { code: 'EIO' });
    done += bytesWritten;
  }
}

/** Throws unless the open file holds exactly `size` bytes. */
export async function expectSize(fh: FileHandle, size: number, path: string): Promise<void> {
  const got = (await fh.stat()).size;
  if (got !== size) throw Object.assign(new Error(`${path} holds ${got} bytes where ${size} were written`), { code: 'ESIZE' });
}

/** Writes a whole new file, checks its size and flushes it; a file that could not be written whole is removed. */
export async function writeDurable(path: string, content: string | Buffer): Promise<void> {
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  const fh = await open(path, 'w');
  try {
    await writeAll(fh, bytes, 0);
    await expectSize(fh, bytes.length, path);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw err;
  }
  await fh.close();
}

/** Replaces `path` whole (temporary file, then rename): a reader sees the old content or the new, never a part. */
export async function replaceFile(path: string, content: string | Buffer): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeDurable(tmp, content);
  await rename(tmp, path);
  fsyncDir(dirname(path));
}

export function fsyncDir(dir: string): void {
  // A rename is durable only once its folder is flushed. Some file systems refuse fsync on folders: nothing to do there.
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* best effort */
  }
}

/**
 * A file that grows by whole lines (transcripts.jsonl, failures.jsonl). Appends are serialised (replicas commit at
 * the same time, and a write that is cut short must not interleave with another) and each one is checked against
 * the size the file must have after it: a line is on disk whole, flushed, or the append throws.
 */
export class AppendFile {
  readonly path: string;
  readonly #fh: FileHandle;
  #size: number;
  #chain: Promise<void> = Promise.resolve();

  private constructor(path: string, fh: FileHandle, size: number) {
    this.path = path;
    this.#fh = fh;
    this.#size = size;
  }

  static async open(path: string): Promise<AppendFile> {
    const fh = await open(path, 'a');
    try {
      return new AppendFile(path, fh, (await fh.stat()).size);
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
  }

  /** Appends `bytes`; `beforeWrite` runs first (fault injection may cut the line there). */
  append(bytes: Uint8Array, beforeWrite?: (fh: FileHandle) => Promise<void>): Promise<void> {
    const step = this.#chain.then(async () => {
      if (this.#size < 0) throw Object.assign(new Error(`${this.path}: an earlier append failed`), { code: 'EIO' });
      const size = this.#size;
      this.#size = -1; // unknown until this append is known whole
      await beforeWrite?.(this.#fh);
      await writeAll(this.#fh, bytes, null);
      await expectSize(this.#fh, size + bytes.length, this.path);
      await this.#fh.sync();
      this.#size = size + bytes.length;
    });
    this.#chain = step.catch(() => undefined);
    return step;
  }

  async close(): Promise<void> {
    await this.#chain;
    await this.#fh.close();
  }
}
