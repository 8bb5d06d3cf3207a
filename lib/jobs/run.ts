/**
 * runBatchJob: many files through one model, resumable. One reader takes the files in order from the audio stage
 * (decoded and resampled on its worker threads, lib/pipeline/audio) and cuts long ones into windows; the model replicas take batches from a bounded queue on their own
 * inference threads, so the reading of the next files overlaps inference; each replica submits its next batch
 * before decoding the previous one's emissions, so decoding overlaps inference too. Finished inputs are committed
 * to the output folder one by one (see store.ts).
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { GreedyCTCDecoder } from '../decode';
import { Wav2Vec2Error, invalid } from '../errors';
import { type Model } from '../model';
import { loadModel } from '../load';
import type { Tensor } from '../tensor';
import { createDecoder, type BoundDecoder } from '../transcribe';
import { crashPoint } from './faults';
import { FileTask, WholeEmissionSink, type PieceOutput, type TextSink } from './file-task';
import { StreamingGreedyDecoder } from './greedy-stream';
import { expandInputs, type JobInput } from './inputs';
import { checkJobOptions, type BatchJobOptions, type BatchProgress, type BatchSummary, type CheckedOptions } from './options';
import { BatchQueue } from './queue';
import { JobStore, type OutputFile } from './store';
import { toSrt, toTxt, toVtt } from './subtitles';
import { readPieces, windowPlan, type Piece, type PieceAudio, type PieceSource, type WindowPlan } from './windows';
import { readSpeechPieces, speechPlan, type SpeechPlan } from './speech-pieces';
import { AudioPool } from '../pipeline/audio';

interface QueuedPiece extends Piece {
  task: FileTask;
}

const round = (x: number, digits: number) => +x.toFixed(digits);

/**
 * Errors that no input causes alone, so the job stops rather than failing every input one by one: the output folder
 * cannot be written, or the model has fewer layers than asked for (when its depth was not known up front).
 */
function stopsJob(err: unknown): boolean {
  return err instanceof Wav2Vec2Error && (err.code === 'BATCH_WRITE_FAILED' || (err.code === 'INVALID_INPUT' && /num_layers/.test(err.message)));
}

function crashed(file: string, deaths: number): Wav2Vec2Error {
  return new Wav2Vec2Error('BATCH_INPUT_CRASHED',
    `The process died ${deaths} times while ${file} was being processed (a native crash, a kill, or running out of memory), ` +
    'so it is not run again. To try it once more, rerun with a higher maxAttempts (--max-attempts).');
}

/** The pieces of one input, cut as the job's plan says. */
function piecesOf(file: string, rate: number, plan: WindowPlan | SpeechPlan, source: PieceSource, audio: PieceAudio): AsyncGenerator<Piece> {
  return 'window' in plan ? readPieces(file, rate, plan, source, audio) : readSpeechPieces(file, rate, plan, source, audio);
}

/** Runs (or resumes) a batch job; resolves with a summary once every input is done or failed, or the job stopped. */
export async function runBatchJob(options: BatchJobOptions): Promise<BatchSummary> {
  const o = checkJobOptions(options);
  const inputs = await expandInputs(options.inputs);
  const out = resolve(options.out);

  // Replicas: the given models, or `concurrency` loads of the file.
  const given = typeof options.model === 'string' ? null : Array.isArray(options.model) ? options.model : [options.model];
  const models: Model[] = [];
  try {
    if (given) models.push(...given);
    else {
      const load = { ...(options.device ? { device: options.device } : {}), ...(options.dtype ? { dtype: options.dtype } : {}), ...(options.threads ? { threads: options.threads } : {}) };
      for (let i = 0; i < o.concurrency; i++) models.push(await loadModel(options.model as string, load));
    }
    return await runWithModels(options, o, inputs, out, models);
  } finally {
    if (!given) for (const m of models) m.dispose();
  }
}

async function settingsOf(options: BatchJobOptions, o: CheckedOptions, model: Model, plan: WindowPlan | SpeechPlan): Promise<Record<string, unknown>> {
  const file = model.info.file;
  const size = await stat(file).then((s) => s.size, () => null);
  const d = options.decoder ?? {};
  return {
    model: { file, bytes: size, dtype: model.info.dtype },
    text: o.text,
    decoder: o.text ? {
      kind: d.decoder ?? 'greedy',
      lm: typeof d.lm === 'string' ? resolve(d.lm) : d.lm ? 'object' : null,
      lexicon: typeof d.lexicon === 'string' ? resolve(d.lexicon) : d.lexicon ? 'object' : null,
      hotwords: d.hotwords ?? null, beamSize: d.beamSize ?? null, lmWeight: d.lmWeight ?? null, wordScore: d.wordScore ?? null,
    } : null,
    // A job cut on windows records what it always did, so folders made before the speech option still resume.
    ...('window' in plan ? { windowSamples: plan.window, strideSamples: plan.stride } : { segment: 'speech', segmenter: plan.segmenter }),
    formats: o.formats,
    features: o.features,
  };
}

/** What every input of a job runs through besides the models: checked before the output folder is touched. */
export interface PreparedJob {
  model: Model;
  /** How long files are cut: fixed windows, or on speech. */
  plan: WindowPlan | SpeechPlan;
  bound: BoundDecoder | null;
  greedy: GreedyCTCDecoder | null;
  maxLayer: number;
}

/** The inputs of a run, in order: a fixed list (the local job) or a queue worker's jobs as they come. */
export interface InputFeed {
  /** Whether next() would resolve at once (if not, the batches formed so far leave rather than wait for more). */
  ready(): boolean;
  /** The next input, or null when no more will come. */
  next(): Promise<JobInput | null>;
}

function listFeed(inputs: readonly JobInput[]): InputFeed {
  let i = 0;
  return { ready: () => true, next: async () => inputs[i++] ?? null };
}

/** Checks the models against the options (decoder files loaded, layers that exist): throws before anything is written. */
export function prepareJob(options: BatchJobOptions, o: CheckedOptions, models: Model[]): PreparedJob {
  const model = models[0]!;
  const plan = o.speech
    ? speechPlan(o.speech, model.sampleRate, model.frameStride, model.receptiveField)
    : windowPlan(o.windowSeconds, o.strideSeconds, model.sampleRate, model.frameStride, model.receptiveField);
  // Decoder options are checked (and files like the LM loaded) before the output folder is touched.
  const bound = o.text ? createDecoder(model, options.decoder ?? {}) : null;
  const greedy = bound?.kind === 'greedy'
    ? new GreedyCTCDecoder(model.labels!, { blank: model.manifest?.blank ?? 0, wordDelimiter: model.manifest?.wordDelimiter ?? null, frameStride: model.frameStride, sampleRate: model.sampleRate })
    : null;
  const maxLayer = o.features.length ? o.features[o.features.length - 1]! : 0;
  if (maxLayer > 0 && !model.info.hasExtractFeatures) {
    throw new Wav2Vec2Error('UNSUPPORTED_METHOD', `features: the model ${model.info.file} has no extract_features method (export it with scripts/export_torchaudio.py or scripts/export_hf.py).`);
  }
  // Before the folder is touched: a layer the model lacks would fail every input, and job.json would then hold
  // the bad layers, so the corrected rerun would be refused as a change of settings.
  const depth = model.info.numLayers ?? model.manifest?.numLayers ?? null;
  if (depth !== null && maxLayer > depth) {
    throw invalid('INVALID_INPUT', 'features', `layer numbers within [1, ${depth}] (the model ${model.info.file} has ${depth} transformer layers)`, maxLayer);
  }
  return { model, plan, bound, greedy, maxLayer };
}

/** The settings job.json records (and compares on every later run or worker). */
export function jobSettings(options: BatchJobOptions, o: CheckedOptions, job: PreparedJob): Promise<Record<string, unknown>> {
  return settingsOf(options, o, job.model, job.plan);
}

async function runWithModels(options: BatchJobOptions, o: CheckedOptions, inputs: JobInput[], out: string, models: Model[]): Promise<BatchSummary> {
  const job = prepareJob(options, o, models);
  const store = await JobStore.open(out, await jobSettings(options, o, job));
  // From here on the folder is locked: every way out goes through store.close(), which releases it.
  try {
    const todo = inputs.filter((i) => !store.done.has(i.key) && (o.retryFailed || !store.failed.has(i.key)));
    // ETA from bytes read: durations are unknown before decoding, sizes are known now and roughly proportional.
    const sizes = new Map<string, number>();
    for (const i of todo) sizes.set(i.key, await stat(i.path).then((s) => s.size, () => 0));
    const { progress, interrupted } = await runInputs(options, o, job, models, store, listFeed(todo), { files: inputs.length, skipped: inputs.length - todo.length, sizes });
    const remaining = todo.length - progress.done - progress.failed;
    return {
      ...progress, remaining, interrupted: interrupted && remaining > 0, out,
      transcripts: store.transcriptsFile, failures: store.failuresFile,
    };
  } catch (err) {
    // An error of close() (failures.jsonl cannot be rebuilt on a full disk) must not replace the one that stopped the job.
    await store.close().catch(() => undefined);
    throw err;
  } finally {
    await store.close();
  }
}

/**
 * The pipeline: every input `feed` gives runs through the models into `store` (see the file comment), until the feed
 * ends, the job stops (a write failure: thrown) or `options.signal` aborts. The local job and the queue worker
 * (lib/jobs/queue/worker.ts) both run their inputs here.
 */
export async function runInputs(
  options: BatchJobOptions, o: CheckedOptions, job: PreparedJob, models: Model[], store: JobStore, feed: InputFeed,
  totals: { files: number; skipped: number; sizes: Map<string, number> },
): Promise<{ progress: BatchProgress; interrupted: boolean }> {
  const { model, plan, bound, greedy, maxLayer } = job;
  const sizes = totals.sizes;
  // Decodes the inputs on worker threads: the JS thread keeps renewing the lock and feeding the models meanwhile.
  const audio = { pool: new AudioPool(o.audioWorkers === undefined ? {} : { size: o.audioWorkers }), budget: o.budget };
  try {
    const signal = options.signal;
    const t0 = Date.now();
    const progress: BatchProgress = {
      files: totals.files, skipped: totals.skipped, done: 0, failed: 0,
      audioSeconds: 0, elapsedSeconds: 0, realTime: 0, etaSeconds: null,
    };
    const totalBytes = [...sizes.values()].reduce((a, b) => a + b, 0);
    let doneBytes = 0;
    let committedSeconds = 0;
    const live = new Set<FileTask>();
    const report = () => {
      // Finished files, plus what the model has done of files in progress (an hour-long file shows progress too).
      let partial = 0;
      for (const t of live) partial += t.processedSeconds;
      progress.audioSeconds = committedSeconds + partial;
      progress.elapsedSeconds = (Date.now() - t0) / 1000;
      progress.realTime = progress.elapsedSeconds > 0 ? progress.audioSeconds / progress.elapsedSeconds : 0;
      progress.etaSeconds = doneBytes > 0 ? (progress.elapsedSeconds * (totalBytes - doneBytes)) / doneBytes : null;
      options.onProgress?.({ ...progress });
    };
    report();

    // Budget of the queue: two batches of full windows (or longest speech pieces), so the next batch is ready while one runs.
    const longest = 'window' in plan ? plan.window : plan.longest;
    const queue = new BatchQueue<QueuedPiece>(o.batchSize, 2 * o.batchSize * longest, longest);
    let fatal: unknown = null;
    let interrupted = false;

    // Resolves once no input is in flight (or the job stops): see the producer.
    let idleWaiters: Array<() => void> = [];
    const wakeIdle = () => {
      const waiting = idleWaiters;
      idleWaiters = [];
      for (const wake of waiting) wake();
    };
    const untilIdle = async () => {
      while (live.size > 0 && !fatal && !signal?.aborted) await new Promise<void>((resolve) => idleWaiters.push(resolve));
    };

    const stopOnFatal = (err: unknown) => {
      fatal ??= err;
      queue.stop();
      wakeIdle();
    };

    const fail = async (task: FileTask, err: unknown) => {
      if (task.failed || task.finished) return;
      live.delete(task);
      wakeIdle();
      await task.abandon();
      const code = err instanceof Wav2Vec2Error ? err.code : (err as NodeJS.ErrnoException)?.code ?? 'UNEXPECTED';
      const message = (err as Error)?.message ?? String(err);
      await store.fail({ id: task.input.id, key: task.input.key, file: task.input.path, code, message, time: new Date().toISOString() });
      progress.failed++;
      doneBytes += sizes.get(task.input.key) ?? 0;
      options.onFile?.({ id: task.input.id, file: task.input.path, status: 'failed', code, message });
      report();
    };

    const finish = async (task: FileTask) => {
      const duration = task.source.samples / model.sampleRate;
      const record: Record<string, unknown> = {
        id: task.input.id, key: task.input.key, file: task.input.path,
        duration: round(duration, 3), sampleRate: task.source.sourceRate, pieces: task.pieces,
        model: model.info.file,
      };
      const files: OutputFile[] = [];
      const transcript = task.transcript();
      if (transcript) {
        record.decoder = bound!.kind;
        record.text = transcript.text;
        record.words = transcript.words.map((w) => ({ word: w.word, start: round(w.start, 3), end: round(w.end, 3), confidence: round(w.confidence, 4) }));
        const outputs: Record<string, string> = {};
        for (const f of o.formats) {
          const rel = join(f, `${task.input.key}.${f}`);
          outputs[f] = rel;
          files.push({ rel, content: f === 'txt' ? toTxt(transcript.text) : f === 'srt' ? toSrt(transcript.words) : toVtt(transcript.words) });
        }
        if (o.formats.length) record.outputs = outputs;
      }
      const dirs: Array<{ tmp: string; rel: string }> = [];
      const shape = await task.closeFeatures();
      if (shape) {
        const rel = join('features', task.input.key);
        record.features = { layers: o.features, frames: shape.frames, dim: shape.dim, files: o.features.map((l) => join(rel, `layer${String(l).padStart(2, '0')}.npy`)) };
        dirs.push({ tmp: task.featureDir!, rel });
      }
      const wallMs = Date.now() - task.startedAt;
      record.timing = { wallMs, modelMs: Math.round(task.modelMs), realTime: round(duration / Math.max(wallMs / 1000, 1e-3), 1) };
      await store.commit(task.input.key, record, files, dirs);
      // Only now: a failure before this point (features that cannot be closed, say) is recorded as the input's.
      task.finished = true;
      live.delete(task);
      wakeIdle();
      progress.done++;
      committedSeconds += duration;
      doneBytes += sizes.get(task.input.key) ?? 0;
      options.onFile?.({ id: task.input.id, file: task.input.path, status: 'done', duration });
      report();
    };

    // Model outputs of one piece, cut to the frames it keeps.
    const cut = (t: Tensor | undefined, b: number, frames: number, keep: Piece['keep']): Tensor | undefined => {
      if (!t) return undefined;
      const [, F, C] = t.shape as [number, number, number];
      const to = Math.min(keep.to ?? frames, frames);
      const from = Math.min(keep.from, to);
      return { data: t.data.slice((b * F + from) * C, (b * F + to) * C), shape: [to - from, C] };
    };

    const runBatch = async (m: Model, batch: QueuedPiece[]): Promise<PieceOutput[]> => {
      // Before the model sees an input, its attempt is on disk: a crash from here on counts against it.
      const unmarked = [...new Set(batch.map((p) => p.task))].filter((t) => !t.marked);
      for (const t of unmarked) t.marked = true;
      await Promise.all(unmarked.map((t) => store.markAttempt(t.input)));
      for (const p of batch) crashPoint('before-forward', false, p.task.input.path);
      const x = batch.map((p) => p.samples);
      const started = performance.now();
      let emissions: Tensor | undefined;
      let layers: Tensor[] | undefined;
      let lengths: Int32Array;
      if (o.text) {
        const r = await m.forward(x);
        emissions = r.emissions;
        lengths = r.lengths;
      }
      if (maxLayer > 0) {
        const r = await m.extractFeatures(x, { numLayers: maxLayer });
        layers = o.features.map((l) => r.features[l - 1]!);
        lengths = r.lengths;
      }
      const ms = performance.now() - started;
      const total = x.reduce((s, a) => s + a.length, 0);
      return batch.map((p, b) => {
        p.task.modelMs += (ms * p.samples.length) / total;
        const frames = lengths![b]!;
        return {
          ...(p.wordBreak ? { wordBreak: true } : {}),
          ...(emissions ? { emission: cut(emissions, b, frames, p.keep)! } : {}),
          ...(layers ? { features: layers.map((t) => cut(t, b, frames, p.keep)!) } : {}),
        };
      });
    };

    const deliver = async (batch: QueuedPiece[], outs: PieceOutput[]) => {
      try {
        await deliverEach(batch, outs);
      } finally {
        report();
      }
    };

    const deliverEach = async (batch: QueuedPiece[], outs: PieceOutput[]) => {
      for (let b = 0; b < batch.length; b++) {
        const p = batch[b]!;
        if (p.task.failed || p.task.finished) continue;
        const kept = outs[b]!.emission?.shape[0] ?? outs[b]!.features?.[0]?.shape[0] ?? 0;
        p.task.processedSeconds += (kept * model.frameStride) / model.sampleRate;
        try {
          if (await p.task.deliver(p.index, outs[b]!)) await finish(p.task);
        } catch (err) {
          if (stopsJob(err)) throw err;
          await fail(p.task, err);
        }
      }
    };

    // A failed batch is retried piece by piece, so one bad input fails alone.
    const runAndDeliver = async (m: Model, batch: QueuedPiece[], running: Promise<PieceOutput[]>) => {
      let outs: PieceOutput[] | null = null;
      try {
        outs = await running;
      } catch (err) {
        if (stopsJob(err)) throw err;
        if (batch.length === 1 || (err instanceof Wav2Vec2Error && err.code === 'DISPOSED')) {
          for (const p of batch) await fail(p.task, err);
          return;
        }
      }
      if (outs) return deliver(batch, outs);
      for (const p of batch) {
        if (p.task.failed) continue;
        try {
          await deliver([p], await runBatch(m, [p]));
        } catch (err) {
          if (stopsJob(err)) throw err;
          await fail(p.task, err);
        }
      }
    };

    const consumer = async (m: Model) => {
      let previous: Promise<void> | null = null;
      for (;;) {
        const batch = await queue.take();
        if (!batch) break;
        // Submitted before the previous batch's emissions are decoded: the inference thread stays busy meanwhile.
        const running = runBatch(m, batch);
        running.catch(() => undefined);
        if (previous) await previous;
        // A rejection is the job's end (a write failure): recorded at once, so it is never left unhandled meanwhile.
        previous = runAndDeliver(m, batch, running).catch(stopOnFatal);
      }
      if (previous) await previous;
    };

    const producer = async () => {
      for (;;) {
        if (signal?.aborted || fatal) break;
        // Nothing more at hand (a queue worker waiting for jobs): what is queued leaves now instead of waiting.
        if (!feed.ready()) queue.flush();
        const input = await feed.next();
        if (!input || signal?.aborted || fatal) break;
        const deaths = store.deaths.get(input.key) ?? 0;
        // In flight when an earlier run died: it runs alone, once everything before it is done, and the next input
        // waits for it, so that a death now is its own and counts against nothing else.
        const alone = deaths > 0 && deaths < o.maxAttempts;
        if (alone) await settle();
        const text: TextSink | null = !o.text ? null : greedy ? new StreamingGreedyDecoder(greedy) : new WholeEmissionSink(bound!);
        const task = new FileTask(input, text, o.features, maxLayer > 0 ? store.tmpPath(`${input.key}.features`) : null);
        live.add(task);
        try {
          if (deaths >= o.maxAttempts) throw crashed(input.path, deaths);
          if (input.error) throw input.error;
          for await (const piece of piecesOf(input.path, model.sampleRate, plan, task.source, audio)) {
            if (piece.last) task.lastIndex = piece.index;
            await queue.put({ ...piece, task });
            if (signal?.aborted || fatal || task.failed) break;
          }
        } catch (err) {
          await fail(task, err);
        }
        if (alone) await settle();
      }
      queue.close();
    };

    /** Lets the queue hand out what it holds and waits until every input read so far is done or failed. */
    const settle = async () => {
      queue.flush();
      await untilIdle();
    };

    const onAbort = () => {
      interrupted = true;
      // Batches already handed to a model finish and are committed; queued pieces are dropped.
      queue.stop();
      wakeIdle();
    };
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort);
    try {
      await Promise.all([
        producer().catch(stopOnFatal),
        ...models.map((m) => consumer(m).catch(stopOnFatal)),
      ]);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      for (const task of live) {
        await task.abandon();
        // Stopped, not killed: its run does not count as a death (best effort: on a full disk the count may stay).
        if (task.marked) await store.unmarkAttempt(task.input).catch(() => undefined);
      }
    }
    if (fatal) throw fatal;
    report();
    return { progress, interrupted };
  } finally {
    await audio.pool.close();
  }
}
