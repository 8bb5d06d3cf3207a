/**
 * loadModel and Model: the typed, validated face of the native addon. Everything here runs on the JS
 * thread and is cheap; the heavy work happens on the model's own inference thread in C++.
 */
import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DEFAULT_MODEL_PATH } from '../paths';
import { Wav2Vec2Error, checkOptionKeys, invalid, optionKeys } from '../errors';
import { isInteger, isNonEmptyString, isObject, isPositiveInteger } from '../is';
import { type Batch, type ModelInput, batchItem, makeBatch } from './batch';
import { type ModelManifest, STANDARD_CONV_LAYERS, framesFor, manifestPathFor, readManifest, validateManifest } from './manifest';
import { type NativeModel, type NativeModelInfo, binding, wrapNativeError } from './native';
import type { Tensor } from '../tensor';
import { type DTypeOption, scriptDtypeOf } from './precision';
import type { DownloadOptions } from '../hub';

/** The download options that apply when loadModel is given a repo id (the revision may also follow '@'). */
export type HubOptions = Pick<DownloadOptions, 'revision' | 'endpoint' | 'token' | 'cacheDir' | 'offline' | 'timeoutMs' | 'onProgress'>;

export type Device = 'cpu' | 'cuda' | `cuda:${number}`;
export type DType = 'float32' | 'float16' | 'bfloat16' | 'int8';
export type { DTypeOption } from './precision';

export interface LoadModelOptions {
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: Device;
  /**
   * The precision the model runs in (default 'float32'): 'float32', 'bfloat16', 'float16' (meant for CUDA), 'int8'
   * (CPU; a natively built model runs every matrix product in int8, a TorchScript file must be an int8 export), or
   * 'auto': the fastest on this CPU whose accuracy cost is within bounds (lib/model/precision.ts); `info.dtype` says
   * what runs and `info.dtypeReason` why.
   */
  dtype?: DTypeOption;
  /** Intra-op threads for this model; default: the global setNumThreads() value. */
  threads?: number;
  /** The manifest, its path, or false to ignore one. Default: `<name>.json` beside the model file, if present. */
  manifest?: ModelManifest | string | false;
  /**
   * Largest attention score tensor (batch x heads x frames² x element size) a call may need, in bytes.
   * Attention memory grows with the square of the input: a 4-minute clip needs 6.9 GB for one
   * base-size tensor. Longer inputs are rejected with INPUT_TOO_LONG instead of risking an out-of-memory
   * kill. Default 4 GiB.
   */
  maxAttentionBytes?: number;
  /**
   * Rewrite the model's graph at load for faster CPU float32 kernels (default true): every linear layer runs
   * through oneDNN's matmul, and a GELU after a linear or convolution layer is fused into it. Results differ from
   * Python's `torch.jit.load` of the same file by float rounding only (about 1e-6); pass false for LibTorch's
   * own kernels, bit for bit what Python computes. `model.info.rewrites` says what was rewritten. Ignored on
   * CUDA and for other dtypes.
   */
  optimize?: boolean;
  /**
   * Where a Hugging Face repo id is fetched from and cached (lib/hub). Every field defaults to huggingface_hub's
   * environment variables: HF_ENDPOINT, HF_TOKEN, HF_HUB_CACHE / HF_HOME, HF_HUB_OFFLINE, HF_HUB_DOWNLOAD_TIMEOUT.
   */
  hub?: HubOptions;
}

export interface ForwardOptions {
  /** Valid samples per item, for an `{ data, shape }` input padded by the caller. */
  lengths?: ArrayLike<number>;
  /** Layer-normalise each item over its valid samples first. Default: the manifest's `normalizeWaveform`. */
  normalize?: boolean;
}

export interface ExtractFeaturesOptions extends ForwardOptions {
  /** Run only the first N transformer layers (and return N tensors). Default: all. */
  numLayers?: number;
}

export interface ForwardResult {
  /** CTC logits [batch, frames, classes]. */
  emissions: Tensor;
  /** Valid frames per item: the model's own when it returns them, else computed from the conv layout. */
  lengths: Int32Array;
}

export interface FeaturesResult {
  /** One [batch, frames, dim] tensor per transformer layer. */
  features: Tensor[];
  lengths: Int32Array;
}

export interface ModelInfo extends NativeModelInfo {
  /** Where labels, sample rate and normalisation came from. */
  manifestFile: string | null;
  /** Why the model runs in `dtype` when it was loaded with dtype 'auto'; null otherwise. */
  dtypeReason: string | null;
}

const DEVICE_RE = /^(cpu|cuda(:\d+)?)$/;
const DTYPES: readonly DTypeOption[] = ['float32', 'float16', 'bfloat16', 'int8', 'auto'];
const DEFAULT_MAX_ATTENTION_BYTES = 4 * 2 ** 30;
// When the module does not reveal its head count (traced models), assume the most of the family (large: 16).
const FALLBACK_HEADS = 16;

/**
 * A trace records the device and dtype of the tensors it creates (Hugging Face's code moves tensors with
 * `.to(device)`, which a trace keeps as a constant device and dtype), so a file exported by scripts/export_hf.py
 * runs on the device kind and dtype it was traced for only. Its manifest says which: refuse the others with a
 * message that says how to export for them, instead of a LibTorch dtype or device error from deep inside.
 */
function checkTraceTarget(manifest: ModelManifest | undefined, path: string, device: string, dtype: string): void {
  const trace = (manifest?.source as { trace?: { device?: unknown; dtype?: unknown } } | undefined)?.trace;
  if (!trace) return;
  const wantDevice = device.split(':')[0];
  if (typeof trace.device === 'string' && trace.device !== wantDevice) {
    throw new Wav2Vec2Error('UNSUPPORTED_DEVICE',
      `${path} was traced on ${trace.device} and runs there only (a trace keeps the device of the tensors it makes). ` +
      `Export it for ${wantDevice}: python scripts/export_hf.py MODEL out.pt --device ${wantDevice}${dtype !== 'float32' ? ` --dtype ${dtype}` : ''}.`);
  }
  if (typeof trace.dtype === 'string' && trace.dtype !== dtype) {
    throw new Wav2Vec2Error('UNSUPPORTED_DTYPE',
      `${path} was traced in ${trace.dtype} and runs in ${trace.dtype} only (a trace keeps the dtype of the tensors it makes). ` +
      `Load it with dtype '${trace.dtype}', or export it again with --dtype ${dtype}${wantDevice !== 'cpu' ? ` --device ${wantDevice}` : ''}.`);
  }
}

/**
 * The file exists and is a zip archive, as every TorchScript file is: anything else (a manifest passed by mistake,
 * a text file, an HTML error page saved as .pt) gets a message that says so, not LibTorch's zip-reader error.
 */
async function checkModelFile(path: string): Promise<void> {
  const full = resolve(path);
  let info;
  try {
    info = await stat(full);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Wav2Vec2Error('MODEL_NOT_FOUND',
      `Model file ${full} not found${code && code !== 'ENOENT' ? ` (${code})` : ''}. The embedded default model is ${DEFAULT_MODEL_PATH}; ` +
        'export others with scripts/export_torchaudio.py BUNDLE out.pt or scripts/export_hf.py MODEL out.pt.',
      { cause: err });
  }
  // Checked before opening: opening a FIFO would wait for a writer.
  if (!info.isFile()) throw new Wav2Vec2Error('MODEL_LOAD_FAILED', `${full} is ${info.isDirectory() ? 'a directory' : 'not a regular file'}, not a TorchScript model file.`);
  const head = Buffer.alloc(4);
  const handle = await open(full, 'r');
  let bytesRead;
  try {
    ({ bytesRead } = await handle.read(head, 0, 4, 0));
  } finally {
    await handle.close();
  }
  if (bytesRead < 4 || head.readUInt32LE(0) !== ZIP_MAGIC) {
    throw new Wav2Vec2Error('MODEL_LOAD_FAILED',
      `${full} is not a TorchScript archive (a .pt file saved by torch.jit.save is a zip file; this one starts with ${describeHead(head.subarray(0, bytesRead))}).`);
  }
}

/** "PK\x03\x04", the first bytes of a zip file's first local header. */
const ZIP_MAGIC = 0x04034b50;

function describeHead(head: Buffer): string {
  if (head.length === 0) return 'nothing: it is empty';
  const text = head.toString('latin1');
  return /^[\x20-\x7e\s]+$/.test(text) ? `the text ${JSON.stringify(text)}` : `the bytes ${head.toString('hex')}`;
}

const FORWARD_OPTION_KEYS = optionKeys<ForwardOptions>({ lengths: true, normalize: true });
const FEATURES_OPTION_KEYS = optionKeys<ExtractFeaturesOptions>({ lengths: true, normalize: true, numLayers: true });
const LOAD_OPTION_KEYS = optionKeys<LoadModelOptions>({ device: true, dtype: true, threads: true, manifest: true, maxAttentionBytes: true, optimize: true, hub: true });

/** The options every model source shares (a TorchScript file, a checkpoint built natively), checked. */
export function checkLoadOptions(options: LoadModelOptions): { device: Device; dtype: DTypeOption; threads: number; optimize: boolean; maxAttentionBytes: number } {
  if (!isObject(options as unknown)) throw invalid('INVALID_INPUT', 'options', 'an object', options);
  checkOptionKeys('loadModel options', options, LOAD_OPTION_KEYS);
  const device = options.device ?? 'cpu';
  if (typeof device !== 'string' || !DEVICE_RE.test(device)) throw invalid('INVALID_INPUT', 'device', "'cpu', 'cuda' or 'cuda:N'", device);
  const dtype = options.dtype ?? 'float32';
  if (!DTYPES.includes(dtype)) throw invalid('INVALID_INPUT', 'dtype', DTYPES.map((d) => `'${d}'`).join(', '), dtype);
  const threads = options.threads ?? 0;
  if (options.threads !== undefined && !(isPositiveInteger(threads) && threads <= 1024)) {
    throw invalid('INVALID_INPUT', 'threads', 'an integer within [1, 1024]', options.threads);
  }
  const optimize = options.optimize ?? true;
  if (typeof optimize !== 'boolean') throw invalid('INVALID_INPUT', 'optimize', 'a boolean', options.optimize);
  const maxAttentionBytes = options.maxAttentionBytes ?? DEFAULT_MAX_ATTENTION_BYTES;
  if (!(typeof maxAttentionBytes === 'number' && maxAttentionBytes > 0)) {
    throw invalid('INVALID_INPUT', 'maxAttentionBytes', 'a positive number of bytes', options.maxAttentionBytes);
  }
  return { device, dtype, threads, optimize, maxAttentionBytes };
}

/**
 * Loads a TorchScript wav2vec2-family model (torchaudio-scripted or traced) onto CPU or CUDA. The public entry is
 * loadModel (lib/model/load.ts), which takes every model source and sends TorchScript files here.
 */
export async function loadScriptModel(path: string, options: LoadModelOptions = {}): Promise<Model> {
  if (!isNonEmptyString(path)) throw invalid('INVALID_INPUT', 'path', 'the path of a TorchScript .pt file', path);
  const { device, dtype, threads, optimize, maxAttentionBytes } = checkLoadOptions(options);

  await checkModelFile(path);

  let manifest: ModelManifest | undefined;
  let manifestFile: string | null = null;
  if (options.manifest === undefined || typeof options.manifest === 'string') {
    manifestFile = options.manifest ?? manifestPathFor(path);
    manifest = await readManifest(manifestFile);
    if (!manifest) {
      if (options.manifest !== undefined) throw new Wav2Vec2Error('INVALID_MANIFEST', `Manifest ${manifestFile} not found.`);
      manifestFile = null;
    }
  } else if (options.manifest !== false) {
    manifest = validateManifest(options.manifest, 'options.manifest');
  }

  const { loadAs, precision } = scriptPrecision(manifest, path, dtype);
  checkTraceTarget(manifest, path, device, loadAs);
  let native: NativeModel;
  try {
    native = await binding().load(path, device, loadAs, threads, optimize);
  } catch (err) {
    throw wrapNativeError(err);
  }
  return new Model(native, manifest, manifestFile, maxAttentionBytes, precision);
}

/**
 * A TorchScript file runs in the dtype it was exported in (scriptDtypeOf); 'auto' picks that. int8 is an export of
 * its own: refused for other files, and an int8 export (float32 between its quantised layers, so loaded as float32)
 * is named int8 however it is asked for (float32 too, as before int8 was a dtype).
 */
function scriptPrecision(manifest: ModelManifest | undefined, path: string, requested: DTypeOption): { loadAs: DType; precision: { dtype: DType; reason: string | null } } {
  const runs = scriptDtypeOf(manifest);
  const wanted = requested === 'auto' ? runs : requested;
  const reason = requested === 'auto' ? `auto: ${runs}, the dtype ${path} was exported in` : null;
  if (runs === 'int8') {
    if (wanted !== 'int8' && wanted !== 'float32') throw new Wav2Vec2Error('UNSUPPORTED_DTYPE', `${path} is an int8 export: load it with dtype 'int8'.`);
    return { loadAs: 'float32', precision: { dtype: 'int8', reason } };
  }
  if (wanted === 'int8') {
    throw new Wav2Vec2Error('UNSUPPORTED_DTYPE', `${path} is not quantised: a TorchScript file runs in int8 only when exported with ` +
      "`python scripts/export_hf.py MODEL out.pt --quantize int8`; or load the Hugging Face checkpoint (a folder or hub id) with dtype 'int8', " +
      'which builds every product in int8.');
  }
  return { loadAs: wanted, precision: { dtype: wanted, reason } };
}

export class Model {
  readonly info: ModelInfo;
  readonly manifest: ModelManifest | undefined;
  readonly #native: NativeModel;
  readonly #maxAttentionBytes: number;

  /** @internal use loadModel() */
  constructor(native: NativeModel, manifest: ModelManifest | undefined, manifestFile: string | null, maxAttentionBytes: number,
    precision: { dtype: DType; reason: string | null }) {
    this.#native = native;
    // Frozen copies: callers must not be able to change what the model decodes with.
    this.manifest = manifest && deepFreeze(structuredClone(manifest));
    const info = native.info as NativeModelInfo;
    // TorchScript keeps the layer and head counts only where the module has them as attributes; the manifest
    // (written from the model's config at export) has them always.
    this.info = Object.freeze({
      ...info,
      numLayers: info.numLayers ?? manifest?.numLayers ?? null,
      numHeads: info.numHeads ?? manifest?.numHeads ?? null,
      manifestFile,
      dtype: precision.dtype,
      dtypeReason: precision.reason,
    });
    this.#maxAttentionBytes = maxAttentionBytes;
  }

  /** CTC labels from the manifest (undefined without one). */
  get labels(): string[] | undefined {
    return this.manifest?.labels;
  }

  /** Sample rate the model expects (the manifest's, else 16000, the rate of every wav2vec2-family model). */
  get sampleRate(): number {
    return this.manifest?.sampleRate ?? 16000;
  }

  get receptiveField(): number {
    return this.manifest?.receptiveField ?? 400;
  }

  get frameStride(): number {
    return this.manifest?.frameStride ?? 320;
  }

  /** Calls accepted and not settled yet. */
  get pending(): number {
    return this.#native.pending;
  }

  get disposed(): boolean {
    return this.#native.disposed;
  }

  /**
   * Emissions (CTC logits) for one waveform or a batch. Items of different lengths: torchaudio-convention
   * models (scripts/export_hf.py's exports too) get the lengths and mask the padding; traced models take no
   * lengths, so their items run one at a time (padding would change every shorter item's output) and come
   * back as one zero-padded batch.
   */
  async forward(input: ModelInput, options: ForwardOptions = {}): Promise<ForwardResult> {
    if (isObject(options as unknown)) checkOptionKeys('forward options', options, FORWARD_OPTION_KEYS);
    const { batch, eps } = this.#prepare(input, options);
    if (batch.ragged && this.info.convention === 'traced') {
      const items = await this.#perItem(batch, (x) => this.#native.forward(x, [1, x.length], null, null, eps).then((r) => [r.emissions]));
      return { emissions: items[0]!, lengths: this.#frames(batch) };
    }
    let out;
    try {
      out = await this.#native.forward(batch.data, batch.shape, this.#lengthsArg(batch), null, eps);
    } catch (err) {
      throw this.#inferenceError(err);
    }
    return { emissions: out.emissions, lengths: out.lengths ?? this.#frames(batch) };
  }

  /** Per-layer transformer features, as torchaudio's `extract_features`. */
  async extractFeatures(input: ModelInput, options: ExtractFeaturesOptions = {}): Promise<FeaturesResult> {
    if (!isObject(options as unknown)) throw invalid('INVALID_INPUT', 'options', 'an object', options);
    checkOptionKeys('extractFeatures options', options, FEATURES_OPTION_KEYS);
    const { numLayers } = options;
    if (numLayers !== undefined && !isInteger(numLayers)) throw invalid('INVALID_INPUT', 'numLayers', 'an integer', numLayers);
    if (!this.info.hasExtractFeatures && !this.disposed) {
      throw new Wav2Vec2Error('UNSUPPORTED_METHOD',
        `This model (${this.info.convention}) has no extract_features method. Models exported by scripts/export_torchaudio.py ` +
        'or scripts/export_hf.py have one.');
    }
    const { batch, eps } = this.#prepare(input, options);
    if (batch.ragged && this.info.convention === 'traced') {
      const features = await this.#perItem(batch, (x) => this.#native.extractFeatures(x, [1, x.length], null, numLayers ?? null, eps).then((r) => r.features));
      return { features, lengths: this.#frames(batch) };
    }
    let out;
    try {
      out = await this.#native.extractFeatures(batch.data, batch.shape, this.#lengthsArg(batch), numLayers ?? null, eps);
    } catch (err) {
      throw this.#inferenceError(err);
    }
    return { features: out.features, lengths: out.lengths ?? this.#frames(batch) };
  }

  /**
   * Releases the weights and the inference thread. Calls already accepted finish normally; calls made
   * after dispose() reject with DISPOSED. Safe to call twice.
   */
  dispose(): void {
    this.#native.dispose();
  }

  /** The checked batch, and the eps of the per-item layer norm the inference thread applies first (null: none). */
  #prepare(input: ModelInput, options: ForwardOptions): { batch: Batch; eps: number | null } {
    if (this.disposed) throw new Wav2Vec2Error('DISPOSED', 'The model was disposed: load it again to run it.');
    if (!isObject(options as unknown)) throw invalid('INVALID_INPUT', 'options', 'an object', options);
    if (options.normalize !== undefined && typeof options.normalize !== 'boolean') {
      throw invalid('INVALID_INPUT', 'normalize', 'true or false', options.normalize);
    }
    const batch = makeBatch(input, options.lengths, this.receptiveField, this.sampleRate);
    this.#checkMemory(batch);
    // torchaudio's bundles use layer_norm's eps, 1e-5; Hugging Face feature extractors 1e-7 (the manifest says which).
    const normalize = options.normalize ?? this.manifest?.normalizeWaveform ?? false;
    return { batch, eps: normalize ? this.manifest?.normalizeEps ?? 1e-5 : null };
  }

  /** The lengths the addon takes: every item's for separate items (it pads them), else only a ragged batch's. */
  #lengthsArg(batch: Batch): Int32Array | null {
    return Array.isArray(batch.data) || batch.ragged ? batch.lengths : null;
  }

  #checkMemory(batch: Batch): void {
    const [B, T] = batch.shape;
    const frames = this.#framesOf(T);
    const heads = this.info.numHeads ?? FALLBACK_HEADS;
    // 4 bytes a score in float32 and int8 networks, and where attention runs as bfloat16 products around our softmax
    // (native/builder/attention.h; int8 and natively built bfloat16 networks): its scores are bfloat16, one item at a
    // time, but WavLM's position bias is added in float32.
    const elem = this.info.dtype === 'float32' || this.info.dtype === 'int8' || this.info.rewrites.bfloat16Attention ? 4 : 2;
    const bytes = B * heads * frames * frames * elem;
    if (bytes > this.#maxAttentionBytes) {
      const maxFrames = Math.floor(Math.sqrt(this.#maxAttentionBytes / (B * heads * elem)));
      const maxSeconds = ((maxFrames - 1) * this.frameStride + this.receptiveField) / this.sampleRate;
      throw new Wav2Vec2Error('INPUT_TOO_LONG',
        `input: ${B} x ${(T / this.sampleRate).toFixed(1)} s needs a ${(bytes / 2 ** 30).toFixed(1)} GiB attention tensor, over the ` +
        `${(this.#maxAttentionBytes / 2 ** 30).toFixed(1)} GiB budget (maxAttentionBytes). Transcribe long audio in chunks ` +
        `(at most ${Math.floor(maxSeconds)} s per item at this batch size), use a smaller batch, or raise maxAttentionBytes.`);
    }
  }

  #framesOf(samples: number): number {
    return framesFor(samples, this.manifest?.convLayers ?? STANDARD_CONV_LAYERS);
  }

  #frames(batch: Batch): Int32Array {
    return Int32Array.from(batch.lengths, (n) => this.#framesOf(n));
  }

  /**
   * A LibTorch error during a call, as our error. When the graph was rewritten at load, say how to rule the
   * rewrite out: a model that runs in Python but fails here after a rewrite is a bug of ours.
   */
  #inferenceError(err: unknown): Wav2Vec2Error {
    const e = wrapNativeError(err);
    if (e.code !== 'INFERENCE_FAILED' || Object.keys(this.info.rewrites ?? {}).length === 0) return e;
    return new Wav2Vec2Error(e.code,
      `${e.message} (this model's graph was rewritten at load for faster CPU kernels; if the same input runs in Python, ` +
      'load the model with { optimize: false } and please report it)', { cause: e.cause ?? err, ...(e.detail ? { detail: e.detail } : {}) });
  }

  /**
   * Runs each item of a ragged batch alone (the items, or views into the batch's buffer: no copies) and stacks the
   * outputs into zero-padded [B, maxFrames, D] tensors, one per output (emissions, or each feature layer).
   */
  async #perItem(batch: Batch, run: (item: Float32Array) => Promise<Tensor[]>): Promise<Tensor[]> {
    const [B] = batch.shape;
    const results: Tensor[][] = [];
    try {
      // All submitted now: the addon copies each item as it is submitted (the caller may change its array once this
      // returns), and runs them in order on the model's thread.
      const calls = Array.from({ length: B }, (_, b) => run(batchItem(batch, b)).catch((err: unknown) => {
        throw namingItem(err, b);
      }));
      results.push(...(await Promise.all(calls)));
    } catch (err) {
      throw this.#inferenceError(err);
    }
    const F = Math.max(...results.map((r) => r[0]!.shape[1]!));
    return results[0]!.map((_, k) => {
      const D = results[0]![k]!.shape[2]!;
      const data = new Float32Array(B * F * D);
      results.forEach((r, b) => data.set(r[k]!.data, b * F * D));
      return { data, shape: [B, F, D] };
    });
  }
}

/** An item run alone was refused for its input (`input: ...`): the message names it as in a batch (`input[b]: ...`). */
function namingItem(err: unknown, b: number): unknown {
  if (err instanceof Error && (err as { code?: unknown }).code === 'INVALID_INPUT' && err.message.startsWith('input:')) {
    err.message = `input[${b}]:${err.message.slice('input:'.length)}`;
  }
  return err;
}

/** Intra-op threads used by models loaded without a `threads` option (LibTorch's default: physical cores). */
export function setNumThreads(n: number): void {
  if (!(isPositiveInteger(n) && n <= 1024)) throw invalid('INVALID_INPUT', 'setNumThreads(n)', 'an integer within [1, 1024]', n);
  binding().setNumThreads(n);
}

export function getNumThreads(): number {
  return binding().getNumThreads();
}

/** Number of CUDA devices LibTorch can use (0 on a CPU-only build). */
export function cudaDeviceCount(): number {
  return binding().cudaDeviceCount();
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
