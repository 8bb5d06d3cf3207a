/**
 * Positioned reads from a checkpoint file, or from bytes in memory (the fuzzer, tests). The readers of large
 * formats (torch.save zips) read only the few ranges they need — the central directory, each entry's local header,
 * the pickle — and hand the builder offsets for the tensor data, which they never read.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { Wav2Vec2Error } from '../errors';

export interface ByteSource {
  /** Shown in error messages: the file's absolute path. */
  readonly name: string;
  readonly size: number;
  /** Exactly `length` bytes from `position`; the caller has checked the range against `size`. */
  read(position: number, length: number): Buffer;
}

export function bufferSource(name: string, bytes: Uint8Array): ByteSource {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    name,
    size: b.length,
    read: (position, length) => b.subarray(position, position + length),
  };
}

/** A checkpoint file that cannot be opened (missing, a folder, no permission) is a coded error naming it. */
export function cannotOpen(path: string, err: unknown): Wav2Vec2Error {
  return new Wav2Vec2Error('CHECKPOINT_INVALID', `${path}: cannot be opened (${(err as Error).message}).`, { cause: err });
}

/** Runs `body` with a source over the file at `path` (synchronous reads: a handful of small ones per file). */
export function withFileSource<T>(path: string, body: (source: ByteSource) => T): T {
  let fd: number;
  try {
    fd = openSync(path, 'r');
    if (!fstatSync(fd).isFile()) {
      closeSync(fd);
      throw new Error('not a regular file');
    }
  } catch (err) {
    throw cannotOpen(path, err);
  }
  try {
    const size = fstatSync(fd).size;
    return body({
      name: path,
      size,
      read(position, length) {
        const out = Buffer.alloc(length);
        let done = 0;
        while (done < length) {
          const n = readSync(fd, out, done, length - done, position + done);
          // The file shrank under us after stat: not a checkpoint we can trust.
          if (n === 0) throw new Wav2Vec2Error('CHECKPOINT_INVALID', `${path}: the file ended at byte ${position + done} while it was being read; it was ${size} bytes when opened.`);
          done += n;
        }
        return out;
      },
    });
  } finally {
    closeSync(fd);
  }
}

/** Whether `p` is a folder (false when it does not exist or cannot be read). */
export function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Whether `p` is a regular file (false when it does not exist or cannot be read). */
export function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}
