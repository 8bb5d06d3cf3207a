/**
 * The committer, the last stage of a batch job (see run.ts): the model's outputs of each batch go to their inputs'
 * FileTasks, which put them back in order and decode them as they come; an input whose last piece is decoded is
 * committed to the job store, one that fails is recorded as failed; progress is counted and reported here.
 */
import { join } from 'node:path';
import { Wav2Vec2Error } from '../errors';
import type { Model } from '../model/model';
import type { BoundDecoder } from '../pipeline/transcribe';
import type { FileTask, PieceOutput } from './file-task';
import type { BatchJobOptions, BatchProgress, CheckedOptions } from './options';
import type { JobStore, OutputFile } from './store';
import { seconds, toSrt, toTxt, toVtt, transcriptJson } from '../output';
import type { Piece } from './windows';

/** A piece on its way through the job, with the input it belongs to. */
export interface QueuedPiece extends Piece {
  task: FileTask;
}

const round = (x: number, digits: number) => +x.toFixed(digits);

/**
 * Errors that no input causes alone, so the job stops rather than failing every input one by one: the output folder
 * cannot be written, or the model has fewer layers than asked for (when its depth was not known up front).
 */
export function stopsJob(err: unknown): boolean {
  return err instanceof Wav2Vec2Error && (err.code === 'BATCH_WRITE_FAILED' || (err.code === 'INVALID_INPUT' && /num_layers/.test(err.message)));
}

export interface JobTotals {
  files: number;
  skipped: number;
  /** Bytes per input key: the ETA counts bytes, as durations are unknown before decoding. */
  sizes: Map<string, number>;
}

export class Committer {
  readonly progress: BatchProgress;
  /** Inputs read and neither committed nor failed yet. */
  readonly live = new Set<FileTask>();
  readonly #options: BatchJobOptions;
  readonly #o: CheckedOptions;
  readonly #model: Model;
  readonly #bound: BoundDecoder | null;
  readonly #store: JobStore;
  readonly #sizes: Map<string, number>;
  readonly #totalBytes: number;
  readonly #t0 = Date.now();
  #doneBytes = 0;
  #committedSeconds = 0;
  #idleWaiters: Array<() => void> = [];

  constructor(options: BatchJobOptions, o: CheckedOptions, job: { model: Model; bound: BoundDecoder | null }, store: JobStore, totals: JobTotals) {
    this.#options = options;
    this.#o = o;
    this.#model = job.model;
    this.#bound = job.bound;
    this.#store = store;
    this.#sizes = totals.sizes;
    this.#totalBytes = [...totals.sizes.values()].reduce((a, b) => a + b, 0);
    this.progress = {
      files: totals.files, skipped: totals.skipped, done: 0, failed: 0,
      audioSeconds: 0, elapsedSeconds: 0, realTime: 0, etaSeconds: null,
    };
  }

  report(): void {
    const p = this.progress;
    // Finished files, plus what the model has done of files in progress (an hour-long file shows progress too).
    let partial = 0;
    for (const t of this.live) partial += t.processedSeconds;
    p.audioSeconds = this.#committedSeconds + partial;
    p.elapsedSeconds = (Date.now() - this.#t0) / 1000;
    p.realTime = p.elapsedSeconds > 0 ? p.audioSeconds / p.elapsedSeconds : 0;
    p.etaSeconds = this.#doneBytes > 0 ? (p.elapsedSeconds * (this.#totalBytes - this.#doneBytes)) / this.#doneBytes : null;
    this.#options.onProgress?.({ ...p });
  }

  /** Resolves once no input is in flight, or `stopped()` holds (checked again whenever an input leaves). */
  async untilIdle(stopped: () => boolean): Promise<void> {
    while (this.live.size > 0 && !stopped()) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Wakes untilIdle() to look again (an input left, or the job stops). */
  wake(): void {
    const waiting = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiting) w();
  }

  /** Gives one batch's outputs to their inputs; commits those it completes. Throws only what stops the job. */
  async deliver(batch: QueuedPiece[], outs: PieceOutput[]): Promise<void> {
    try {
      for (let b = 0; b < batch.length; b++) await this.#deliverOne(batch[b]!, outs[b]!);
    } finally {
      this.report();
    }
  }

  async #deliverOne(p: QueuedPiece, out: PieceOutput): Promise<void> {
    if (p.task.failed || p.task.finished) return;
    const kept = out.emission?.shape[0] ?? out.features?.[0]?.shape[0] ?? 0;
    p.task.processedSeconds += (kept * this.#model.frameStride) / this.#model.sampleRate;
    try {
      if (await p.task.deliver(p.index, out)) await this.#finish(p.task);
    } catch (err) {
      if (stopsJob(err)) throw err;
      await this.fail(p.task, err);
    }
  }

  /** Records `task` as failed with `err` (once; a finished or already failed input is left as it is). */
  async fail(task: FileTask, err: unknown): Promise<void> {
    if (task.failed || task.finished) return;
    this.live.delete(task);
    this.wake();
    await task.abandon();
    const code = err instanceof Wav2Vec2Error ? err.code : (err as NodeJS.ErrnoException)?.code ?? 'UNEXPECTED';
    const message = (err as Error)?.message ?? String(err);
    const input = task.input;
    await this.#store.fail({ id: input.id, key: input.key, file: input.path, code, message, time: new Date().toISOString() });
    this.progress.failed++;
    this.#doneBytes += this.#sizes.get(input.key) ?? 0;
    this.#options.onFile?.({ id: input.id, file: input.path, status: 'failed', code, message });
    this.report();
  }

  async #finish(task: FileTask): Promise<void> {
    const duration = task.source.samples / this.#model.sampleRate;
    const { record, files } = this.#results(task, duration);
    const dirs: Array<{ tmp: string; rel: string }> = [];
    const shape = await task.closeFeatures();
    if (shape) {
      const rel = join('features', task.input.key);
      record.features = { layers: this.#o.features, frames: shape.frames, dim: shape.dim, files: this.#o.features.map((l) => join(rel, `layer${String(l).padStart(2, '0')}.npy`)) };
      dirs.push({ tmp: task.featureDir!, rel });
    }
    const wallMs = Date.now() - task.startedAt;
    record.timing = { wallMs, modelMs: Math.round(task.modelMs), realTime: round(duration / Math.max(wallMs / 1000, 1e-3), 1) };
    await this.#store.commit(task.input.key, record, files, dirs);
    // Only now: a failure before this point (features that cannot be closed, say) is recorded as the input's.
    task.finished = true;
    this.live.delete(task);
    this.wake();
    this.progress.done++;
    this.#committedSeconds += duration;
    this.#doneBytes += this.#sizes.get(task.input.key) ?? 0;
    this.#options.onFile?.({ id: task.input.id, file: task.input.path, status: 'done', duration });
    this.report();
  }

  /** The input's record of transcripts.jsonl and its text outputs (subtitles). */
  #results(task: FileTask, duration: number): { record: Record<string, unknown>; files: OutputFile[] } {
    const record: Record<string, unknown> = {
      id: task.input.id, key: task.input.key, file: task.input.path,
      duration: seconds(duration), sampleRate: task.source.sourceRate, pieces: task.pieces,
      model: this.#model.info.file,
    };
    const files: OutputFile[] = [];
    const transcript = task.transcript();
    if (!transcript) return { record, files };
    record.decoder = this.#bound!.kind;
    const { text, words } = transcriptJson({ ...transcript, duration });
    record.text = text;
    record.words = words;
    const outputs: Record<string, string> = {};
    for (const f of this.#o.formats) {
      const rel = join(f, `${task.input.key}.${f}`);
      outputs[f] = rel;
      files.push({ rel, content: f === 'txt' ? toTxt(transcript.text) : f === 'srt' ? toSrt(transcript.words) : toVtt(transcript.words) });
    }
    if (this.#o.formats.length) record.outputs = outputs;
    return { record, files };
  }
}
