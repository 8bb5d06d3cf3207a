/**
 * createRecognizer / Recognizer: many concurrent callers, one model (in one or more replicas). Requests are decoded
 * and checked on their own (a bad input fails only its caller), queued with a bound (OVERLOADED beyond it), grouped
 * into batches that give every item exactly what it would get alone (see policy.ts), run off the event loop by a
 * free replica's inference thread, then split and decoded per caller.
 */
import { Wav2Vec2Error, checkOptionKeys, invalid, optionKeys } from '../errors';
import { isFiniteNumber, isInteger, isObject, isPositiveInteger } from '../is';
import { Model, type Device, type DTypeOption } from '../model/model';
import { loadModel } from '../model/load';
import { checkConcurrency, loadReplicas } from '../model/replicas';
import { MAX_WARMUP_SECONDS, warmUp, type WarmupResult } from '../model/warmup';
import { settleBatch } from '../pipeline/batch-items';
import { itemOf as tensorItem, type Tensor } from '../tensor';
import type { Word } from '../decode';
import { createDecoder, decoderOptionsOf, padToReceptiveField, type BoundDecoder, type DecoderSpec } from '../pipeline/transcribe';
import { DEFAULT_MODEL_PATH } from '../paths';
import { STANDARD_CONV_LAYERS, framesFor } from '../model/manifest';
import { Batcher, type Queued } from './batcher';
import { prepareAudio, type RecognizerAudio } from './input';
import { AudioPool, checkBudget, type AudioBudget } from '../pipeline/audio';
import { DEFAULT_MAX_PADDING, groupingFor, type GroupingPolicy } from './policy';
import { DEFAULT_MAX_BATCH_SECONDS } from './defaults';

export interface RecognizerOptions {
  /**
   * A model file (its manifest beside it), a loaded Model, or loaded replicas of one model (then close() leaves them
   * loaded). Default: the embedded model.
   */
  model?: string | Model | Model[];
  /** For a model loaded from a path: 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: Device;
  dtype?: DTypeOption;
  /**
   * For a model loaded from a path: intra-op threads per replica. With neither this nor `concurrency`, a CPU model's
   * size decides, as in batch jobs: under 16 M parameters one single-threaded replica per core (up to 8), otherwise
   * one replica on every core (lib/model/replicas.ts).
   */
  threads?: number;
  /** For a model loaded from a path: replicas, each running its own batches on its own inference thread. */
  concurrency?: number;
  /** Most requests per model call (default 8; 1 turns batching off). */
  batchSize?: number;
  /**
   * Most padded audio per batch, in seconds (batch size × longest item; default 32): bounds a batch's memory and
   * time whatever the lengths. A single longer request still runs, alone. Why 32: past it a batch gains no speed (its
   * activations outgrow the caches) while everyone in it waits longer; see defaults.ts.
   */
  maxBatchSeconds?: number;
  /** Longest a request waits for others to fill its batch while the model is free, in ms (default 10). */
  maxWaitMs?: number;
  /** Most requests accepted and not yet running (decoding audio or queued); beyond it calls reject with OVERLOADED (default 64). */
  maxQueue?: number;
  /** Longest audio per request, in seconds (default: no limit but the model's maxAttentionBytes). */
  maxDuration?: number;
  /** Source sample rates accepted, Hz (default 8000 to 384000); others fail with AUDIO_UNSUPPORTED_RATE. */
  minSampleRate?: number;
  maxSampleRate?: number;
  /** Worker threads that decode and resample files and encoded bytes (default: one per four cores, 1 to 4). */
  audioWorkers?: number;
  /** Models that take lengths: padding a batch may add, as a fraction of its shortest item (default 0.25). */
  maxPadding?: number;
  /**
   * Before the Recognizer is returned, run the model on silent inputs of lengths up to this many seconds, so that the
   * first requests do not pay for its first calls (lib/model/warmup.ts; default 0: none). `wav2vec2 serve` warms up
   * to 15 s by default (--warmup): 2-2.4 s at start for the default model, about 16 s for a base-size one (2 cores).
   */
  warmupSeconds?: number;
  /** 'greedy' (default), 'beam', or the full decoder options (`{ type: 'beam', lm, lexicon, hotwords, ... }`). */
  decoder?: DecoderSpec;
}

export interface RecognizeOptions {
  /** Aborting removes a waiting request; a running one is answered at once with ABORTED and its result dropped. */
  signal?: AbortSignal;
}

export interface TranscribeOptions extends RecognizeOptions {
  /** Include the words with start/end times and confidences (default false). */
  timestamps?: boolean;
  /** Include this request's emissions [frames, classes] (default false). */
  emissions?: boolean;
}

export interface FeaturesOptions extends RecognizeOptions {
  /** Run only the first N transformer layers (default: all). */
  numLayers?: number;
  /**
   * Called with the shape the features will have once the audio is decoded, before the request is queued for the
   * model; throw (a coded error) to refuse it there, e.g. when the answer would be too large. Not called while the
   * shape cannot be known in advance: a model whose manifest lacks embedDim, before its first features call.
   */
  checkShape?: (shape: FeatureShape) => void;
}

/** The features of one request: `layers` tensors of [frames, dim]. */
export interface FeatureShape {
  layers: number;
  frames: number;
  dim: number;
}

export interface Recognition {
  text: string;
  /** Seconds of audio. */
  duration: number;
  /** With `timestamps: true`: in seconds from the start of the clip (lib/decode/result.ts). */
  words?: Word[];
  /** With `emissions: true`: CTC logits [frames, classes]. */
  emissions?: Tensor;
}

export interface RecognizedFeatures {
  /** One [frames, dim] tensor per transformer layer. */
  features: Tensor[];
  duration: number;
}

export interface RecognizerStats {
  /** Requests decoding their audio (accepted, not yet queued). */
  preparing: number;
  /** Requests waiting for a batch. */
  queued: number;
  /** Requests in the batch running now. */
  running: number;
  maxQueue: number;
  batches: number;
  completed: number;
  failed: number;
  /** Calls refused with OVERLOADED. */
  overloaded: number;
}

/** Reported after every batch (metrics, logs). */
export interface BatchInfo {
  kind: 'transcribe' | 'features';
  size: number;
  /** Seconds of audio in the batch (without padding). */
  audioSeconds: number;
  /** Wall time of the model call(s), in ms. */
  ms: number;
  /** True when the batch failed and its items were run again one by one. */
  retriedAlone: boolean;
}

type Op = { kind: 'transcribe' } | { kind: 'features'; numLayers: number | null; checkShape?: ((shape: FeatureShape) => void) | undefined };

interface Job extends Queued {
  readonly samples: Float32Array;
  readonly duration: number;
  readonly op: Op;
  settled: boolean;
  resolve(out: Tensor[]): void;
  reject(err: unknown): void;
}

const DEFAULTS = { batchSize: 8, maxBatchSeconds: DEFAULT_MAX_BATCH_SECONDS, maxWaitMs: 10, maxQueue: 64, maxDuration: Infinity, warmupSeconds: 0 };

const RECOGNIZER_OPTION_KEYS = optionKeys<RecognizerOptions>({
  model: true, device: true, dtype: true, threads: true, concurrency: true, batchSize: true, maxBatchSeconds: true, maxWaitMs: true, maxQueue: true,
  maxDuration: true, minSampleRate: true, maxSampleRate: true, audioWorkers: true, maxPadding: true, warmupSeconds: true, decoder: true,
});
const RECOGNIZE_OPTION_KEYS = optionKeys<RecognizeOptions>({ signal: true });
const TRANSCRIBE_OPTION_KEYS = optionKeys<TranscribeOptions>({ signal: true, timestamps: true, emissions: true });
const FEATURES_OPTION_KEYS = optionKeys<FeaturesOptions>({ signal: true, numLayers: true, checkShape: true });

/** Loads the model (unless one is given) and returns a Recognizer. */
export async function createRecognizer(options: RecognizerOptions = {}): Promise<Recognizer> {
  if (!isObject(options as unknown)) throw invalid('INVALID_INPUT', 'options', 'an object', options);
  checkOptionKeys('createRecognizer options', options, RECOGNIZER_OPTION_KEYS);
  const limits = checkOptions(options);
  const audio = {
    budget: checkBudget({ maxSeconds: limits.maxDuration, minSampleRate: options.minSampleRate, maxSampleRate: options.maxSampleRate }),
    pool: new AudioPool(options.audioWorkers === undefined ? {} : { size: options.audioWorkers }),
  };
  // Checked before the model loads; what needs the model's labels is checked by createDecoder.
  const decoderOptions = decoderOptionsOf(options.decoder);
  const given = options.model instanceof Model ? [options.model]
    : Array.isArray(options.model) && options.model.length > 0 && options.model.every((m) => m instanceof Model) ? options.model : null;
  if (options.model !== undefined && !given && typeof options.model !== 'string') {
    throw invalid('INVALID_INPUT', 'model', 'a model file path, a Model from loadModel() or an array of replicas of one', options.model);
  }
  if (given && (options.device !== undefined || options.dtype !== undefined || options.threads !== undefined || options.concurrency !== undefined)) {
    throw invalid('INVALID_INPUT', 'options', 'device, dtype, threads and concurrency only with a model path (a loaded Model has its own)', options);
  }
  const concurrency = checkConcurrency(options.concurrency);
  const load = {
    ...(options.device !== undefined ? { device: options.device } : {}),
    ...(options.dtype !== undefined ? { dtype: options.dtype } : {}),
  };
  const open = (threads: number) => loadModel((options.model as string | undefined) ?? DEFAULT_MODEL_PATH, { ...load, ...(threads ? { threads } : {}) });
  const replicas = given ?? await loadReplicas(open, { concurrency, threads: options.threads });
  const model = replicas[0]!;
  try {
    let decoder: BoundDecoder | Wav2Vec2Error;
    try {
      decoder = createDecoder(model, decoderOptions);
    } catch (err) {
      // A model without labels can still serve features; transcribe() then says why it cannot decode.
      if (!(err instanceof Wav2Vec2Error && err.code === 'INVALID_MANIFEST' && !model.labels)) throw err;
      decoder = err;
    }
    // The first request must not wait for a worker to start (a server may give it 100 ms).
    await audio.pool.start();
    // No longer than a request may be: those lengths never come.
    const warmup = await warmUp(replicas, Math.min(limits.warmupSeconds, limits.maxDuration));
    return new Recognizer(replicas, !given, decoder, { ...limits, grouping: groupingFor(model, limits.maxPadding), warmup }, audio);
  } catch (err) {
    await audio.pool.close();
    if (!given) for (const m of replicas) m.dispose();
    throw err;
  }
}

function checkOptions(o: RecognizerOptions): typeof DEFAULTS & { maxPadding: number } {
  const out = { ...DEFAULTS, maxPadding: DEFAULT_MAX_PADDING };
  if (o.batchSize !== undefined) {
    if (!(isPositiveInteger(o.batchSize) && o.batchSize <= 1024)) throw invalid('INVALID_INPUT', 'batchSize', 'an integer within [1, 1024]', o.batchSize);
    out.batchSize = o.batchSize;
  }
  if (o.maxBatchSeconds !== undefined) {
    if (!(isFiniteNumber(o.maxBatchSeconds) && o.maxBatchSeconds > 0)) throw invalid('INVALID_INPUT', 'maxBatchSeconds', 'a positive number of seconds', o.maxBatchSeconds);
    out.maxBatchSeconds = o.maxBatchSeconds;
  }
  if (o.maxWaitMs !== undefined) {
    if (!(isFiniteNumber(o.maxWaitMs) && o.maxWaitMs >= 0 && o.maxWaitMs <= 60000)) throw invalid('INVALID_INPUT', 'maxWaitMs', 'a number of ms within [0, 60000]', o.maxWaitMs);
    out.maxWaitMs = o.maxWaitMs;
  }
  if (o.maxQueue !== undefined) {
    if (!isPositiveInteger(o.maxQueue)) throw invalid('INVALID_INPUT', 'maxQueue', 'a positive integer', o.maxQueue);
    out.maxQueue = o.maxQueue;
  }
  if (o.maxDuration !== undefined) {
    if (!(typeof o.maxDuration === 'number' && o.maxDuration > 0)) throw invalid('INVALID_INPUT', 'maxDuration', 'a positive number of seconds', o.maxDuration);
    out.maxDuration = o.maxDuration;
  }
  if (o.maxPadding !== undefined) {
    if (!(isFiniteNumber(o.maxPadding) && o.maxPadding >= 0)) throw invalid('INVALID_INPUT', 'maxPadding', 'a non-negative number', o.maxPadding);
    out.maxPadding = o.maxPadding;
  }
  if (o.warmupSeconds !== undefined) {
    if (!(isFiniteNumber(o.warmupSeconds) && o.warmupSeconds >= 0 && o.warmupSeconds <= MAX_WARMUP_SECONDS)) {
      throw invalid('INVALID_INPUT', 'warmupSeconds', `a number of seconds within [0, ${MAX_WARMUP_SECONDS}]`, o.warmupSeconds);
    }
    out.warmupSeconds = o.warmupSeconds;
  }
  return out;
}

function abortError(signal: AbortSignal): Wav2Vec2Error {
  // A coded reason (e.g. the server's TIMEOUT) is passed on as it is.
  if (signal.reason instanceof Wav2Vec2Error) return signal.reason;
  return new Wav2Vec2Error('ABORTED', 'The request was aborted before its result was ready.', { cause: signal.reason });
}

function closedError(): Wav2Vec2Error {
  return new Wav2Vec2Error('DISPOSED', 'The recognizer was closed: create a new one to recognise more audio.');
}

function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw invalid('INVALID_INPUT', 'signal', 'an AbortSignal', signal);
  return signal;
}

export class Recognizer {
  /** The model (its first replica). */
  readonly model: Model;
  /** How many replicas run batches at once. */
  readonly replicas: number;
  readonly #models: Model[];
  /** How requests are grouped for this model (see policy.ts). */
  readonly grouping: GroupingPolicy;
  /** Most requests per model call. */
  readonly batchSize: number;
  /** What warming up took (`warmupSeconds`): model calls and ms; 0 and 0 when it did not. */
  readonly warmup: WarmupResult;
  readonly #ownsModel: boolean;
  readonly #decoder: BoundDecoder | Wav2Vec2Error;
  readonly #maxQueue: number;
  readonly #audio: { budget: AudioBudget; pool: AudioPool };
  readonly #batcher: Batcher<Job>;
  readonly #preparing = new Set<Promise<unknown>>();
  readonly #listeners = new Set<(info: BatchInfo) => void>();
  #closing: { drain: boolean; done: Promise<void> } | null = null;
  #stats = { batches: 0, completed: 0, failed: 0, overloaded: 0 };
  /** Features' width and depth: from the manifest, else learnt from the first features call. */
  #featureDim: number | null;
  #featureLayers: number | null;

  /** @internal use createRecognizer() */
  constructor(models: Model[], ownsModel: boolean, decoder: BoundDecoder | Wav2Vec2Error,
    o: { batchSize: number; maxBatchSeconds: number; maxWaitMs: number; maxQueue: number; maxDuration: number; grouping: GroupingPolicy; warmup: WarmupResult },
    audio: { budget: AudioBudget; pool: AudioPool }) {
    const model = models[0]!;
    this.model = model;
    this.replicas = models.length;
    this.#models = models;
    this.grouping = o.grouping;
    this.batchSize = o.batchSize;
    this.warmup = o.warmup;
    this.#ownsModel = ownsModel;
    this.#decoder = decoder;
    this.#maxQueue = o.maxQueue;
    this.#audio = audio;
    this.#featureDim = model.manifest?.embedDim ?? null;
    this.#featureLayers = model.info.numLayers;
    const maxBatchSamples = Math.round(o.maxBatchSeconds * model.sampleRate);
    this.#batcher = new Batcher<Job>({ maxBatchSize: o.batchSize, maxBatchSamples, maxWaitMs: o.maxWaitMs, grouping: o.grouping, slots: models.length },
      (batch, slot) => this.#runBatch(batch, this.#models[slot]!));
  }

  get closed(): boolean {
    return this.#closing !== null;
  }

  stats(): RecognizerStats {
    return { preparing: this.#preparing.size, queued: this.#batcher.queued, running: this.#batcher.running, maxQueue: this.#maxQueue, ...this.#stats };
  }

  /** Calls `listener` after every batch; returns a function that removes it. */
  onBatch(listener: (info: BatchInfo) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Transcribes one clip. Rejects with OVERLOADED at once when maxQueue requests are already waiting. */
  async transcribe(audio: RecognizerAudio, options: TranscribeOptions = {}): Promise<Recognition> {
    if (!isObject(options as unknown)) throw invalid('INVALID_INPUT', 'options', 'an object', options);
    checkOptionKeys('transcribe options', options, TRANSCRIBE_OPTION_KEYS);
    for (const k of ['timestamps', 'emissions'] as const) {
      if (options[k] !== undefined && typeof options[k] !== 'boolean') throw invalid('INVALID_INPUT', k, 'true or false', options[k]);
    }
    if (this.#decoder instanceof Wav2Vec2Error) throw this.#decoder;
    const decoder = this.#decoder;
    const { tensors: [emission], duration } = await this.#submit(audio, { kind: 'transcribe' }, options.signal);
    const r = decoder.decode(emission!);
    return {
      text: r.text,
      duration,
      ...(options.timestamps ? { words: r.words } : {}),
      ...(options.emissions ? { emissions: { data: emission!.data.slice(), shape: emission!.shape } } : {}),
    };
  }

  /**
   * CTC emissions [frames, classes] of one clip, batched like transcribe(), without decoding: for callers that decode
   * themselves (live streams decode their committed frames incrementally, whatever decoder the recognizer has).
   * The tensor may be a view into the batch's output: copy what you keep.
   */
  async emissions(audio: RecognizerAudio, options: RecognizeOptions = {}): Promise<{ emissions: Tensor; duration: number }> {
    if (!isObject(options as unknown)) throw invalid('INVALID_INPUT', 'options', 'an object', options);
    checkOptionKeys('emissions options', options, RECOGNIZE_OPTION_KEYS);
    const { tensors: [emission], duration } = await this.#submit(audio, { kind: 'transcribe' }, options.signal);
    return { emissions: emission!, duration };
  }

  /** Per-layer transformer features of one clip (the model's extract_features), batched like transcribe(). */
  async features(audio: RecognizerAudio, options: FeaturesOptions = {}): Promise<RecognizedFeatures> {
    if (!isObject(options as unknown)) throw invalid('INVALID_INPUT', 'options', 'an object', options);
    checkOptionKeys('features options', options, FEATURES_OPTION_KEYS);
    const { numLayers, checkShape } = options;
    if (numLayers !== undefined && !(isInteger(numLayers) && numLayers >= 1)) throw invalid('INVALID_INPUT', 'numLayers', 'a positive integer', numLayers);
    if (checkShape !== undefined && typeof checkShape !== 'function') throw invalid('INVALID_INPUT', 'checkShape', 'a function', checkShape);
    if (!this.model.info.hasExtractFeatures) {
      throw new Wav2Vec2Error('UNSUPPORTED_METHOD', `This model (${this.model.info.convention}) has no extract_features method.`);
    }
    const { tensors, duration } = await this.#submit(audio, { kind: 'features', numLayers: numLayers ?? null, checkShape }, options.signal);
    if (tensors.length > 0) {
      this.#featureDim ??= tensors[0]!.shape[1]!;
      // All layers came back: that is the model's depth.
      if (numLayers === undefined) this.#featureLayers ??= tensors.length;
    }
    return { features: tensors, duration };
  }

  /** The shape of a features request's answer for `samples` (padded) samples, when it can be known before the run. */
  #featureShape(samples: number, numLayers: number | null): FeatureShape | null {
    const dim = this.#featureDim;
    const depth = this.#featureLayers;
    if (dim === null || (depth === null && numLayers === null)) return null;
    // More layers than the model has is refused by the model itself (INVALID_INPUT) when it runs.
    const layers = depth === null ? numLayers! : Math.min(numLayers ?? depth, depth);
    return { layers, frames: framesFor(samples, this.model.manifest?.convLayers ?? STANDARD_CONV_LAYERS), dim };
  }

  /** A check the caller asked for once the audio is decoded (see FeaturesOptions.checkShape); its error, or null. */
  #refusal(op: Op, samples: number): unknown {
    if (op.kind !== 'features' || !op.checkShape) return null;
    const shape = this.#featureShape(samples, op.numLayers);
    try {
      if (shape) op.checkShape(shape);
      return null;
    } catch (err) {
      return err;
    }
  }

  /**
   * Stops accepting calls (they reject with DISPOSED). `drain: true` (default) finishes every accepted request
   * first, without waiting for batches to fill; `drain: false` rejects the waiting ones with DISPOSED (a batch
   * already running still finishes). Then disposes the model if the recognizer loaded it. Safe to call twice.
   */
  close(options: { drain?: boolean } = {}): Promise<void> {
    if (this.#closing) return this.#closing.done;
    const drain = options.drain ?? true;
    const done = (async () => {
      if (drain) this.#batcher.drain();
      else for (const j of this.#batcher.takeAll()) this.#settle(j, closedError());
      // Requests still decoding their audio were accepted: they join the queue (drain) or are rejected.
      while (this.#preparing.size > 0) await Promise.allSettled([...this.#preparing]);
      await this.#batcher.idle();
      await this.#audio.pool.close();
      if (this.#ownsModel) for (const m of this.#models) m.dispose();
    })();
    this.#closing = { drain, done };
    return done;
  }

  async #submit(audio: RecognizerAudio, op: Op, signalArg: unknown): Promise<{ tensors: Tensor[]; duration: number }> {
    const signal = checkSignal(signalArg);
    if (this.#closing) throw closedError();
    if (signal?.aborted) throw abortError(signal);
    if (this.#preparing.size + this.#batcher.queued >= this.#maxQueue) {
      this.#stats.overloaded++;
      throw new Wav2Vec2Error('OVERLOADED',
        `The recognizer has ${this.#maxQueue} requests waiting (maxQueue): retry later, or raise maxQueue / add capacity.`);
    }
    // Decoding counts against the queue bound too: it holds the request's audio in memory.
    // An abort while the audio is decoded also stops the decoding (its worker is then free for others).
    const preparing = prepareAudio(this.model, audio, this.#audio.budget, this.#audio.pool, signal);
    this.#preparing.add(preparing);
    preparing.finally(() => this.#preparing.delete(preparing)).catch(() => undefined);
    return new Promise((resolve, reject) => {
      let job: Job | null = null;
      let done = false;
      const finish = (settle: () => void) => {
        if (done) return;
        done = true;
        signal?.removeEventListener('abort', onAbort);
        settle();
      };
      // Waiting: out of the queue. Decoding or running: answered now, the work's result is dropped.
      const onAbort = () => {
        if (!job) return finish(() => reject(abortError(signal!)));
        this.#batcher.remove(job);
        this.#settle(job, abortError(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      preparing.then((prepared) => {
        if (done) return;
        // (Re-read after the await: close() may have been called meanwhile.)
        if (this.#closing && !this.#closing.drain) return finish(() => reject(closedError()));
        const samples = padToReceptiveField(this.model, prepared.samples);
        // Refused before it is queued: the model never runs for it.
        const refusal = this.#refusal(op, samples.length);
        if (refusal) {
          this.#stats.failed++;
          return finish(() => reject(refusal));
        }
        job = {
          key: op.kind === 'features' ? `features:${op.numLayers ?? 'all'}` : 'transcribe',
          length: samples.length,
          enqueuedAt: performance.now(),
          samples,
          duration: prepared.duration,
          op,
          settled: false,
          resolve: (tensors) => finish(() => resolve({ tensors, duration: prepared.duration })),
          reject: (err) => finish(() => reject(err)),
        };
        this.#batcher.push(job);
      }, (err: unknown) => {
        if (done) return; // answered already (aborted): its decoding was stopped, not failed
        this.#stats.failed++;
        finish(() => reject(err));
      });
    });
  }

  #settle(job: Job, result: Tensor[] | unknown): void {
    if (job.settled) return;
    job.settled = true;
    if (result instanceof Error) {
      this.#stats.failed++;
      job.reject(result);
    } else {
      this.#stats.completed++;
      job.resolve(result as Tensor[]);
    }
  }

  async #runBatch(batch: Job[], model: Model): Promise<void> {
    const live = batch.filter((j) => !j.settled);
    if (live.length === 0) return;
    const op = live[0]!.op;
    const t0 = performance.now();
    // One item can sink a batch (e.g. the batch's attention tensor is over budget while each item alone is not, or
    // one input the model refuses): then each runs alone and gets its own result or error (lib/pipeline/batch-items.ts).
    const retriedAlone = await settleBatch(live, this.#infer(model, live, op), {
      alone: async (j) => (await this.#infer(model, [j], op))[0]!,
      settle: (j, out) => this.#settle(j, out.ok ? out.value : out.error instanceof Error ? out.error : new Wav2Vec2Error('INFERENCE_FAILED', String(out.error))),
      skip: (j) => j.settled,
    });
    this.#stats.batches++;
    const info: BatchInfo = { kind: op.kind, size: live.length, audioSeconds: live.reduce((s, j) => s + j.duration, 0), ms: performance.now() - t0, retriedAlone };
    for (const l of this.#listeners) {
      try {
        l(info);
      } catch {
        // A failing listener (metrics, logging) must not break the queue.
      }
    }
  }

  /** One call of `model` for `jobs` (same op); returns each job's own tensors, cut to its valid frames. */
  async #infer(model: Model, jobs: Job[], op: Op): Promise<Tensor[][]> {
    const input = jobs.length === 1 ? jobs[0]!.samples : jobs.map((j) => j.samples);
    if (op.kind === 'transcribe') {
      const { emissions, lengths } = await model.forward(input);
      return jobs.map((_, b) => [itemOf(emissions, b, lengths[b]!, false)]);
    }
    const { features, lengths } = await model.extractFeatures(input, op.numLayers === null ? {} : { numLayers: op.numLayers });
    // Copies where an item is part of a larger buffer: a caller keeps only its own features, not the whole batch's.
    return jobs.map((_, b) => features.map((f) => itemOf(f, b, lengths[b]!, true)));
  }
}

/**
 * Item b of a [B, F, D] tensor, its first `frames` frames: a view, or with `copy` a copy, unless the item is the
 * whole buffer (a batch of one, unpadded), which is then handed over as it is (features can be hundreds of MB).
 */
function itemOf(t: Tensor, b: number, frames: number, copy: boolean): Tensor {
  const view = tensorItem(t, b, frames);
  const whole = view.data.length === t.data.length && t.data.byteLength === t.data.buffer.byteLength;
  return copy && !whole ? { data: view.data.slice(), shape: view.shape } : view;
}
