/**
 * What a queued job carries: the input, the output folder, and the settings every worker needs to run it exactly
 * as the local batch job would (the model by file or bundle, decoder, windows, outputs). The machine-specific
 * choices (device, threads, replicas) are each worker's own.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { getBundle } from '../../model/bundles';
import { Wav2Vec2Error, invalid } from '../../errors';
import { type Device, type DType, type Model } from '../../model/model';
import { loadModel } from '../../model/load';
import { isRepoId, looksLikePath } from '../../hub';
import { DEFAULT_MODEL_PATH } from '../../paths';
import { decoderOptionsOf, type DecoderOptions } from '../../pipeline/transcribe';
import type { BatchJobOptions, SegmentMode, SubtitleFormat } from '../options';
import type { SegmenterOptions } from '../../stream/segmenter';

/** The model of a queued job: a file (absolute path), or a bundle (looked up on each worker), or the embedded default. */
export interface ModelSpec {
  file?: string;
  bundle?: string;
  modelsDir?: string;
}

/** The settings of a queued batch job: BatchJobOptions less what each worker chooses, and with paths made absolute. */
export interface JobSpec {
  model: ModelSpec;
  dtype?: DType;
  batchSize?: number;
  windowSeconds?: number;
  strideSeconds?: number;
  segment?: SegmentMode;
  segmenter?: SegmenterOptions;
  decoder?: DecoderOptions;
  text?: boolean;
  formats?: SubtitleFormat[];
  features?: number[];
  maxAttempts?: number;
  maxDuration?: number;
  minSampleRate?: number;
  maxSampleRate?: number;
}

export interface QueueJobData {
  /** The output folder, an absolute path that is the same on every worker (a shared file system). */
  out: string;
  input: { id: string; path: string; key: string };
  spec: JobSpec;
  /** Times a worker handed this input to the model and did not finish it (died, or lost its lease): see worker.ts. */
  marks?: number;
}

/**
 * The job id of an input: a hash of the output folder and the input's key. BullMQ adds a job only if its id is new,
 * so enqueuing twice adds nothing; ids are hex (BullMQ refuses custom ids with ':').
 */
export function jobIdOf(out: string, key: string): string {
  return createHash('sha256').update(`${out}\0${key}`).digest('hex').slice(0, 40);
}

/** One worker runs the jobs of one (folder, settings) pair through one pipeline: this names the pair. */
export function runnerKeyOf(data: QueueJobData): string {
  return createHash('sha256').update(JSON.stringify([data.out, data.spec])).digest('hex').slice(0, 16);
}

/** A model path resolved here, on the enqueuing host; a hub repo id as it is (each worker fetches it into its cache). */
function sourceOf(model: string): string {
  return existsSync(model) || looksLikePath(model) || !isRepoId(model) ? resolve(model) : model;
}

/** The spec of options as the enqueuer gets them: paths resolved here, on the enqueuing host. */
export function specOf(o: Omit<BatchJobOptions, 'model' | 'inputs' | 'out'> & { model?: string; bundle?: string; modelsDir?: string }): JobSpec {
  const d = o.decoder === undefined ? undefined : decoderOptionsOf(o.decoder);
  const decoder = d ? {
    ...d,
    ...(typeof d.lm === 'string' ? { lm: resolve(d.lm) } : {}),
    ...(typeof d.lexicon === 'string' ? { lexicon: resolve(d.lexicon) } : {}),
  } : undefined;
  const model: ModelSpec = o.bundle
    ? { bundle: o.bundle, ...(o.modelsDir ? { modelsDir: resolve(o.modelsDir) } : {}) }
    : { file: o.model ? sourceOf(o.model) : DEFAULT_MODEL_PATH };
  const pick = <K extends keyof JobSpec>(k: K, v: JobSpec[K] | undefined) => (v === undefined ? {} : { [k]: v });
  // Every worker must run the job in one precision: 'auto' could pick a different one on each machine.
  if (o.dtype === 'auto') throw invalid('INVALID_INPUT', 'dtype', "a fixed precision for a queued job ('auto' may differ from one worker's CPU to the next)", o.dtype);
  return {
    model,
    ...pick('dtype', o.dtype as DType | undefined), ...pick('batchSize', o.batchSize), ...pick('windowSeconds', o.windowSeconds),
    ...pick('strideSeconds', o.strideSeconds), ...pick('segment', o.segment), ...pick('segmenter', o.segmenter), ...pick('decoder', decoder), ...pick('text', o.text), ...pick('formats', o.formats),
    ...pick('features', o.features), ...pick('maxAttempts', o.maxAttempts), ...pick('maxDuration', o.maxDuration),
    ...pick('minSampleRate', o.minSampleRate), ...pick('maxSampleRate', o.maxSampleRate),
  };
}

/** The local batch job's options for a spec (inputs come from the queue, models from loadSpecModel). */
export function jobOptionsOf(data: QueueJobData, models: Model[], audioWorkers?: number): BatchJobOptions {
  const { model: _model, ...rest } = data.spec;
  return { ...rest, inputs: [data.input.path], out: data.out, model: models, ...(audioWorkers ? { audioWorkers } : {}) };
}

/** Loads a spec's model on this worker. */
export async function loadSpecModel(spec: ModelSpec, load: { device?: Device; dtype?: DType; threads?: number }): Promise<Model> {
  if (spec.bundle) return getBundle(spec.bundle).getModel({ ...load, ...(spec.modelsDir ? { modelsDir: spec.modelsDir } : {}) });
  const file = spec.file ?? DEFAULT_MODEL_PATH;
  if (!existsSync(file) && (looksLikePath(file) || !isRepoId(file))) {
    throw new Wav2Vec2Error('MODEL_NOT_FOUND', `The model of this job, ${file}, is not on this worker. Every worker needs it at the same path.`);
  }
  return loadModel(file, load);
}
