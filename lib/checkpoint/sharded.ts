/**
 * Sharded checkpoints: `model.safetensors.index.json` / `pytorch_model.bin.index.json`, whose `weight_map` names the
 * shard file of every tensor. The index is untrusted like the shards: shard names must be plain file names in the
 * checkpoint's folder (no path can reach outside it), every mapped tensor must be in the shard the map names, and
 * no tensor may be in two shards or in a shard the map does not send it to.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checkpointError, isObject, parseJsonObject, readJsonObject, type JsonObject } from './json';
import type { WeightSet } from './types';

/** More shards than any hub model has (the largest have a few hundred). */
export const MAX_SHARDS = 10_000;
export const MAX_INDEX_BYTES = 64 * 1024 * 1024;

/** Reads one shard file; the caller picks the format (safetensors or torch.save). */
export type ShardReader = (path: string) => Promise<WeightSet>;

/** Reads a sharded index and its shards into one WeightSet. */
export async function readShardedIndex(indexPath: string, readShard: ShardReader): Promise<WeightSet> {
  const index = readJsonObject(indexPath, MAX_INDEX_BYTES);
  if (!index) throw checkpointError(indexPath, 'no such file');
  const byShard = shardsOf(indexPath, index);
  const weights: WeightSet = new Map();
  for (const [shard, names] of byShard) {
    const path = join(dirname(indexPath), shard);
    if (!existsSync(path)) throw checkpointError(indexPath, `shard "${shard}" is missing from the folder`);
    const tensors = await readShard(path);
    mergeShard(indexPath, shard, names, tensors, weights);
  }
  return weights;
}

/** The same checks on an index given as text, shards looked up in `shards` (tests and the fuzzer). */
export function mergeShardedIndex(indexPath: string, text: string, shards: Map<string, WeightSet>): WeightSet {
  const byShard = shardsOf(indexPath, parseJsonObject(indexPath, text));
  const weights: WeightSet = new Map();
  for (const [shard, names] of byShard) {
    const tensors = shards.get(shard);
    if (!tensors) throw checkpointError(indexPath, `shard "${shard}" is missing`);
    mergeShard(indexPath, shard, names, tensors, weights);
  }
  return weights;
}

/** Shard file → the tensor names the index puts in it, after checking every name and file. */
export function shardsOf(indexPath: string, index: JsonObject): Map<string, Set<string>> {
  const map = index.weight_map;
  if (!isObject(map)) throw checkpointError(indexPath, 'no "weight_map" object');
  const byShard = new Map<string, Set<string>>();
  for (const [tensor, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || !isPlainFileName(shard)) {
      throw checkpointError(indexPath, `tensor "${tensor}" maps to ${JSON.stringify(shard)}; a shard must be a file name in the checkpoint's folder`);
    }
    let names = byShard.get(shard);
    if (!names) {
      if (byShard.size >= MAX_SHARDS) throw checkpointError(indexPath, `more than ${MAX_SHARDS} shards`);
      byShard.set(shard, (names = new Set()));
    }
    names.add(tensor);
  }
  if (byShard.size === 0) throw checkpointError(indexPath, 'the weight_map is empty');
  return byShard;
}

function mergeShard(indexPath: string, shard: string, names: Set<string>, tensors: WeightSet, weights: WeightSet): void {
  for (const name of names) {
    if (!tensors.has(name)) throw checkpointError(indexPath, `tensor "${name}" is mapped to shard "${shard}", which does not hold it`);
  }
  for (const [name, ref] of tensors) {
    if (weights.has(name)) throw checkpointError(indexPath, `tensor "${name}" is in two shards`);
    if (!names.has(name)) throw checkpointError(indexPath, `shard "${shard}" holds tensor "${name}", which the index maps elsewhere or not at all`);
    weights.set(name, ref);
  }
}

/** A name that, joined to the folder, stays in it: no separators, no "." or "..", nothing the OS treats specially. */
export function isPlainFileName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && name !== '.' && name !== '..' && !/[/\\\0:]/.test(name);
}
