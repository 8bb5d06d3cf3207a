/**
 * readCheckpoint(dir): a checkpoint folder in the Hugging Face layout, read and checked, not yet built. Weights
 * are looked for in the order transformers prefers them: model.safetensors, its sharded index, pytorch_model.bin,
 * its sharded index. Tokenizer and language model are optional (bare models have neither); a missing preprocessor
 * config means the waveform goes in as given (see NO_PREPROCESSOR).
 */
import { join, resolve } from 'node:path';
import { Wav2Vec2Error } from '../errors';
import { checkpointError, readJsonObject } from './json';
import { isDirectory, isFile } from './source';
import { readLanguageModel } from './language-model';
import { readPreprocessor } from './preprocessor';
import { readSafetensors } from './safetensors';
import { readShardedIndex, type ShardReader } from './sharded';
import { readTokenizer } from './tokenizer';
import { readTorchArchive } from './torch-archive';
import type { Checkpoint, WeightSet } from './types';

export type { Checkpoint, LanguageModelInfo, PreprocessorInfo, TensorRef, TokenizerInfo, WeightDType, WeightSet } from './types';
export { readSafetensors } from './safetensors';
export { readTorchArchive } from './torch-archive';
export { readShardedIndex } from './sharded';
export { readTokenizer } from './tokenizer';
export { readPreprocessor, NO_PREPROCESSOR } from './preprocessor';
export { readLanguageModel } from './language-model';

/** The weight files transformers looks for, best first, with the reader of each. */
export const WEIGHT_FILES: ReadonlyArray<readonly [string, (path: string) => Promise<WeightSet>]> = [
  ['model.safetensors', readSafetensors],
  ['model.safetensors.index.json', (p) => readShardedIndex(p, readSafetensors as ShardReader)],
  ['pytorch_model.bin', readTorchArchive],
  ['pytorch_model.bin.index.json', (p) => readShardedIndex(p, readTorchArchive)],
];

export async function readCheckpoint(dir: string): Promise<Checkpoint> {
  const root = resolve(dir);
  if (!isDirectory(root)) throw new Wav2Vec2Error('MODEL_NOT_FOUND', `${root}: no such folder; a checkpoint is a folder with config.json and weights.`);
  const configPath = join(root, 'config.json');
  const config = readJsonObject(configPath);
  if (!config) throw checkpointError(configPath, 'no such file; a Hugging Face checkpoint folder has config.json next to its weights');
  const weights = await readWeights(root);
  const tokenizer = readTokenizer(root);
  const languageModel = readLanguageModel(root);
  return {
    dir: root,
    config,
    weights,
    ...(tokenizer ? { tokenizer } : {}),
    preprocessor: readPreprocessor(root),
    ...(languageModel ? { languageModel } : {}),
  };
}

export async function readWeights(root: string): Promise<WeightSet> {
  for (const [name, read] of WEIGHT_FILES) {
    const path = join(root, name);
    if (isFile(path)) return read(path);
  }
  throw checkpointError(root, `no weights: looked for ${WEIGHT_FILES.map(([n]) => n).join(', ')}`);
}
