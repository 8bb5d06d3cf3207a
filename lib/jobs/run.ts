/**
 * runBatchJob: many files through one model, resumable. A job is three stages running at once, joined by a bounded
 * queue and by promises:
 *   producer   (produce.ts) reads the inputs in order: decoded, downmixed and resampled on the audio stage's worker
 *              threads (lib/pipeline/audio), cut into windows, put on the queue, which sorts them into batches of
 *              similar length and holds at most `queueBudget` samples;
 *   consumers  (consume.ts) one per model replica: batches into the model on its own inference thread;
 *   committer  (commit.ts) decodes each batch's outputs and commits finished inputs to the job store (store.ts).
 * So the reading of the next batch, the inference of this one and the decoding and committing of the last overlap.
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { GreedyCTCDecoder } from '../decode';
import { Wav2Vec2Error, invalid } from '../errors';
import { type Model } from '../model/model';
import { loadModel } from '../model/load';
import { DEFAULT_MODEL_PATH } from '../paths';
import { createDecoder, type BoundDecoder } from '../pipeline/transcribe';
import { Committer, type JobTotals, type QueuedPiece } from './commit';
import { consume } from './consume';
import { expandInputs, type JobInput } from './inputs';
import { checkJobOptions, type BatchJobOptions, type BatchProgress, type BatchSummary, type CheckedOptions } from './options';
import { produce, type InputFeed } from './produce';
import { BatchQueue } from './queue';
import { JobStore } from './store';
import { windowPlan, type WindowPlan } from './windows';
import { speechPlan, type SpeechPlan } from './speech-pieces';
import { AudioPool } from '../pipeline/audio';
import { loadReplicas } from '../model/replicas';

export type { InputFeed } from './produce';

/** Runs (or resumes) a batch job; resolves with a summary once every input is done or failed, or the job stopped. */
export async function runBatchJob(options: BatchJobOptions): Promise<BatchSummary> {
  const o = checkJobOptions(options);
  const inputs = await expandInputs(options.inputs);
  const out = resolve(options.out);

  // Replicas: the given models, or loads of the file (as many as `concurrency`, or as the model's size suggests).
  const source = options.model ?? DEFAULT_MODEL_PATH;
  const given = typeof source === 'string' ? null : Array.isArray(source) ? source : [source];
  const models: Model[] = [];
  try {
    if (given) models.push(...given);
    else {
      const load = { ...(options.device ? { device: options.device } : {}), ...(options.dtype ? { dtype: options.dtype } : {}) };
      const open = (threads: number) => loadModel(source as string, { ...load, ...(threads ? { threads } : {}) });
      models.push(...await loadReplicas(open, { concurrency: o.concurrency, threads: options.threads }));
    }
    return await runWithModels(options, o, inputs, out, models);
  } finally {
    if (!given) for (const m of models) m.dispose();
  }
}

async function settingsOf(options: BatchJobOptions, o: CheckedOptions, model: Model, plan: WindowPlan | SpeechPlan): Promise<Record<string, unknown>> {
  const file = model.info.file;
  const size = await stat(file).then((s) => s.size, () => null);
  const d = o.decoder;
  return {
    model: { file, bytes: size, dtype: model.info.dtype },
    text: o.text,
    decoder: o.text ? {
      // `kind`, as job.json has always recorded it, so that folders made before `type` still resume.
      kind: d.type ?? 'greedy',
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

function listFeed(inputs: readonly JobInput[]): InputFeed {
  let i = 0;
  return { ready: () => true, next: async () => inputs[i++] ?? null };
}

/** Checks the models against the options (decoder files loaded, layers that exist): throws before anything is written. */
export function prepareJob(options: BatchJobOptions, o: CheckedOptions, models: Model[]): PreparedJob {
  const model = models[0]!;
  // Pieces per model call, when not given: batches pay on a GPU; on a CPU one piece at a time runs as fast per second
  // of audio (default model, 2 threads, 30 s: 275x real time alone, 266x in eights) and pads nothing, where batches of
  // a corpus's mixed lengths ran the job at half the speed (bench:batch; docs/batch.md).
  if (options.batchSize === undefined) o.batchSize = model.info?.device?.startsWith('cuda') ? 8 : 1;
  const plan = o.speech
    ? speechPlan(o.speech, model.sampleRate, model.frameStride, model.receptiveField)
    : windowPlan(o.windowSeconds, o.strideSeconds, model.sampleRate, model.frameStride, model.receptiveField);
  // Decoder options are checked (and files like the LM loaded) before the output folder is touched.
  const bound = o.text ? createDecoder(model, o.decoder) : null;
  const greedy = bound?.kind === 'greedy'
    ? new GreedyCTCDecoder(model.labels!, { blank: model.manifest?.blank ?? 0, wordDelimiter: model.manifest?.wordDelimiter ?? null, frameStride: model.frameStride, sampleRate: model.sampleRate, frames: true })
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
  options: BatchJobOptions, o: CheckedOptions, job: PreparedJob, models: Model[], store: JobStore, feed: InputFeed, totals: JobTotals,
): Promise<{ progress: BatchProgress; interrupted: boolean }> {
  // Decodes the inputs on worker threads: the JS thread keeps renewing the lock and feeding the models meanwhile.
  const audio = { pool: new AudioPool(o.audioWorkers === undefined ? {} : { size: o.audioWorkers }), budget: o.budget };
  try {
    const signal = options.signal;
    const committer = new Committer(options, o, job, store, totals);
    committer.report();
    const queue = new BatchQueue<QueuedPiece>(o.batchSize, queueBudget(o, job.plan, models.length), longestPiece(job.plan));
    let fatal: unknown = null;
    let interrupted = false;
    const stopped = () => !!fatal || signal?.aborted === true;
    const stopOnFatal = (err: unknown) => {
      fatal ??= err;
      queue.stop();
      committer.wake();
    };
    const onAbort = () => {
      interrupted = true;
      // Batches already handed to a model finish and are committed; queued pieces are dropped.
      queue.stop();
      committer.wake();
    };
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort);
    try {
      const consumers = { o, maxLayer: job.maxLayer, store, queue, committer, stopOnFatal };
      await Promise.all([
        produce({ o, job, store, queue, committer, audio, stopped }, feed).catch(stopOnFatal),
        ...models.map((m) => consume(consumers, m).catch(stopOnFatal)),
      ]);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await abandonLive(committer, store);
    }
    if (fatal) throw fatal;
    committer.report();
    return { progress: committer.progress, interrupted };
  } finally {
    await audio.pool.close();
  }
}

/** Samples of the longest piece the plan cuts: a full window, or the longest speech piece. */
function longestPiece(plan: WindowPlan | SpeechPlan): number {
  return 'window' in plan ? plan.window : plan.longest;
}

/** Samples the queue may hold: two batches of full windows per replica, so each has its next batch ready while one runs. */
function queueBudget(o: CheckedOptions, plan: WindowPlan | SpeechPlan, replicas: number): number {
  return 2 * replicas * o.batchSize * longestPiece(plan);
}

/** Inputs in flight when the job stopped: their partial outputs go, and their attempts do not count as deaths. */
async function abandonLive(committer: Committer, store: JobStore): Promise<void> {
  for (const task of committer.live) {
    await task.abandon();
    // Stopped, not killed: its run does not count as a death (best effort: on a full disk the count may stay).
    if (task.marked) await store.unmarkAttempt(task.input).catch(() => undefined);
  }
}
