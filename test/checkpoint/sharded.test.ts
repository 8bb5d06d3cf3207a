import assert from 'node:assert/strict';
import { cpSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors } from '../../lib/checkpoint/safetensors';
import { isPlainFileName, readShardedIndex } from '../../lib/checkpoint/sharded';
import { rejectsCode } from '../helpers/errors';
import { FIXTURES } from './reference';

describe('checkpoint/sharded: model.safetensors.index.json', () => {
  let dir: string;
  let index: { metadata: unknown; weight_map: Record<string, string> };
  const INDEX = 'model.safetensors.index.json';
  const write = (m: Record<string, string>) => writeFileSync(join(dir, INDEX), JSON.stringify({ ...index, weight_map: m }));
  const read = () => readShardedIndex(join(dir, INDEX), readSafetensors);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'w2v-sharded-'));
    cpSync(join(FIXTURES, 'wav2vec2-sharded'), dir, { recursive: true });
    index = JSON.parse(readFileSync(join(dir, INDEX), 'utf8'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('merges the shards transformers wrote: every mapped tensor, from the shard the map names', async () => {
    const w = await read();
    assert.deepEqual([...w.keys()].sort(), Object.keys(index.weight_map).sort());
    for (const [name, shard] of Object.entries(index.weight_map)) assert.equal(w.get(name)!.file, join(dir, shard));
    assert.ok(new Set(Object.values(index.weight_map)).size > 1, 'the fixture really is sharded');
  });

  it('refuses shard names that leave the folder', async () => {
    const [first] = Object.keys(index.weight_map);
    for (const bad of ['../model-00001-of-00003.safetensors', '/etc/passwd', 'sub/x.safetensors', '..', '', 'a\\b']) {
      write({ ...index.weight_map, [first!]: bad });
      await rejectsCode(read(), 'CHECKPOINT_INVALID', /a shard must be a file name in the checkpoint's folder/);
    }
    assert.ok(isPlainFileName('model-00001-of-00003.safetensors'));
  });

  it('refuses a missing shard file, a tensor its shard lacks, a tensor in two shards, an unmapped tensor', async () => {
    const names = Object.keys(index.weight_map);
    write({ ...index.weight_map, [names[0]!]: 'model-00009-of-00009.safetensors' });
    await rejectsCode(read(), 'CHECKPOINT_INVALID', /model-00009-of-00009\.safetensors/);
    write({ ...index.weight_map, 'not.there': index.weight_map[names[0]!]! });
    await rejectsCode(read(), 'CHECKPOINT_INVALID', /tensor "not\.there" is mapped to shard .* which does not hold it/);
    const shards = [...new Set(Object.values(index.weight_map))];
    copyFileSync(join(dir, shards[0]!), join(dir, 'copy.safetensors'));
    const moved = Object.keys(index.weight_map).find((k) => index.weight_map[k] === shards[0])!;
    write({ ...index.weight_map, [moved]: 'copy.safetensors' });
    await rejectsCode(read(), 'CHECKPOINT_INVALID', /is in two shards|maps elsewhere/);
    const { [moved]: _dropped, ...rest } = index.weight_map;
    write(rest);
    await rejectsCode(read(), 'CHECKPOINT_INVALID', new RegExp(`holds tensor "${moved.replace(/\./g, '\\.')}", which the index maps elsewhere or not at all`));
  });

  it('refuses an index without a weight_map object, or with an empty one', async () => {
    writeFileSync(join(dir, INDEX), '{"weight_map": []}');
    await rejectsCode(read(), 'CHECKPOINT_INVALID', /no "weight_map" object/);
    write({});
    await rejectsCode(read(), 'CHECKPOINT_INVALID', /weight_map is empty/);
  });
});
