import { readFile } from 'node:fs/promises';
import { Wav2Vec2Error } from '../errors';
import { isObject, isPositiveInteger, isString } from '../is';

/**
 * The manifest `<name>.json` that sits beside a model file `<name>.pt`: everything speech-specific the
 * TorchScript archive cannot say about itself. Written by scripts/export_torchaudio.py, scripts/export_hf.py and
 * scripts/make_default_model; read by loadModel.
 */
export interface ModelManifest {
  format: 'wav2vec2-node-model/1';
  /** CTC labels, index = class. Absent for models without a CTC head (pretrained-only bundles). */
  labels?: string[];
  sampleRate: number;
  /** Index of the CTC blank in `labels`. */
  blank?: number;
  /** Label that separates words ('|' for the torchaudio English bundles). */
  wordDelimiter?: string;
  /** Whether the waveform is layer-normalised (zero mean, unit variance per item) before the model. */
  normalizeWaveform: boolean;
  /** Epsilon of that normalisation: 1e-5 for torchaudio bundles (the default), 1e-7 for Hugging Face extractors. */
  normalizeEps?: number;
  /** Samples between two output frames (320 for the standard conv feature extractor). */
  frameStride: number;
  /** Samples seen by the first output frame (400 for the standard conv feature extractor). */
  receptiveField: number;
  /** Conv feature extractor layout, [kernel, stride] per layer; gives exact frame counts for any length. */
  convLayers?: Array<[number, number]>;
  /** 'torchaudio' (scripted, forward(waveforms, lengths)) or 'traced' (forward(waveforms)). */
  convention?: 'torchaudio' | 'traced';
  /**
   * True when a zero-padded batch with lengths gives every item exactly its result alone (scripts/export_hf.py's
   * exports: attention mask + GroupNorm over valid frames). torchaudio's BASE-style models normalise over the
   * padded length, so for them (and when absent) only equal lengths batch exactly.
   */
  paddedBatchExact?: boolean;
  numLayers?: number;
  numHeads?: number;
  embedDim?: number;
  /** Where the model came from (bundle name, Hugging Face id, training script, ...). */
  source?: Record<string, unknown>;
  /**
   * The n-gram LM that came with the model (a hub repo's `language_model/` folder, Wav2Vec2ProcessorWithLM): the
   * beam decoder uses it when given no `lm` of its own, with its weight (pyctcdecode's alpha) and word score (beta).
   */
  languageModel?: { arpa: string; lmWeight: number; wordScore: number };
}

export const MANIFEST_FORMAT = 'wav2vec2-node-model/1';

/** The standard wav2vec2 conv feature extractor: (10,5), (3,2)x4, (2,2)x2. */
export const STANDARD_CONV_LAYERS: Array<[number, number]> = [[10, 5], [3, 2], [3, 2], [3, 2], [3, 2], [2, 2], [2, 2]];

/** Path of the manifest that belongs to a model file: `dir/name.pt` -> `dir/name.json`. */
export function manifestPathFor(modelPath: string): string {
  const dot = modelPath.lastIndexOf('.');
  const slash = Math.max(modelPath.lastIndexOf('/'), modelPath.lastIndexOf('\\'));
  return (dot > slash ? modelPath.slice(0, dot) : modelPath) + '.json';
}

/** Reads and validates a manifest; returns undefined when the file does not exist. */
export async function readManifest(path: string): Promise<ModelManifest | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Wav2Vec2Error('INVALID_MANIFEST', `Cannot read the model manifest ${path}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Wav2Vec2Error('INVALID_MANIFEST', `The model manifest ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return validateManifest(json, path);
}

export function validateManifest(json: unknown, where = 'manifest'): ModelManifest {
  const bad = (what: string): never => {
    throw new Wav2Vec2Error('INVALID_MANIFEST', `${where}: ${what}. Re-export the model with scripts/export_torchaudio.py or scripts/export_hf.py.`);
  };
  if (!isObject(json)) bad('expected a JSON object');
  const m = json as Record<string, unknown>;
  if (m.format !== MANIFEST_FORMAT) bad(`expected "format": "${MANIFEST_FORMAT}", got ${JSON.stringify(m.format)}`);
  if (!isPositiveInteger(m.sampleRate)) bad('"sampleRate" must be a positive integer');
  if (typeof m.normalizeWaveform !== 'boolean') bad('"normalizeWaveform" must be true or false');
  if (m.normalizeEps !== undefined && !(typeof m.normalizeEps === 'number' && m.normalizeEps > 0 && m.normalizeEps < 1)) bad('"normalizeEps" must be a number in (0, 1)');
  if (!isPositiveInteger(m.frameStride)) bad('"frameStride" must be a positive integer');
  if (!isPositiveInteger(m.receptiveField)) bad('"receptiveField" must be a positive integer');
  if (m.labels !== undefined) {
    if (!Array.isArray(m.labels) || m.labels.length === 0 || !m.labels.every(isString)) bad('"labels" must be a non-empty array of strings');
    const n = (m.labels as string[]).length;
    if (m.blank !== undefined && !(Number.isInteger(m.blank) && (m.blank as number) >= 0 && (m.blank as number) < n)) bad(`"blank" must be an index into labels (0..${n - 1})`);
  }
  if (m.convLayers !== undefined) {
    const ok = Array.isArray(m.convLayers) && m.convLayers.length > 0 &&
      m.convLayers.every((l) => Array.isArray(l) && l.length === 2 && isPositiveInteger(l[0]) && isPositiveInteger(l[1]));
    if (!ok) bad('"convLayers" must be a list of [kernel, stride] pairs of positive integers');
  }
  if (m.convention !== undefined && m.convention !== 'torchaudio' && m.convention !== 'traced') bad('"convention" must be "torchaudio" or "traced"');
  if (m.paddedBatchExact !== undefined && typeof m.paddedBatchExact !== 'boolean') bad('"paddedBatchExact" must be true or false');
  for (const k of ['numLayers', 'numHeads', 'embedDim'] as const) {
    if (m[k] !== undefined && !isPositiveInteger(m[k])) bad(`"${k}" must be a positive integer`);
  }
  if (m.languageModel !== undefined) {
    const lm = m.languageModel as Record<string, unknown>;
    const ok = isObject(lm) && isString(lm.arpa) && Number.isFinite(lm.lmWeight) && Number.isFinite(lm.wordScore);
    if (!ok) bad('"languageModel" must be { arpa: path, lmWeight: number, wordScore: number }');
  }
  return m as unknown as ModelManifest;
}

/** Output frames of the conv feature extractor for `samples` input samples (0 when too short). */
export function framesFor(samples: number, convLayers: Array<[number, number]> = STANDARD_CONV_LAYERS): number {
  let n = samples;
  for (const [kernel, stride] of convLayers) {
    if (n < kernel) return 0;
    n = Math.floor((n - kernel) / stride) + 1;
  }
  return n;
}
