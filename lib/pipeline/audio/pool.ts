/**
 * The audio stage's worker pool: inputs are decoded, downmixed and resampled on worker threads, so no upload can
 * hold the event loop (the server's other clients, timers, the batch job's lock renewals). The main thread only
 * hands over bytes (a path is read by the worker itself; a Buffer is copied once, the caller keeps theirs) and
 * receives mono samples at the model's rate as transferred buffers.
 *
 * Size: one worker per four cores, at least one and at most four (`defaultPoolSize`). LibTorch takes one intra-op
 * thread per core for the model, which is most of the work; decoding is a few percent of it, and a busy worker only
 * makes other inputs wait their turn, it never blocks the event loop.
 *
 * A worker that dies (or whose decoder traps) fails only the input it was decoding, with a coded error, and is
 * replaced on the next input. Idle workers are unref'd, so the pool never keeps a process alive; close() ends them.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { type ResourceLimits, Worker } from 'node:worker_threads';
import { Wav2Vec2Error, type ErrorCode, invalid } from '../../errors';
import { inputName } from '../../audio/load';
import { isPositiveInteger } from '../../is';
import type { AudioBudget } from './budget';
import type { StageChunk } from './decode';
import type { JobMessage, ReplyMessage } from './worker';

export interface AudioPoolOptions {
  /** Worker threads (default: defaultPoolSize()). */
  size?: number;
  /**
   * Node's limits on each worker's JS heap. Decoded audio lives in typed arrays outside it (bounded by the stage's
   * slicing instead); a worker past them dies, failing only the input it was decoding, and is replaced.
   */
  resourceLimits?: ResourceLimits;
}

/** One worker per four cores, within [1, 4]. */
export function defaultPoolSize(cores = availableParallelism()): number {
  return Math.max(1, Math.min(4, Math.floor(cores / 4)));
}

export interface PoolRequest {
  /** A file path (read by the worker) or the bytes of an encoded file. */
  input: string | Uint8Array | ArrayBuffer;
  targetRate: number;
  budget: AudioBudget;
}

interface Job {
  msg: JobMessage;
  onSamples(c: StageChunk): void;
  onDone(sourceRate: number): void;
  onError(err: Wav2Vec2Error): void;
  slot: Slot | null;
  cancelled: boolean;
}

interface Slot {
  worker: Worker;
  job: Job | null;
  /** Settles when the worker has loaded the stage (or has died trying). */
  ready: Promise<void>;
  onReady: () => void;
}

/** The worker entry: compiled JS next to this file, or (running from the TypeScript sources) through tsx. */
function spawn(resourceLimits: ResourceLimits | undefined): Worker {
  const limits = resourceLimits ? { resourceLimits } : {};
  if (!__filename.endsWith('.ts')) return new Worker(join(__dirname, 'worker.js'), limits);
  return new Worker(`require('tsx/cjs'); require(${JSON.stringify(join(__dirname, 'worker.ts'))});`, { eval: true, ...limits });
}

export class AudioPool {
  readonly size: number;
  readonly #limits: ResourceLimits | undefined;
  readonly #slots: Slot[] = [];
  readonly #waiting: Job[] = [];
  #nextId = 1;
  #closed = false;

  constructor(options: AudioPoolOptions = {}) {
    const size = options.size ?? defaultPoolSize();
    if (!(isPositiveInteger(size) && size <= 64)) throw invalid('INVALID_INPUT', 'audio workers', 'an integer within [1, 64]', size);
    this.size = size;
    this.#limits = options.resourceLimits;
  }

  /** Workers started (for tests and metrics). */
  get workers(): number {
    return this.#slots.length;
  }

  /**
   * Starts a worker now and waits until it can decode, so that the first input does not pay for the start-up (140 ms
   * compiled, 190-530 ms from the TypeScript sources, on the 2-core machine of docs/audio.md): a server's first request
   * may have a short deadline.
   */
  async start(): Promise<void> {
    if (this.#closed) return;
    const slot = this.#slots[0] ?? this.#start();
    slot.worker.ref(); // held while it starts, or the process could exit under a pending start()
    await slot.ready;
    if (!slot.job) slot.worker.unref();
  }

  /**
   * The whole input as mono samples at `targetRate` (one transferred buffer). `signal`: stops the decoding of an input
   * nobody waits for any more (a request aborted or timed out); the promise then rejects with ABORTED.
   */
  decode(req: PoolRequest, signal?: AbortSignal): Promise<{ samples: Float32Array; sourceRate: number }> {
    return new Promise((resolve, reject) => {
      let samples: Float32Array = new Float32Array(0);
      const onAbort = () => {
        this.#cancel(job);
        reject(new Wav2Vec2Error('ABORTED', 'The input was no longer needed: its decoding was stopped.'));
      };
      const job = this.#submit(req, false, {
        onSamples: (c) => (samples = c.samples),
        onDone: (sourceRate) => {
          signal?.removeEventListener('abort', onAbort);
          resolve({ samples, sourceRate });
        },
        onError: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      });
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The input as pieces of mono samples at `targetRate`, decoded at most two pieces ahead of the consumer. */
  async *stream(req: PoolRequest): AsyncGenerator<StageChunk> {
    const ready: StageChunk[] = [];
    let ended = false;
    let error: Wav2Vec2Error | null = null;
    let wake: (() => void) | null = null;
    const job = this.#submit(req, true, {
      onSamples: (c) => ready.push(c),
      onDone: () => (ended = true),
      onError: (e) => (error = e),
      wake: () => wake?.(),
    });
    try {
      for (;;) {
        const c = ready.shift();
        if (c) {
          this.#control(job, 'pull');
          yield c;
          continue;
        }
        if (error) throw error;
        if (ended) return;
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    } finally {
      if (!ended && !error) this.#cancel(job);
    }
  }

  /** Ends the workers; inputs waiting or being decoded fail with DISPOSED. */
  async close(): Promise<void> {
    this.#closed = true;
    const gone = new Wav2Vec2Error('DISPOSED', 'The audio stage was closed while this input was being decoded.');
    for (const j of this.#waiting.splice(0)) j.onError(gone);
    await Promise.all(this.#slots.splice(0).map((s) => {
      s.job?.onError(gone);
      s.job = null;
      return s.worker.terminate();
    }));
  }

  #submit(req: PoolRequest, stream: boolean, h: Pick<Job, 'onSamples' | 'onDone' | 'onError'> & { wake?: () => void }): Job {
    const input = typeof req.input === 'string' ? req.input
      : req.input instanceof ArrayBuffer ? new Uint8Array(req.input.slice(0)) : new Uint8Array(req.input); // a copy: the caller keeps theirs
    const msg: JobMessage = { type: 'job', id: this.#nextId++, input, name: inputName(req.input), targetRate: req.targetRate, budget: req.budget, stream };
    const after = h.wake ?? (() => undefined);
    const job: Job = {
      msg, slot: null, cancelled: false,
      onSamples: (c) => { h.onSamples(c); after(); },
      onDone: (r) => { h.onDone(r); after(); },
      onError: (e) => { h.onError(e); after(); },
    };
    if (this.#closed) {
      job.onError(new Wav2Vec2Error('DISPOSED', 'The audio stage is closed.'));
      return job;
    }
    this.#waiting.push(job);
    this.#dispatch();
    return job;
  }

  #dispatch(): void {
    while (this.#waiting.length > 0) {
      let slot = this.#slots.find((s) => !s.job);
      if (!slot && this.#slots.length < this.size) slot = this.#start();
      if (!slot) return;
      const job = this.#waiting.shift()!;
      slot.job = job;
      job.slot = slot;
      slot.worker.ref();
      const transfer = typeof job.msg.input === 'string' ? [] : [job.msg.input.buffer as ArrayBuffer];
      slot.worker.postMessage(job.msg, transfer);
    }
  }

  #start(): Slot {
    let onReady = () => {};
    const ready = new Promise<void>((r) => (onReady = r));
    const slot: Slot = { worker: spawn(this.#limits), job: null, ready, onReady };
    slot.worker.on('message', (m: ReplyMessage) => this.#reply(slot, m));
    // An uncaught error ends the worker ('exit' follows); the input it was decoding fails alone.
    slot.worker.on('error', (err) => this.#lost(slot, `it threw ${(err as Error)?.message ?? err}`));
    slot.worker.on('exit', (code) => this.#lost(slot, `it exited with code ${code}`));
    slot.worker.unref();
    this.#slots.push(slot);
    return slot;
  }

  #reply(slot: Slot, m: ReplyMessage): void {
    if (m.type === 'ready') return slot.onReady();
    const job = slot.job;
    if (!job || job.msg.id !== m.id) return;
    if (m.type === 'samples') {
      if (!job.cancelled) job.onSamples({ samples: m.samples, sourceRate: m.sourceRate });
      return;
    }
    this.#release(slot);
    if (m.type === 'done') {
      if (!job.cancelled) job.onDone(m.sourceRate);
      return;
    }
    if (!job.cancelled) job.onError(new Wav2Vec2Error(m.code as ErrorCode, m.message));
    if (m.retire) this.#retire(slot);
  }

  /** The worker is free again: the next input, or unref'd while idle. */
  #release(slot: Slot): void {
    slot.job = null;
    if (this.#slots.includes(slot)) {
      slot.worker.unref();
      this.#dispatch();
    }
  }

  #retire(slot: Slot): void {
    const i = this.#slots.indexOf(slot);
    if (i >= 0) this.#slots.splice(i, 1);
    void slot.worker.terminate();
    this.#dispatch();
  }

  #lost(slot: Slot, why: string): void {
    slot.onReady();
    const i = this.#slots.indexOf(slot);
    if (i < 0) return; // already retired or closed
    this.#slots.splice(i, 1);
    const job = slot.job;
    slot.job = null;
    if (job && !job.cancelled) {
      job.onError(new Wav2Vec2Error('AUDIO_DECODE_FAILED', `Cannot decode ${job.msg.name}: the audio worker decoding it stopped (${why}).`));
    }
    this.#dispatch();
  }

  #control(job: Job, type: 'pull' | 'cancel'): void {
    job.slot?.worker.postMessage({ type, id: job.msg.id });
  }

  #cancel(job: Job): void {
    job.cancelled = true;
    const i = this.#waiting.indexOf(job);
    if (i >= 0) this.#waiting.splice(i, 1);
    else this.#control(job, 'cancel');
  }
}
