/**
 * buildModel: a checkpoint folder read by lib/checkpoint (config.json, weights, tokenizer, preprocessor) -> the
 * same Model a TorchScript file gives, with the network built in C++ (native/builder) and the manifest made here
 * from the config's conv layout and the tokenizer and preprocessor files, never assumed.
 */
import type { Checkpoint } from '../checkpoint/types';
import { Wav2Vec2Error } from '../errors';
import { MANIFEST_FORMAT, type ModelManifest, validateManifest } from '../model/manifest';
import { type DType, type LoadModelOptions, Model, checkLoadOptions } from '../model/model';
import { autoDtypeFor } from '../model/precision';
import { type NativeModel, binding, wrapNativeError } from '../model/native';
import { BASE_PREFIX, type NetworkSpec, parseConfig } from './config';

export { parseConfig, type NetworkSpec } from './config';

/** Hugging Face's Wav2Vec2FeatureExtractor normalises with this epsilon (torchaudio bundles: 1e-5). */
const HF_NORMALIZE_EPS = 1e-7;

/** Samples seen by one output frame of a stack of (kernel, stride) convolutions (scripts/model_manifest.py). */
export function receptiveField(convLayers: ReadonlyArray<readonly [number, number]>): number {
  let field = 1;
  let jump = 1;
  for (const [kernel, stride] of convLayers) {
    field += (kernel - 1) * jump;
    jump *= stride;
  }
  return field;
}

/** The labels of a CTC head's classes: the tokenizer's, with a placeholder where it names none (as export_hf.py). */
function headLabels(checkpoint: Checkpoint, vocabSize: number): Pick<ModelManifest, 'labels' | 'blank' | 'wordDelimiter'> {
  const tok = checkpoint.tokenizer;
  if (!tok) return {};
  const labels = Array.from({ length: vocabSize }, (_, i) => tok.labels[i] ?? `<unused_${i}>`);
  const out: Pick<ModelManifest, 'labels' | 'blank' | 'wordDelimiter'> = { labels };
  if (tok.blank >= 0 && tok.blank < vocabSize) out.blank = tok.blank;
  if (tok.wordDelimiter !== undefined && labels.includes(tok.wordDelimiter)) out.wordDelimiter = tok.wordDelimiter;
  return out;
}

/** The manifest a TorchScript export of the same checkpoint would carry (scripts/export_hf.py's build_manifest). */
export function manifestFor(spec: NetworkSpec, checkpoint: Checkpoint): ModelManifest {
  const convLayers = spec.convKernel.map((k, i): [number, number] => [k, spec.convStride[i]!]);
  return validateManifest({
    format: MANIFEST_FORMAT,
    ...(spec.vocabSize !== null ? headLabels(checkpoint, spec.vocabSize) : {}),
    sampleRate: checkpoint.preprocessor.sampleRate,
    normalizeWaveform: checkpoint.preprocessor.normalize,
    normalizeEps: HF_NORMALIZE_EPS,
    frameStride: spec.convStride.reduce((a, b) => a * b, 1),
    receptiveField: receptiveField(convLayers),
    convLayers,
    // Attention mask + GroupNorm over each item's valid frames (native/builder/feature_extractor.h). Not
    // data2vec-audio: its stacked positional convolutions read the padded frames of the layer below (no longer
    // zero after the first), so in a padded batch an item differs near its end from its result alone, as in
    // transformers, whose batched output the builder reproduces.
    paddedBatchExact: spec.arch !== 'data2vec-audio',
    numLayers: spec.numLayers,
    numHeads: spec.numHeads,
    embedDim: spec.hiddenSize,
    source: { kind: 'huggingface', dir: checkpoint.dir, modelClass: spec.modelClass, builder: 'native' },
  }, `the manifest made for ${checkpoint.dir}`);
}

/** What the caller knows beyond the checkpoint folder: where it came from, its LM, a bundle's normalisation. */
export type ManifestExtra = Partial<Pick<ModelManifest, 'source' | 'languageModel' | 'normalizeEps'>>;

function withExtra(manifest: ModelManifest, extra: ManifestExtra, dir: string): ModelManifest {
  if (Object.keys(extra).length === 0) return manifest;
  return validateManifest({ ...manifest, ...extra, source: { ...manifest.source, ...extra.source } }, `the manifest made for ${dir}`);
}

/** Names in a CTC checkpoint carry the body's prefix ("wav2vec2."); a bare body's (Wav2Vec2Model) do not. */
export function weightPrefix(spec: NetworkSpec, checkpoint: Checkpoint): string {
  const prefix = BASE_PREFIX[spec.arch];
  for (const name of checkpoint.weights.keys()) if (name.startsWith(prefix)) return prefix;
  if (spec.vocabSize !== null) {
    throw new Wav2Vec2Error('CHECKPOINT_INVALID', `${checkpoint.dir}: config.json names ${spec.modelClass}, whose weights start with "${prefix}"; this checkpoint has none.`);
  }
  return '';
}

/** Builds a checkpoint's network natively and returns it as a Model (forward, extractFeatures, info, dispose). */
export async function buildModel(checkpoint: Checkpoint, options: LoadModelOptions = {}, extra: ManifestExtra = {}): Promise<Model> {
  const { device, dtype: requested, threads, optimize, maxAttentionBytes } = checkLoadOptions(options);
  const choice = requested === 'auto' ? autoDtypeFor(device, binding().cpuFeatures()) : null;
  const dtype = choice?.dtype ?? (requested as DType);
  const spec = parseConfig(checkpoint.config);
  const manifest = withExtra(manifestFor(spec, checkpoint), extra, checkpoint.dir);
  const prefix = weightPrefix(spec, checkpoint);
  let native: NativeModel;
  try {
    native = await binding().build({ ...spec, weightPrefix: prefix }, [...checkpoint.weights.values()], device, dtype, threads, optimize);
  } catch (err) {
    throw wrapNativeError(err);
  }
  return new Model(native, manifest, null, maxAttentionBytes, { dtype, reason: choice?.reason ?? null });
}
