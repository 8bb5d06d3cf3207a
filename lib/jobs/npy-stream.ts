/**
 * A float32 .npy written as rows arrive: the features of an hour of audio (180k frames x 768 for a base model,
 * 550 MB per layer) must not sit in memory. The header is written last; it is padded with spaces to a fixed 128
 * bytes, which the format allows (numpy.load reads up to the newline), so its place is known before the shape is.
 * Every write is whole (see write.ts), and the file's size is checked against its header before it is closed, so a
 * file whose header claims more than it holds never leaves here; errors come out coded by outputFailed.
 */
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { expectSize, outputFailed, writeAll } from './write';

const HEADER_BYTES = 128;

function header(rows: number, dim: number): Buffer {
  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${dim}), }`;
  dict = dict.padEnd(HEADER_BYTES - 10 - 1, ' ') + '\n';
  const out = Buffer.alloc(HEADER_BYTES);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(dict.length, 8);
  out.write(dict, 10, 'latin1');
  return out;
}

export class NpyStreamWriter {
  readonly path: string;
  readonly #fh: FileHandle;
  #rows = 0;
  #dim = -1;
  #pos = HEADER_BYTES;

  private constructor(path: string, fh: FileHandle) {
    this.path = path;
    this.#fh = fh;
  }

  static async create(path: string): Promise<NpyStreamWriter> {
    let fh: FileHandle | null = null;
    try {
      fh = await open(path, 'w');
      await writeAll(fh, header(0, 0), 0);
      return new NpyStreamWriter(path, fh);
    } catch (err) {
      await fh?.close().catch(() => undefined);
      await unlink(path).catch(() => undefined);
      throw outputFailed(`the feature file ${path}`, err);
    }
  }

  get rows(): number {
    return this.#rows;
  }

  get dim(): number {
    return this.#dim;
  }

  /** Appends rows: `data` holds `rows x dim` floats. */
  async append(data: Float32Array, dim: number): Promise<void> {
    if (this.#dim >= 0 && dim !== this.#dim) throw new Error(`NpyStreamWriter: rows of ${dim} values after rows of ${this.#dim}`);
    this.#dim = dim;
    // The addon hands out little-endian float32 on every platform LibTorch supports here; write the bytes as they are.
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    try {
      await writeAll(this.#fh, bytes, this.#pos);
    } catch (err) {
      throw outputFailed(`the feature file ${this.path}`, err);
    }
    this.#pos += bytes.length;
    this.#rows += data.length / dim;
  }

  /** Writes the header with the final shape, checks the size against it, flushes to disk and closes. */
  async close(): Promise<void> {
    try {
      await writeAll(this.#fh, header(this.#rows, Math.max(this.#dim, 0)), 0);
      await expectSize(this.#fh, this.#pos, this.path);
      await this.#fh.sync();
      await this.#fh.close();
    } catch (err) {
      await this.abandon();
      throw outputFailed(`the feature file ${this.path}`, err);
    }
  }

  /** Closes and removes the file (an input that failed, or a job that stopped: its room is given back at once). */
  async abandon(): Promise<void> {
    await this.#fh.close().catch(() => undefined);
    await unlink(this.path).catch(() => undefined);
  }
}
