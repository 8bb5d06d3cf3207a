/**
 * torchaudio bundles as Hugging Face checkpoint folders. A bundle's upstream checkpoint is a state dict in
 * torchaudio's parameter names (torchaudio.models.wav2vec2 / wavlm_model); the native builder speaks
 * transformers' names. Converting once, at download, into a folder in the hub layout (config.json, vocab.json,
 * tokenizer and preprocessor configs, model.safetensors) means one builder and one loader for both sources, and
 * the folder is also a valid transformers checkpoint.
 */
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BundleFacts } from '../model/bundles-table';
import { Wav2Vec2Error } from '../errors';
import { readTensorBytes } from './tensor-bytes';
import type { TensorRef, WeightDType, WeightSet } from './types';

/**
 * Rows of the CTC head that torchaudio drops at load (`_remove_aux_axis` in torchaudio/pipelines/_wav2vec2/impl.py):
 * fairseq's dictionary specials, and for some VoxPopuli models a label that never occurs. Default (1, 2, 3).
 */
const REMOVED_AUX_ROWS: Record<string, number[]> = {
  VOXPOPULI_ASR_BASE_10K_DE: [1, 2, 3, 35],
  VOXPOPULI_ASR_BASE_10K_EN: [1, 2, 3, 31],
  VOXPOPULI_ASR_BASE_10K_ES: [1, 2, 3, 35],
};

export function removedAuxRows(facts: BundleFacts): number[] {
  return facts.kind === 'asr' ? REMOVED_AUX_ROWS[facts.name] ?? [1, 2, 3] : [];
}

const isWavLM = (facts: BundleFacts) => facts.modelType === 'WavLM';

/** transformers' config.json for the bundle's torchaudio parameters. */
export function bundleConfig(facts: BundleFacts): Record<string, unknown> {
  const p = facts.params;
  const ctc = p.auxNumOut !== null;
  const family = isWavLM(facts) ? 'WavLM' : 'Wav2Vec2';
  return {
    architectures: [`${family}${ctc ? 'ForCTC' : 'Model'}`],
    model_type: isWavLM(facts) ? 'wavlm' : 'wav2vec2',
    conv_dim: p.extractorConvLayerConfig.map((l) => l[0]),
    conv_kernel: p.extractorConvLayerConfig.map((l) => l[1]),
    conv_stride: p.extractorConvLayerConfig.map((l) => l[2]),
    conv_bias: p.extractorConvBias,
    feat_extract_norm: p.extractorMode === 'group_norm' ? 'group' : 'layer',
    feat_extract_activation: 'gelu',
    hidden_size: p.encoderEmbedDim,
    num_hidden_layers: p.encoderNumLayers,
    num_attention_heads: p.encoderNumHeads,
    intermediate_size: p.encoderFfIntermFeatures,
    hidden_act: 'gelu',
    layer_norm_eps: 1e-5,
    do_stable_layer_norm: p.encoderLayerNormFirst,
    num_conv_pos_embeddings: p.encoderPosConvKernel,
    num_conv_pos_embedding_groups: p.encoderPosConvGroups,
    ...(ctc ? { vocab_size: p.auxNumOut, pad_token_id: facts.blank } : {}),
    ...(isWavLM(facts) ? { num_buckets: p.encoderNumBuckets, max_bucket_distance: p.encoderMaxDistance } : {}),
    torchaudio_bundle: facts.name,
  };
}

/** vocab.json, tokenizer_config.json and preprocessor_config.json for the bundle (no tokenizer without labels). */
export function bundleProcessorFiles(facts: BundleFacts): Record<string, unknown> {
  const files: Record<string, unknown> = {
    'preprocessor_config.json': {
      feature_extractor_type: 'Wav2Vec2FeatureExtractor',
      feature_size: 1,
      sampling_rate: facts.sampleRate,
      padding_value: 0,
      do_normalize: facts.normalizeWaveform,
      return_attention_mask: false,
    },
  };
  if (facts.labels && facts.blank !== null) {
    files['vocab.json'] = Object.fromEntries(facts.labels.map((l, i) => [l, i]));
    files['tokenizer_config.json'] = {
      tokenizer_class: 'Wav2Vec2CTCTokenizer',
      pad_token: facts.labels[facts.blank],
      word_delimiter_token: facts.wordDelimiter ?? '|',
      do_lower_case: false,
    };
  }
  return files;
}

/** One tensor of the converted checkpoint: a source tensor, or some of its rows. */
interface Planned {
  name: string;
  source: TensorRef;
  /** Rows of the source (dimension 0) to keep, in order; all when absent. */
  rows?: number[];
  /** A tensor computed from the source rather than copied. */
  derive?: 'weightNormG';
}

function rangeRows(start: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start + i);
}

/** torchaudio's names → transformers' names (and the row selections that go with them). */
export function planConversion(weights: WeightSet, facts: BundleFacts, removeAuxRows: number[]): Planned[] {
  const ctc = facts.params.auxNumOut !== null;
  const body = ctc ? (isWavLM(facts) ? 'wavlm.' : 'wav2vec2.') : '';
  const dim = facts.params.encoderEmbedDim;
  const plan: Planned[] = [];
  for (const [name, source] of weights) {
    if (name === 'aux.weight' || name === 'aux.bias') {
      const drop = new Set(removeAuxRows);
      const keep = rangeRows(0, source.shape[0] ?? 0).filter((r) => !drop.has(r));
      plan.push({ name: `lm_head.${name.slice(4)}`, source, rows: keep });
      continue;
    }
    const inProj = /^encoder\.transformer\.layers\.(\d+)\.attention\.attention\.in_proj_(weight|bias)$/.exec(name);
    if (inProj) {
      // nn.MultiheadAttention packs q, k, v along dimension 0; transformers keeps three projections.
      ['q', 'k', 'v'].forEach((p, i) =>
        plan.push({ name: `${body}encoder.layers.${inProj[1]}.attention.${p}_proj.${inProj[2]}`, source, rows: rangeRows(i * dim, dim) }));
      continue;
    }
    if (/^encoder\.transformer\.pos_conv_embed\.conv\.weight$/.test(name)) {
      // A state dict saved from a scripted torchaudio model has the weight norm folded in (torchaudio removes it
      // before scripting); transformers only knows the parametrised form, whose g is the norm over dims 0 and 1.
      plan.push({ name: `${body}encoder.pos_conv_embed.conv.parametrizations.weight.original0`, source, derive: 'weightNormG' });
      plan.push({ name: `${body}encoder.pos_conv_embed.conv.parametrizations.weight.original1`, source });
      continue;
    }
    plan.push({ name: body + renamed(name), source });
  }
  return plan;
}

/** g of weight_norm(dim=2) for a folded float32 weight [out, in, k]: the norm of each kernel tap over out and in. */
function weightNormG(source: TensorRef, bytes: Buffer): Buffer {
  if (source.dtype !== 'float32' || source.shape.length !== 3) {
    throw new Wav2Vec2Error('CHECKPOINT_INVALID', `"${source.name}": a folded positional convolution must be float32 [out, in, kernel]; got ${source.dtype} [${source.shape.join(', ')}].`);
  }
  const [out, inner, k] = source.shape as [number, number, number];
  const w = new Float32Array(bytes.buffer, bytes.byteOffset, out * inner * k);
  const g = new Float32Array(k);
  const sums = new Float64Array(k);
  for (let i = 0; i < out * inner; i++) for (let t = 0; t < k; t++) sums[t] += w[i * k + t]! ** 2;
  for (let t = 0; t < k; t++) g[t] = Math.sqrt(sums[t]!);
  return Buffer.from(g.buffer);
}

function renamed(name: string): string {
  return name
    .replace(/^encoder\.feature_projection\./, 'feature_projection.')
    .replace(/^encoder\.transformer\.(layers\.\d+\.attention)\.attention\.out_proj\./, 'encoder.$1.out_proj.')
    .replace(/^encoder\.transformer\./, 'encoder.');
}

const ITEM_BYTES: Record<WeightDType, number> = { float32: 4, float16: 2, bfloat16: 2, float64: 8 };
const SAFETENSORS_DTYPE: Record<WeightDType, string> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16', float64: 'F64' };

function plannedShape(p: Planned): number[] {
  if (p.derive === 'weightNormG') return [1, 1, p.source.shape[2] ?? 0];
  return p.rows ? [p.rows.length, ...p.source.shape.slice(1)] : p.source.shape;
}

function plannedBytes(p: Planned): number {
  return plannedShape(p).reduce((a, b) => a * b, 1) * ITEM_BYTES[p.source.dtype];
}

/** The contiguous bytes of a planned tensor. */
async function plannedData(p: Planned): Promise<Buffer> {
  const all = await readTensorBytes(p.source);
  if (p.derive === 'weightNormG') return weightNormG(p.source, all);
  if (!p.rows) return all;
  const rowBytes = all.length / Math.max(1, p.source.shape[0] ?? 1);
  return Buffer.concat(p.rows.map((r) => all.subarray(r * rowBytes, (r + 1) * rowBytes)));
}

/** Writes `plan` as a safetensors file, one tensor at a time so memory stays at one tensor. */
export async function writePlannedSafetensors(plan: Planned[], path: string): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let at = 0;
  for (const p of plan) {
    const bytes = plannedBytes(p);
    header[p.name] = { dtype: SAFETENSORS_DTYPE[p.source.dtype], shape: plannedShape(p), data_offsets: [at, at + bytes] };
    at += bytes;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  // The format asks for 8-byte alignment of the data section; pad the header with spaces.
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const handle = await open(path, 'w');
  try {
    await handle.write(length);
    await handle.write(json);
    for (const p of plan) await handle.write(await plannedData(p));
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes the bundle's checkpoint `weights` (torchaudio's names) as a Hugging Face folder at `dir`, atomically:
 * built in a temporary sibling and renamed, so an interrupted conversion leaves nothing a later load trusts.
 * `removeAuxRows` overrides torchaudio's row removal (for state dicts saved from a torchaudio model, which has
 * none left to remove).
 */
export async function convertBundleCheckpoint(weights: WeightSet, facts: BundleFacts, dir: string,
  options: { removeAuxRows?: number[] } = {}): Promise<void> {
  const plan = planConversion(weights, facts, options.removeAuxRows ?? removedAuxRows(facts));
  if (facts.params.auxNumOut !== null && !plan.some((p) => p.name === 'lm_head.weight')) {
    throw new Wav2Vec2Error('CHECKPOINT_INVALID', `${facts.checkpoint} has no "aux.weight": it is not the checkpoint of ${facts.name}.`);
  }
  const tmp = `${dir}.partial-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    await writeFile(join(tmp, 'config.json'), JSON.stringify(bundleConfig(facts), null, 2));
    for (const [file, content] of Object.entries(bundleProcessorFiles(facts))) await writeFile(join(tmp, file), JSON.stringify(content, null, 2));
    await writePlannedSafetensors(plan, join(tmp, 'model.safetensors'));
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
