/**
 * Which files of a repo a model needs: its configs, one set of PyTorch weights, and its language model. Repos often
 * hold the same weights several times (flax, tf, onnx, a .bin beside a .safetensors); we fetch one copy only.
 */
import { Wav2Vec2Error } from '../errors';
import { checkRepoPath } from './cache';

const CONFIGS = ['config.json', 'preprocessor_config.json', 'vocab.json', 'tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json'];

/** In order of preference: safetensors before pickles (no code runs to read them), whole before sharded. */
const WEIGHTS: Array<{ file: string; sharded: boolean }> = [
  { file: 'model.safetensors', sharded: false },
  { file: 'model.safetensors.index.json', sharded: true },
  { file: 'pytorch_model.bin', sharded: false },
  { file: 'pytorch_model.bin.index.json', sharded: true },
];

export interface FilePlan {
  /** Files to fetch now, in this order (the configs first: they are small and say whether the model is usable). */
  files: string[];
  /** The weight index, when the weights are sharded: its shards are known once it is read (shardsOf). */
  index?: string;
}

/** Chooses from a repo listing (or a snapshot folder's files); `where` names the repo in errors. */
export function chooseFiles(listing: readonly string[], where: string): FilePlan {
  const has = new Set(listing);
  if (!has.has('config.json')) {
    throw new Wav2Vec2Error('HUB_FILE_NOT_FOUND', `${where} has no config.json, so it is not a transformers model repo.`);
  }
  const weights = WEIGHTS.find((w) => has.has(w.file));
  if (!weights) {
    const other = listing.filter((f) => /\.(msgpack|h5|onnx|ckpt)$/.test(f));
    throw new Wav2Vec2Error('HUB_FILE_NOT_FOUND', `${where} has no PyTorch weights (model.safetensors, pytorch_model.bin or a sharded index of them)` +
      `${other.length ? `; it has ${other.slice(0, 3).join(', ')}, which this package does not read` : ''}.`);
  }
  const lm = listing.filter((f) => f.startsWith('language_model/'));
  return {
    files: [...CONFIGS.filter((f) => has.has(f)), weights.file, ...lm],
    ...(weights.sharded ? { index: weights.file } : {}),
  };
}

/** The shard files a `*.index.json` names in its `weight_map`, each once, in order. */
export function shardsOf(text: string, index: string, where: string): string[] {
  let map: unknown;
  try {
    map = (JSON.parse(text) as { weight_map?: unknown })?.weight_map;
  } catch {
    map = undefined;
  }
  if (map === null || typeof map !== 'object' || Array.isArray(map)) {
    throw new Wav2Vec2Error('HUB_FILE_NOT_FOUND', `${index} of ${where} has no "weight_map" object, so its shards are unknown.`);
  }
  const dir = index.includes('/') ? index.slice(0, index.lastIndexOf('/') + 1) : '';
  const shards = new Set<string>();
  for (const v of Object.values(map)) {
    if (typeof v !== 'string') throw new Wav2Vec2Error('HUB_FILE_NOT_FOUND', `${index} of ${where}: a "weight_map" value is not a file name.`);
    shards.add(checkRepoPath(dir + v, `${index} of ${where}`));
  }
  if (shards.size === 0) throw new Wav2Vec2Error('HUB_FILE_NOT_FOUND', `${index} of ${where} names no shards.`);
  return [...shards];
}
