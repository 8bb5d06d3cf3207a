/**
 * config.json (untrusted: a hub file anyone can write) -> a checked description of the network the native builder
 * makes (native/builder/spec.h reads the same fields and checks them again). Everything that would change the
 * network in a way the builder does not implement is MODEL_UNSUPPORTED naming the field and its value, never a
 * silently different network; a value of the wrong type or out of range is CHECKPOINT_INVALID.
 * Training-only fields (dropout, SpecAugment masking, losses, LayerDrop) do not change inference and are ignored.
 */
import { Wav2Vec2Error, describe } from '../errors';
import { isObject } from '../is';

export type Architecture = 'wav2vec2' | 'hubert' | 'wavlm' | 'data2vec-audio';

/** The activations native/builder/kernels.cc implements, by their transformers ACT2FN names. */
export const ACTIVATIONS = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu', 'silu', 'swish'] as const;
export type ActivationName = (typeof ACTIVATIONS)[number];

export interface NetworkSpec {
  arch: Architecture;
  /** The config's architectures[0] (or the body's class name when the config names none). */
  modelClass: string;
  convDim: number[];
  convKernel: number[];
  convStride: number[];
  convBias: boolean;
  featExtractNorm: 'group' | 'layer';
  featExtractActivation: ActivationName;
  featProjLayerNorm: boolean;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  hiddenAct: ActivationName;
  layerNormEps: number;
  stableLayerNorm: boolean;
  /** wav2vec2 / HuBERT / WavLM: the positional conv's kernel; data2vec-audio: how many positional conv layers. */
  numConvPosEmbeddings: number;
  numConvPosEmbeddingGroups: number;
  /** data2vec-audio: the kernel of each positional conv layer; null otherwise. */
  convPosKernelSize: number | null;
  /** WavLM's relative position buckets; null otherwise. */
  numBuckets: number | null;
  maxBucketDistance: number | null;
  /** CTC classes; null for a body without a head (features only). */
  vocabSize: number | null;
}

/** The classes the builder makes: a CTC head over the body, or the body alone. */
const CLASSES: Record<string, { arch: Architecture; ctc: boolean }> = {
  Wav2Vec2ForCTC: { arch: 'wav2vec2', ctc: true },
  Wav2Vec2Model: { arch: 'wav2vec2', ctc: false },
  Wav2Vec2ForPreTraining: { arch: 'wav2vec2', ctc: false },
  HubertForCTC: { arch: 'hubert', ctc: true },
  HubertModel: { arch: 'hubert', ctc: false },
  WavLMForCTC: { arch: 'wavlm', ctc: true },
  WavLMModel: { arch: 'wavlm', ctc: false },
  Data2VecAudioForCTC: { arch: 'data2vec-audio', ctc: true },
  Data2VecAudioModel: { arch: 'data2vec-audio', ctc: false },
};

const MODEL_TYPES: Record<string, Architecture> = { wav2vec2: 'wav2vec2', hubert: 'hubert', wavlm: 'wavlm', 'data2vec-audio': 'data2vec-audio' };

/** Weight-name prefix of the body inside a CTC (or pre-training) checkpoint; a bare body's names have none. */
export const BASE_PREFIX: Record<Architecture, string> = { wav2vec2: 'wav2vec2.', hubert: 'hubert.', wavlm: 'wavlm.', 'data2vec-audio': 'data2vec_audio.' };

function invalid(field: string, expected: string, got: unknown): Wav2Vec2Error {
  return new Wav2Vec2Error('CHECKPOINT_INVALID', `config.json: "${field}" must be ${expected}, got ${describe(got)}.`);
}

function unsupported(field: string, value: unknown, why: string): Wav2Vec2Error {
  return new Wav2Vec2Error('MODEL_UNSUPPORTED',
    `config.json: "${field}": ${JSON.stringify(value)} is not supported by the native builder (${why}). ` +
    'Export the model to TorchScript with scripts/export_hf.py and load the .pt file instead.');
}

class Reader {
  constructor(readonly c: Record<string, unknown>) {}

  int(field: string, lo: number, hi: number, fallback?: number): number {
    const v = this.c[field] ?? fallback;
    if (!(typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi)) throw invalid(field, `an integer within [${lo}, ${hi}]`, v);
    return v;
  }

  bool(field: string, fallback: boolean): boolean {
    const v = this.c[field] ?? fallback;
    if (typeof v !== 'boolean') throw invalid(field, 'true or false', v);
    return v;
  }

  list(field: string, lo: number, hi: number): number[] {
    const v = this.c[field];
    if (!Array.isArray(v) || v.length < 1 || v.length > 64) throw invalid(field, 'a list of 1 to 64 integers', v);
    v.forEach((x, i) => {
      if (!(typeof x === 'number' && Number.isInteger(x) && x >= lo && x <= hi)) throw invalid(`${field}[${i}]`, `an integer within [${lo}, ${hi}]`, x);
    });
    return [...(v as number[])];  // a copy: the spec must not change with the caller's object
  }

  activation(field: string, fallback: ActivationName): ActivationName {
    const v = this.c[field] ?? fallback;
    if (typeof v !== 'string') throw invalid(field, 'the name of an activation', v);
    if (!(ACTIVATIONS as readonly string[]).includes(v)) throw unsupported(field, v, `implemented: ${ACTIVATIONS.join(', ')}`);
    return v as ActivationName;
  }

  /** A field that must be absent, null, false or `allowed` (transformers' default) for the network we build. */
  mustBe(field: string, why: string, ...allowed: unknown[]): void {
    const v = this.c[field];
    if (v === undefined || v === null || v === false || allowed.includes(v)) return;
    throw unsupported(field, v, why);
  }
}

function architecture(r: Reader): { arch: Architecture; ctc: boolean; modelClass: string } {
  const { architectures, model_type: modelType } = r.c;
  // Own keys only: "constructor" or "toString" must not find Object.prototype's.
  if (modelType !== undefined && (typeof modelType !== 'string' || !Object.hasOwn(MODEL_TYPES, modelType))) {
    throw typeof modelType === 'string'
      ? unsupported('model_type', modelType, `built natively: ${Object.keys(MODEL_TYPES).join(', ')}`)
      : invalid('model_type', 'a string', modelType);
  }
  if (architectures !== undefined && architectures !== null) {
    if (!Array.isArray(architectures) || architectures.length !== 1 || typeof architectures[0] !== 'string') {
      throw invalid('architectures', 'a list of one class name', architectures);
    }
    const name = architectures[0] as string;
    const known = Object.hasOwn(CLASSES, name) ? CLASSES[name] : undefined;
    if (!known) throw unsupported('architectures', architectures, `built natively: ${Object.keys(CLASSES).join(', ')}`);
    if (modelType !== undefined && MODEL_TYPES[modelType as string] !== known.arch) {
      throw invalid('model_type', `"${known.arch}" for ${name}`, modelType);
    }
    return { ...known, modelClass: name };
  }
  if (modelType === undefined) throw invalid('model_type', 'one of ' + Object.keys(MODEL_TYPES).join(', ') + ' (the config names no architectures either)', modelType);
  const arch = MODEL_TYPES[modelType as string]!;
  // No class named: the body alone, for features.
  return { arch, ctc: false, modelClass: `${arch}` };
}

/** Checks an untrusted config.json object and returns the network it describes. */
export function parseConfig(config: unknown): NetworkSpec {
  if (!isObject(config) || Array.isArray(config)) throw invalid('(root)', 'a JSON object', config);
  const r = new Reader(config);
  const { arch, ctc, modelClass } = architecture(r);

  r.mustBe('add_adapter', 'adapter layers after the encoder');
  r.mustBe('adapter_attn_dim', 'attention adapters (MMS)');
  r.mustBe('conv_pos_batch_norm', 'a batch-normed positional convolution');
  r.mustBe('position_embeddings_type', 'conformer position embeddings');
  r.mustBe('use_intermediate_ffn_before_adapter', 'an intermediate feed-forward before the adapter');

  const convDim = r.list('conv_dim', 1, 65536);
  const convKernel = r.list('conv_kernel', 1, 4096);
  const convStride = r.list('conv_stride', 1, 4096);
  if (convKernel.length !== convDim.length || convStride.length !== convDim.length) {
    throw invalid('conv_kernel', `lists conv_dim, conv_kernel and conv_stride of equal length (${convDim.length}, ${convKernel.length}, ${convStride.length})`, convKernel);
  }
  r.int('num_feat_extract_layers', convDim.length, convDim.length, convDim.length);

  let featExtractNorm: 'group' | 'layer' = 'layer';
  if (arch !== 'data2vec-audio') {
    const norm = r.c.feat_extract_norm ?? 'group';
    if (norm !== 'group' && norm !== 'layer') {
      throw typeof norm === 'string' ? unsupported('feat_extract_norm', norm, 'implemented: "group", "layer"') : invalid('feat_extract_norm', '"group" or "layer"', norm);
    }
    featExtractNorm = norm;
  }
  const hiddenSize = r.int('hidden_size', 1, 65536);
  const numHeads = r.int('num_attention_heads', 1, 1024);
  if (hiddenSize % numHeads !== 0) throw invalid('num_attention_heads', `a divisor of hidden_size ${hiddenSize}`, numHeads);
  const numConvPosEmbeddingGroups = r.int('num_conv_pos_embedding_groups', 1, 65536);
  if (hiddenSize % numConvPosEmbeddingGroups !== 0) throw invalid('num_conv_pos_embedding_groups', `a divisor of hidden_size ${hiddenSize}`, numConvPosEmbeddingGroups);
  const eps = r.c.layer_norm_eps ?? 1e-5;
  if (!(typeof eps === 'number' && eps > 0 && eps < 1)) throw invalid('layer_norm_eps', 'a number in (0, 1)', eps);

  let numBuckets: number | null = null;
  let maxBucketDistance: number | null = null;
  if (arch === 'wavlm') {
    numBuckets = r.int('num_buckets', 4, 65536, 320);
    maxBucketDistance = r.int('max_bucket_distance', Math.floor(numBuckets / 4) + 1, 1 << 24, 800);
  }
  const vocabSize = ctc ? r.int('vocab_size', 1, 1 << 20) : null;
  return {
    arch,
    modelClass,
    convDim,
    convKernel,
    convStride,
    convBias: r.bool('conv_bias', false),
    featExtractNorm,
    featExtractActivation: r.activation('feat_extract_activation', 'gelu'),
    featProjLayerNorm: arch === 'hubert' ? r.bool('feat_proj_layer_norm', true) : true,
    hiddenSize,
    numLayers: r.int('num_hidden_layers', 1, 1024),
    numHeads,
    intermediateSize: r.int('intermediate_size', 1, 262144),
    hiddenAct: r.activation('hidden_act', 'gelu'),
    layerNormEps: eps,
    stableLayerNorm: arch === 'data2vec-audio' ? false : r.bool('do_stable_layer_norm', false),
    numConvPosEmbeddings: r.int('num_conv_pos_embeddings', 1, 4096, arch === 'data2vec-audio' ? 5 : 128),
    numConvPosEmbeddingGroups,
    convPosKernelSize: arch === 'data2vec-audio' ? r.int('conv_pos_kernel_size', 1, 4096, 19) : null,
    numBuckets,
    maxBucketDistance,
    vocabSize,
  };
}
