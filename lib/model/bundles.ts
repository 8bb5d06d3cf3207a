/**
 * torchaudio's wav2vec2-family pipeline bundles by their exact names (`bundles.WAV2VEC2_ASR_BASE_960H`,
 * `bundles.HUBERT_ASR_LARGE`, `bundles.WAVLM_BASE_PLUS`, ...): what each model expects (sample rate, labels,
 * waveform normalisation, architecture) and a way to load it. The facts are generated into ./bundles-table.ts.
 *
 * getModel() loads `<modelsDir>/<BUNDLE_NAME>.pt` when it is there (a TorchScript export made with
 * scripts/export_torchaudio.py); otherwise it fetches torchaudio's own checkpoint (into torch.hub's folder, shared
 * with Python's torchaudio), converts it once into a Hugging Face folder (lib/checkpoint/torchaudio.ts) and builds
 * it natively, as any hub checkpoint.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Wav2Vec2Error, checkOptionKeys, invalid, optionKeys } from '../errors';
import { isNonEmptyString, isObject } from '../is';
import { BUNDLE_FACTS, type BundleFacts, type BundleName, type BundleParams } from './bundles-table';
import { MANIFEST_FORMAT, type ModelManifest, manifestPathFor, readManifest } from './manifest';
import { type LoadModelOptions, type Model } from './model';
import { loadCheckpointFolder, loadModel } from './load';
import { readTorchArchive } from '../checkpoint';
import { convertBundleCheckpoint } from '../checkpoint/torchaudio';
import { downloadUrl, torchHubCheckpoints } from '../hub/url';
import { offlineFromEnv, type ByteProgress } from '../hub';
import { withFileLock } from '../hub/lock';
import { homedir } from 'node:os';

export type { BundleName, BundleParams, BundleFacts };

export interface BundleModelOptions extends Omit<LoadModelOptions, 'manifest' | 'hub'> {
  /** The exported model file (or a directory holding `<BUNDLE_NAME>.pt`). */
  path?: string;
  /** Directory holding `<BUNDLE_NAME>.pt`. Default: $WAV2VEC2_MODELS, else ./models. */
  modelsDir?: string;
  /** Where torchaudio's checkpoints are fetched from. Default: $WAV2VEC2_BUNDLE_URL, else torchaudio's own. */
  baseUrl?: string;
  /** Where converted checkpoints are kept. Default: $WAV2VEC2_CACHE/bundles, else ~/.cache/wav2vec2-node/bundles. */
  cacheDir?: string;
  /** Use only what is on disk (default: HF_HUB_OFFLINE). */
  offline?: boolean;
  onProgress?: (p: ByteProgress) => void;
}

const BUNDLE_MODEL_OPTION_KEYS = optionKeys<BundleModelOptions>({
  device: true, dtype: true, threads: true, maxAttentionBytes: true, optimize: true,
  path: true, modelsDir: true, baseUrl: true, cacheDir: true, offline: true, onProgress: true,
});

/** torchaudio's `_get_state_dict` fetches every bundle checkpoint from here. */
export const TORCHAUDIO_MODELS_URL = 'https://download.pytorch.org/torchaudio/models';

/** Where converted bundle checkpoints are kept: `$WAV2VEC2_CACHE/bundles` or `~/.cache/wav2vec2-node/bundles`. */
export function bundleCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.WAV2VEC2_CACHE || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'wav2vec2-node'), 'bundles');
}

export class Bundle {
  readonly name: BundleName;
  /** 'asr' (fine-tuned, CTC labels) or 'pretrained' (features only). */
  readonly kind: 'asr' | 'pretrained';
  readonly modelType: 'Wav2Vec2' | 'WavLM';
  /** The rate the model was trained at: resample audio to this first. */
  readonly sampleRate: number;
  /** Whether the waveform is layer-normalised before the model (done per item, over its valid samples). */
  readonly normalizeWaveform: boolean;
  /** Samples per output frame, and samples seen by the first frame. */
  readonly frameStride: number;
  readonly receptiveField: number;
  /** torchaudio's model parameters (`_params`), camelCased. */
  readonly params: Readonly<BundleParams>;
  readonly facts: Readonly<BundleFacts>;

  constructor(facts: BundleFacts) {
    this.facts = Object.freeze(facts);
    this.name = facts.name as BundleName;
    this.kind = facts.kind;
    this.modelType = facts.modelType;
    this.sampleRate = facts.sampleRate;
    this.normalizeWaveform = facts.normalizeWaveform;
    this.frameStride = facts.frameStride;
    this.receptiveField = facts.receptiveField;
    this.params = Object.freeze(facts.params);
  }

  /** Whether the bundle has CTC labels (ASR bundles do; pretrained ones only give features). */
  get hasLabels(): boolean {
    return this.facts.labels !== null;
  }

  /** The CTC labels, index = class; index 0 is the blank '-', index 1 the word delimiter '|' (torchaudio's get_labels()). */
  getLabels(): string[] {
    if (!this.facts.labels) {
      throw new Wav2Vec2Error('INVALID_INPUT', `${this.name} is a pretrained bundle without a CTC head: it has no labels (torchaudio's Wav2Vec2Bundle has no get_labels either). Use model.extractFeatures(), or a fine-tuned *_ASR_* bundle for transcripts.`);
    }
    return [...this.facts.labels];
  }

  /** The manifest scripts/export_torchaudio.py writes beside this bundle's model file. */
  manifest(): ModelManifest {
    const f = this.facts;
    const m: ModelManifest = {
      format: MANIFEST_FORMAT,
      sampleRate: f.sampleRate,
      normalizeWaveform: f.normalizeWaveform,
      frameStride: f.frameStride,
      receptiveField: f.receptiveField,
      convLayers: f.params.extractorConvLayerConfig.map(([, kernel, stride]) => [kernel, stride] as [number, number]),
      convention: 'torchaudio',
      numLayers: f.params.encoderNumLayers,
      numHeads: f.params.encoderNumHeads,
      embedDim: f.params.encoderEmbedDim,
      source: { kind: 'torchaudio', bundle: f.name, checkpoint: f.checkpoint },
    };
    if (f.labels) {
      m.labels = [...f.labels];
      m.blank = f.blank!;
      m.wordDelimiter = f.wordDelimiter!;
    }
    return m;
  }

  /** Where getModel() looks for the model file by default. */
  modelPath(modelsDir?: string): string {
    return join(resolve(modelsDir ?? process.env.WAV2VEC2_MODELS ?? 'models'), `${this.name}.pt`);
  }

  /**
   * Loads this bundle's exported model (see the file comment). When the file has no manifest beside it the
   * bundle's own is used; when it has one, it must agree with the bundle (labels, rate, normalisation).
   */
  async getModel(options: BundleModelOptions | string = {}): Promise<Model> {
    const o: BundleModelOptions = typeof options === 'string' ? { path: options } : options;
    if (!isObject(o)) throw invalid('INVALID_INPUT', 'options', 'an object or a path', options);
    checkOptionKeys('getModel options', o, BUNDLE_MODEL_OPTION_KEYS);
    if (o.path !== undefined && !isNonEmptyString(o.path)) throw invalid('INVALID_INPUT', 'path', 'a file or directory path', o.path);
    if (o.modelsDir !== undefined && !isNonEmptyString(o.modelsDir)) throw invalid('INVALID_INPUT', 'modelsDir', 'a directory path', o.modelsDir);
    for (const k of ['baseUrl', 'cacheDir'] as const) {
      if (o[k] !== undefined && !isNonEmptyString(o[k])) throw invalid('INVALID_INPUT', k, 'a non-empty string', o[k]);
    }
    if (o.baseUrl !== undefined && !URL.canParse(String(o.baseUrl))) throw invalid('INVALID_INPUT', 'baseUrl', 'an http(s) URL', o.baseUrl);
    if (o.offline !== undefined && typeof o.offline !== 'boolean') throw invalid('INVALID_INPUT', 'offline', 'a boolean', o.offline);
    if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw invalid('INVALID_INPUT', 'onProgress', 'a function', o.onProgress);
    let file = o.path !== undefined ? resolve(o.path) : this.modelPath(o.modelsDir);
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, `${this.name}.pt`);
    const { path: _p, modelsDir: _d, baseUrl: _b, cacheDir: _c, offline: _o, onProgress: _g, ...loadOptions } = o;
    if (!existsSync(file) && o.path === undefined && o.modelsDir === undefined) {
      const dir = await this.checkpointFolder(o);
      return loadCheckpointFolder(dir, loadOptions, {
        // torchaudio layer-normalises with F.layer_norm's epsilon, not Wav2Vec2FeatureExtractor's
        ...(this.normalizeWaveform ? { normalizeEps: 1e-5 } : {}),
        source: { kind: 'torchaudio', bundle: this.name, checkpoint: this.facts.checkpoint },
      });
    }
    if (!existsSync(file)) {
      throw new Wav2Vec2Error(
        'MODEL_NOT_FOUND',
        `No exported model for ${this.name} at ${file}. Export it once where ` +
          `torchaudio is installed with \`python scripts/export_torchaudio.py ${this.name} ${file}\` (it writes the .pt file and its .json ` +
          `manifest), then point to it: --models-dir DIR on the command line, { modelsDir } or { path } in the API, or WAV2VEC2_MODELS. ` +
          `Without a models folder or path, getModel() fetches torchaudio's own checkpoint and builds it natively.`,
      );
    }
    const manifestFile = manifestPathFor(file);
    const onDisk = await readManifest(manifestFile);
    if (onDisk) this.#checkManifest(onDisk, manifestFile);
    return loadModel(file, { ...loadOptions, manifest: onDisk ?? this.manifest() });
  }

  /**
   * This bundle as a Hugging Face checkpoint folder: torchaudio's checkpoint fetched once into torch.hub's folder
   * (`$TORCH_HOME/hub/checkpoints`, where torchaudio keeps it too), converted once under the bundle cache. A
   * conversion is built aside and renamed in, under a lock, so two processes never see half a folder.
   */
  async checkpointFolder(o: Pick<BundleModelOptions, 'baseUrl' | 'cacheDir' | 'offline' | 'onProgress'> = {}): Promise<string> {
    const dir = join(resolve(o.cacheDir ?? bundleCacheDir()), this.name);
    const done = () => existsSync(join(dir, 'model.safetensors'));
    if (done()) return dir;
    const base = (o.baseUrl ?? (process.env.WAV2VEC2_BUNDLE_URL || TORCHAUDIO_MODELS_URL)).replace(/\/+$/, '');
    const checkpoint = await downloadUrl(new URL(`${base}/${this.facts.checkpoint}`), join(torchHubCheckpoints(), this.facts.checkpoint), {
      offline: o.offline ?? offlineFromEnv(),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
    await withFileLock(`${dir}.lock`, async () => {
      if (!done()) await convertBundleCheckpoint(await readTorchArchive(checkpoint), this.facts as BundleFacts, dir);
    });
    return dir;
  }

  #checkManifest(m: ModelManifest, where: string): void {
    const bad = (what: string) => {
      throw new Wav2Vec2Error('INVALID_MANIFEST', `${where} does not describe ${this.name}: ${what}. Re-export it with scripts/export_torchaudio.py ${this.name}.`);
    };
    if (m.sampleRate !== this.sampleRate) bad(`sampleRate ${m.sampleRate}, the bundle's is ${this.sampleRate}`);
    if (m.normalizeWaveform !== this.normalizeWaveform) bad(`normalizeWaveform ${m.normalizeWaveform}, the bundle's is ${this.normalizeWaveform}`);
    const labels = this.facts.labels;
    if (labels && (!m.labels || m.labels.length !== labels.length || m.labels.some((l, i) => l !== labels[i]))) bad('its labels differ from the bundle\'s');
  }
}

/** Every bundle, by its torchaudio name. */
export const bundles: Readonly<Record<BundleName, Bundle>> = Object.freeze(
  Object.fromEntries(Object.values(BUNDLE_FACTS).map((f) => [f.name, new Bundle(f as BundleFacts)])) as Record<BundleName, Bundle>,
);

export const bundleNames = Object.keys(bundles) as BundleName[];

/** Edit distance, for "did you mean" in UNKNOWN_BUNDLE. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** The bundle named `name` (exactly as in torchaudio.pipelines; case-insensitive), or UNKNOWN_BUNDLE. */
export function getBundle(name: string): Bundle {
  if (!isNonEmptyString(name)) throw invalid('UNKNOWN_BUNDLE', 'bundle name', 'a torchaudio pipeline name such as "WAV2VEC2_ASR_BASE_960H"', name);
  const key = name.toUpperCase().replace(/^(TORCHAUDIO\.)?PIPELINES\./, '');
  const b = (bundles as Record<string, Bundle>)[key];
  if (b) return b;
  const near = [...bundleNames].sort((x, y) => distance(key, x) - distance(key, y)).slice(0, 3);
  throw new Wav2Vec2Error('UNKNOWN_BUNDLE', `There is no bundle named ${JSON.stringify(name)}. Did you mean ${near.join(', ')}? All ${bundleNames.length}: ${bundleNames.join(', ')}.`);
}
