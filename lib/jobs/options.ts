/** The options of a batch job, checked once before anything is read or loaded. */
import { checkOptionKeys, invalid, optionKeys } from '../errors';
import { isNonEmptyString, isObject, isPositiveInteger } from '../is';
import type { Device, DTypeOption, Model } from '../model/model';
import { checkConcurrency } from '../model/replicas';
import { decoderOptionsOf, type DecoderOptions, type DecoderSpec } from '../pipeline/transcribe';
import { type AudioBudget, checkBudget } from '../pipeline/audio';
import { checkSegmenterOptions, type SegmenterConfig, type SegmenterOptions } from '../stream/segmenter';

export type SubtitleFormat = 'txt' | 'srt' | 'vtt';
export const SUBTITLE_FORMATS: readonly SubtitleFormat[] = ['txt', 'srt', 'vtt'];
/** How long files are cut: overlapping fixed windows, or on the pauses of speech (lib/jobs/speech-pieces.ts). */
export type SegmentMode = 'windows' | 'speech';
export const SEGMENT_MODES: readonly SegmentMode[] = ['windows', 'speech'];

export interface BatchProgress {
  /** Inputs of the job (after expanding directories, globs and manifests). */
  files: number;
  /** Finished by an earlier run and skipped. */
  skipped: number;
  /** Finished by this run. */
  done: number;
  /** Failed in this run. */
  failed: number;
  /** Audio finished by this run, seconds. */
  audioSeconds: number;
  elapsedSeconds: number;
  /** Audio seconds per wall-clock second (0 until something is done). */
  realTime: number;
  /** Estimated seconds left, from the bytes of input read so far (null until something is done). */
  etaSeconds: number | null;
}

export interface BatchFileEvent {
  id: string;
  file: string;
  status: 'done' | 'failed';
  code?: string;
  message?: string;
  duration?: number;
}

export interface BatchJobOptions {
  /** Audio files, directories (searched recursively), glob patterns, or manifests (.csv / .jsonl). */
  inputs: string[];
  /** Output folder (created if missing); rerunning with the same folder resumes. */
  out: string;
  /**
   * A model to load `concurrency` times (a TorchScript file with its manifest, a checkpoint folder or a Hugging Face
   * repo id, as loadModel takes; default: the embedded model, DEFAULT_MODEL_PATH), or loaded models: one, or
   * several replicas of the same model (each runs batches on its own inference thread). Loaded models are not disposed.
   */
  model?: string | Model | Model[];
  device?: Device;
  dtype?: DTypeOption;
  /**
   * Intra-op threads per model replica. When neither this nor `concurrency` is given, a CPU model's size decides:
   * under 16 M parameters one single-threaded replica per core (up to 8), otherwise one replica on every core
   * (lib/model/replicas.ts has the measurements).
   */
  threads?: number;
  /** Model replicas running at once, each on its own inference thread (default: see `threads`; 1 on CUDA). */
  concurrency?: number;
  /** Most pieces per model call (default 1 on a CPU, 8 on CUDA). */
  batchSize?: number;
  /** Files longer than this are transcribed in overlapping windows of this length, seconds (default 30). */
  windowSeconds?: number;
  /** Context dropped at each inner edge of a window, seconds (default windowSeconds / 6). */
  strideSeconds?: number;
  /**
   * How long files are cut (default 'windows': windowSeconds and strideSeconds). 'speech': in the middle of pauses
   * found by the stream segmenter, each piece transcribed whole; a piece longer than `segmenter.maxSegmentMs` is cut at
   * its quietest point. Greedy decoding ends a word at every cut; beam search decodes across them.
   */
  segment?: SegmentMode;
  /** With segment 'speech': the segmenter's settings (as the stream's; default SEGMENTER_DEFAULTS). */
  segmenter?: SegmenterOptions;
  /** 'greedy' (default), 'beam', or the full decoder options (`{ type: 'beam', lm, lexicon, hotwords, ... }`). */
  decoder?: DecoderSpec;
  /** Write transcripts (default true, false when `features` is given). */
  text?: boolean;
  /** Also write these per input: plain text, SubRip, WebVTT. */
  formats?: SubtitleFormat[];
  /** Write these transformer layers (1-based) per input as .npy files [frames, dim]. */
  features?: number[];
  /** Retry inputs that failed in an earlier run (default true). */
  retryFailed?: boolean;
  /**
   * Deaths of the process (a native crash, kill -9, out of memory) with an input in flight after which that input
   * is recorded as failed (BATCH_INPUT_CRASHED) instead of being run again (default 3). Raise it to retry one.
   */
  maxAttempts?: number;
  /** Inputs longer than this (seconds) fail with INPUT_TOO_LONG, refused from the header where it says (default: no limit). */
  maxDuration?: number;
  /** Source sample rates accepted, Hz (default 8000 to 384000); others fail with AUDIO_UNSUPPORTED_RATE. */
  minSampleRate?: number;
  maxSampleRate?: number;
  /** Worker threads that decode and resample the inputs (default: one per four cores, 1 to 4). */
  audioWorkers?: number;
  /** Abort to stop: batches already running finish, finished files are committed, the rest is left for a rerun. */
  signal?: AbortSignal;
  onProgress?: (progress: BatchProgress) => void;
  onFile?: (event: BatchFileEvent) => void;
}

export interface BatchSummary extends BatchProgress {
  /** Inputs not finished because the job was stopped (rerun to resume). */
  remaining: number;
  interrupted: boolean;
  out: string;
  transcripts: string;
  failures: string;
}

export interface CheckedOptions {
  batchSize: number;
  /** Replicas asked for; undefined lets the model's size decide (lib/model/replicas.ts). */
  concurrency: number | undefined;
  windowSeconds: number;
  strideSeconds: number;
  /** The segmenter's settings when files are cut on speech, null for windows. */
  speech: SegmenterConfig | null;
  decoder: DecoderOptions;
  text: boolean;
  formats: SubtitleFormat[];
  features: number[];
  retryFailed: boolean;
  maxAttempts: number;
  /** What one input may cost the audio stage. */
  budget: AudioBudget;
  audioWorkers: number | undefined;
}

export const BATCH_JOB_OPTION_KEYS = optionKeys<BatchJobOptions>({
  inputs: true, out: true, model: true, device: true, dtype: true, threads: true, concurrency: true, batchSize: true,
  windowSeconds: true, strideSeconds: true, segment: true, segmenter: true, decoder: true, text: true, formats: true,
  features: true, retryFailed: true, maxAttempts: true, maxDuration: true, minSampleRate: true, maxSampleRate: true,
  audioWorkers: true, signal: true, onProgress: true, onFile: true,
});

/** `what` names the options in messages (enqueueBatchJob checks its own keys first, then these). */
export function checkJobOptions(o: BatchJobOptions, what = 'runBatchJob options'): CheckedOptions {
  if (!isObject(o as unknown)) throw invalid('INVALID_INPUT', 'options', 'an object', o);
  checkOptionKeys(what, o, BATCH_JOB_OPTION_KEYS);
  if (!Array.isArray(o.inputs) || o.inputs.length === 0) throw invalid('INVALID_INPUT', 'inputs', 'a non-empty array of paths, directories, globs or manifests', o.inputs);
  if (!isNonEmptyString(o.out)) throw invalid('INVALID_INPUT', 'out', 'an output folder path', o.out);
  const isModel = (m: unknown) => isObject(m) && typeof (m as { forward?: unknown }).forward === 'function';
  if (o.model !== undefined && !isNonEmptyString(o.model) && !isModel(o.model) && !(Array.isArray(o.model) && o.model.length > 0 && o.model.every(isModel))) {
    throw invalid('INVALID_INPUT', 'model', 'a model file path, a loaded Model or an array of loaded Models', o.model);
  }
  // Before a model loads; what needs its labels (hotword spellings, the lexicon) is checked by createDecoder.
  const int = (what: string, v: unknown, def: number, max: number) => {
    if (v === undefined) return def;
    if (!(isPositiveInteger(v) && v <= max)) throw invalid('INVALID_INPUT', what, `an integer within [1, ${max}]`, v);
    return v;
  };
  const batchSize = int('batchSize', o.batchSize, 8, 1024);
  const concurrency = checkConcurrency(o.concurrency);
  const maxAttempts = int('maxAttempts', o.maxAttempts, 3, 1000);
  if (o.concurrency !== undefined && o.model !== undefined && typeof o.model !== 'string') throw invalid('INVALID_INPUT', 'concurrency', 'no concurrency with loaded models (their number is the concurrency)', concurrency);
  const speech = checkSegment(o);
  const decoder = decoderOptionsOf(o.decoder);
  const windowSeconds = o.windowSeconds ?? 30;
  if (!(typeof windowSeconds === 'number' && windowSeconds >= 1 && windowSeconds <= 600)) {
    throw invalid('INVALID_INPUT', 'windowSeconds', 'a number of seconds within [1, 600]', o.windowSeconds);
  }
  const strideSeconds = o.strideSeconds ?? windowSeconds / 6;
  if (!(typeof strideSeconds === 'number' && strideSeconds > 0 && strideSeconds * 2 < windowSeconds)) {
    throw invalid('INVALID_INPUT', 'strideSeconds', `a positive number of seconds below half the window (${windowSeconds / 2})`, o.strideSeconds);
  }
  const formats = o.formats ?? [];
  if (!Array.isArray(formats) || !formats.every((f) => SUBTITLE_FORMATS.includes(f))) {
    throw invalid('INVALID_INPUT', 'formats', `an array of ${SUBTITLE_FORMATS.map((f) => `'${f}'`).join(', ')}`, o.formats);
  }
  const features = o.features ?? [];
  if (!Array.isArray(features) || !features.every((l) => isPositiveInteger(l) && l <= 1000)) {
    throw invalid('INVALID_INPUT', 'features', 'an array of transformer layer numbers (1 = the first)', o.features);
  }
  const text = o.text ?? features.length === 0;
  if (typeof text !== 'boolean') throw invalid('INVALID_INPUT', 'text', 'true or false', o.text);
  if (!text && features.length === 0) throw invalid('INVALID_INPUT', 'text', 'true when no features are asked for (the job would write nothing)', o.text);
  if (!text && formats.length > 0) throw invalid('INVALID_INPUT', 'formats', 'none when text is false', o.formats);
  const retryFailed = o.retryFailed ?? true;
  if (typeof retryFailed !== 'boolean') throw invalid('INVALID_INPUT', 'retryFailed', 'true or false', o.retryFailed);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalid('INVALID_INPUT', 'signal', 'an AbortSignal', o.signal);
  for (const k of ['onProgress', 'onFile'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'function') throw invalid('INVALID_INPUT', k, 'a function', o[k]);
  }
  const budget = checkBudget({ maxSeconds: o.maxDuration, minSampleRate: o.minSampleRate, maxSampleRate: o.maxSampleRate });
  const audioWorkers = o.audioWorkers === undefined ? undefined : int('audioWorkers', o.audioWorkers, 1, 64);
  return {
    batchSize, concurrency, windowSeconds, strideSeconds, speech, decoder, text, retryFailed, maxAttempts, budget, audioWorkers,
    formats: [...new Set(formats)],
    features: [...new Set(features)].sort((a, b) => a - b),
  };
}

/** segment and segmenter: the segmenter's settings for 'speech', null for windows; each misuse its own error. */
function checkSegment(o: BatchJobOptions): SegmenterConfig | null {
  const mode = o.segment ?? 'windows';
  if (!SEGMENT_MODES.includes(mode)) throw invalid('INVALID_INPUT', 'segment', SEGMENT_MODES.map((m) => `'${m}'`).join(' or '), o.segment);
  if (mode === 'windows') {
    if (o.segmenter !== undefined) throw invalid('INVALID_INPUT', 'segmenter', "no segmenter settings unless segment is 'speech'", o.segmenter);
    return null;
  }
  for (const k of ['windowSeconds', 'strideSeconds'] as const) {
    if (o[k] !== undefined) throw invalid('INVALID_INPUT', k, "none with segment 'speech' (pieces end in pauses; segmenter.maxSegmentMs bounds their length)", o[k]);
  }
  if (o.segmenter !== undefined && !isObject(o.segmenter as unknown)) throw invalid('INVALID_INPUT', 'segmenter', 'an object of segmenter settings', o.segmenter);
  return checkSegmenterOptions(o.segmenter, 'segmenter');
}
