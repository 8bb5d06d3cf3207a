/**
 * A test-local Checkpoint from a fixture folder in the hub layout (test/fixtures/hub), read with the safetensors
 * reader (shards merged by hand), config.json and the tokenizer and preprocessor files. lib/checkpoint's own
 * readCheckpoint replaces this at merge; until then the builder's tests need no more than this.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readSafetensors } from '../../lib/checkpoint/safetensors';
import type { Checkpoint, PreprocessorInfo, TokenizerInfo, WeightSet } from '../../lib/checkpoint/types';

export const HUB_FIXTURES = resolve(__dirname, '..', 'fixtures', 'hub');

const json = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

async function weights(dir: string): Promise<WeightSet> {
  if (existsSync(join(dir, 'model.safetensors'))) return readSafetensors(join(dir, 'model.safetensors'));
  const index = json(join(dir, 'model.safetensors.index.json')).weight_map as Record<string, string>;
  const merged: WeightSet = new Map();
  for (const shard of new Set(Object.values(index))) for (const [k, v] of await readSafetensors(join(dir, shard))) merged.set(k, v);
  return merged;
}

function tokenizer(dir: string): TokenizerInfo | undefined {
  if (!existsSync(join(dir, 'vocab.json'))) return undefined;
  const vocab = json(join(dir, 'vocab.json')) as Record<string, number>;
  const config = json(join(dir, 'tokenizer_config.json'));
  const labels: string[] = [];
  for (const [token, id] of Object.entries(vocab)) labels[id] = token;
  const delimiter = (config.word_delimiter_token as string | undefined) ?? '|';
  return {
    labels,
    blank: vocab[(config.pad_token as string) ?? '<pad>'] ?? 0,
    ...(labels.includes(delimiter) ? { wordDelimiter: delimiter } : {}),
    lowerCase: config.do_lower_case === true,
  };
}

function preprocessor(dir: string): PreprocessorInfo {
  const file = join(dir, 'preprocessor_config.json');
  const p = existsSync(file) ? json(file) : (json(join(dir, 'processor_config.json')).feature_extractor as Record<string, unknown>);
  return { sampleRate: (p.sampling_rate as number) ?? 16000, normalize: p.do_normalize === true, attentionMask: p.return_attention_mask === true };
}

export async function readFixtureCheckpoint(name: string): Promise<Checkpoint> {
  return readHubFolder(join(HUB_FIXTURES, name));
}

/** Any folder in the hub layout with safetensors weights (the benchmark's bench/models/base-hf too). */
export async function readHubFolder(dir: string): Promise<Checkpoint> {
  const tok = tokenizer(dir);
  return { dir, config: json(join(dir, 'config.json')), weights: await weights(dir), ...(tok ? { tokenizer: tok } : {}), preprocessor: preprocessor(dir) };
}
