/**
 * One input on its way through a job: the model's outputs for its pieces arrive (possibly out of order when
 * several model replicas run), are put back in order, trimmed to the frames each piece keeps, and fed to the text
 * decoder and the feature writers; after the last piece the results are built for the store.
 */
import { join } from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import type { BoundDecoder, Transcript } from '../pipeline/transcribe';
import type { Tensor } from '../tensor';
import type { JobInput } from './inputs';
import { NpyStreamWriter } from './npy-stream';
import { outputFailed } from './write';
import type { PieceSource } from './windows';

/** What the model gave for one piece, already cut to the frames it keeps: [frames, C] and [frames, D] per layer. */
export interface PieceOutput {
  emission?: Tensor;
  features?: Tensor[];
  /** See Piece.wordBreak. */
  wordBreak?: boolean;
}

export interface TextSink {
  push(emission: Tensor): void;
  /** A word ends here whatever the next frames hold (absent: the sink cannot say so, as beam search over the whole). */
  breakWord?(): void;
  finish(): Transcript;
}

/** Beam search needs the whole emission: it is kept (frames x labels x 4 bytes: 21 MB per hour at 29 labels). */
export class WholeEmissionSink implements TextSink {
  readonly #decoder: BoundDecoder;
  readonly #parts: Tensor[] = [];

  constructor(decoder: BoundDecoder) {
    this.#decoder = decoder;
  }

  push(emission: Tensor): void {
    this.#parts.push(emission);
  }

  finish(): Transcript {
    const C = this.#parts[0]?.shape[1] ?? 0;
    const F = this.#parts.reduce((s, p) => s + p.shape[0]!, 0);
    const data = new Float32Array(F * C);
    let o = 0;
    for (const p of this.#parts) {
      data.set(p.data, o);
      o += p.data.length;
    }
    return this.#decoder.decode({ data, shape: [F, C] });
  }
}

export class FileTask {
  readonly input: JobInput;
  readonly source: PieceSource = { sourceRate: null, samples: 0 };
  readonly startedAt = Date.now();
  modelMs = 0;
  /** Audio whose frames have reached the decoder, seconds (for progress while a long file runs). */
  processedSeconds = 0;
  /** Index of the last piece, once the reader has produced it. */
  lastIndex: number | null = null;
  failed = false;
  finished = false;
  /** Its attempt is on disk (store.markAttempt): it reached the model in this run. */
  marked = false;
  readonly #text: TextSink | null;
  readonly #layers: number[];
  readonly #featureDir: string | null;
  #writers: NpyStreamWriter[] | null = null;
  readonly #waiting = new Map<number, PieceOutput>();
  #next = 0;
  #completed = false;
  #chain: Promise<void> = Promise.resolve();

  constructor(input: JobInput, text: TextSink | null, layers: number[], featureDir: string | null) {
    this.input = input;
    this.#text = text;
    this.#layers = layers;
    this.#featureDir = featureDir;
  }

  get pieces(): number {
    return this.#next;
  }

  get featureDir(): string | null {
    return this.#featureDir;
  }

  /**
   * Takes piece `index`'s output; resolves once every piece up to the last one that arrived in order is consumed.
   * Returns true to exactly one caller: the one whose step completes the file. With several replicas, steps of other
   * batches may still be queued on the chain after that; they find nothing left to consume and must not finish (and
   * commit) the file a second time.
   */
  deliver(index: number, out: PieceOutput): Promise<boolean> {
    this.#waiting.set(index, out);
    const step = this.#chain.then(async () => {
      while (!this.failed && this.#waiting.has(this.#next)) {
        const o = this.#waiting.get(this.#next)!;
        this.#waiting.delete(this.#next);
        if (o.wordBreak) this.#text?.breakWord?.();
        if (o.emission) this.#text?.push(o.emission);
        if (o.features) await this.#writeFeatures(o.features);
        this.#next++;
      }
      if (this.#completed || this.failed || this.lastIndex === null || this.#next !== this.lastIndex + 1) return false;
      this.#completed = true;
      return true;
    });
    this.#chain = step.then(() => undefined, () => undefined);
    return step;
  }

  /** Decoded text (null when the job writes features only). */
  transcript(): Transcript | null {
    return this.#text?.finish() ?? null;
  }

  /** Flushes and closes the feature files; returns their shape. */
  async closeFeatures(): Promise<{ frames: number; dim: number } | null> {
    if (!this.#writers) return null;
    for (const w of this.#writers) await w.close();
    return { frames: this.#writers[0]!.rows, dim: this.#writers[0]!.dim };
  }

  /** Drops what was written for an input that failed or was interrupted (.tmp/ is cleared by the store). */
  async abandon(): Promise<void> {
    this.failed = true;
    this.#waiting.clear();
    await this.#chain;
    for (const w of this.#writers ?? []) await w.abandon();
    this.#writers = null;
    if (this.#featureDir) await rm(this.#featureDir, { recursive: true, force: true }).catch(() => undefined);
  }

  async #writeFeatures(layers: Tensor[]): Promise<void> {
    if (!this.#writers) {
      try {
        await mkdir(this.#featureDir!, { recursive: true });
      } catch (err) {
        throw outputFailed(`the feature folder ${this.#featureDir}`, err);
      }
      this.#writers = [];
      for (const l of this.#layers) this.#writers.push(await NpyStreamWriter.create(join(this.#featureDir!, `layer${String(l).padStart(2, '0')}.npy`)));
    }
    for (let i = 0; i < layers.length; i++) await this.#writers[i]!.append(layers[i]!.data, layers[i]!.shape[1]!);
  }
}
