/** What a batch job reads: files, directories, globs and manifests, expanded into inputs with stable ids. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandInputs, keyOf } from '../../lib/jobs/inputs';
import { rejectsCode } from '../helpers/errors';

describe('batch: inputs', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'w2v-inputs-'));
    mkdirSync(join(dir, 'corpus', 'b', 'c'), { recursive: true });
    for (const f of ['corpus/a.wav', 'corpus/b/x.flac', 'corpus/b/c/y.MP3', 'corpus/notes.txt', 'corpus/b/z.ogg']) writeFileSync(join(dir, f), 'x');
  });

  it('walks directories recursively for audio file names, in name order', async () => {
    const got = await expandInputs([join(dir, 'corpus')]);
    assert.deepEqual(got.map((i) => i.path.slice(dir.length + 1)), ['corpus/a.wav', 'corpus/b/c/y.MP3', 'corpus/b/x.flac', 'corpus/b/z.ogg']);
    // The id is the absolute path, so a rerun from another directory finds the same results.
    assert.equal(got[0]!.id, join(dir, 'corpus', 'a.wav'));
  });

  it('expands globs, and counts a file named twice once', async () => {
    const got = await expandInputs([`${dir}/corpus/**/*.{flac,ogg}`, join(dir, 'corpus', 'b', 'x.flac')]);
    assert.deepEqual(got.map((i) => i.path.slice(dir.length + 1)), ['corpus/b/x.flac', 'corpus/b/z.ogg']);
  });

  it('keeps a missing file (it becomes a failure record, not a stop)', async () => {
    const got = await expandInputs([join(dir, 'nope.wav')]);
    assert.equal(got.length, 1);
  });

  it('reads CSV manifests with a header, ids and paths relative to the manifest', async () => {
    writeFileSync(join(dir, 'm.csv'), 'id,path\nutt-1,corpus/a.wav\n"utt,2","corpus/b/x.flac"\n');
    const got = await expandInputs([join(dir, 'm.csv')]);
    assert.deepEqual(got.map((i) => [i.id, i.path]), [['utt-1', join(dir, 'corpus/a.wav')], ['utt,2', join(dir, 'corpus/b/x.flac')]]);
  });

  it('reads CSV manifests without a header as path[,id]', async () => {
    writeFileSync(join(dir, 'n.csv'), `corpus/a.wav\n${join(dir, 'corpus/b/x.flac')},second\n`);
    const got = await expandInputs([join(dir, 'n.csv')]);
    assert.deepEqual(got.map((i) => [i.id, i.path]), [[join(dir, 'corpus/a.wav'), join(dir, 'corpus/a.wav')], ['second', join(dir, 'corpus/b/x.flac')]]);
  });

  it('reads JSONL manifests (objects or strings)', async () => {
    writeFileSync(join(dir, 'm.jsonl'), '{"path": "corpus/a.wav", "id": "A"}\n\n"corpus/b/z.ogg"\n{"file": "corpus/b/x.flac", "id": 7}\n');
    const got = await expandInputs([join(dir, 'm.jsonl')]);
    assert.deepEqual(got.map((i) => i.id), ['A', join(dir, 'corpus/b/z.ogg'), '7']);
  });

  it('refuses one id for two files, bad manifests, and inputs that find nothing', async () => {
    writeFileSync(join(dir, 'dup.csv'), 'path,id\ncorpus/a.wav,same\ncorpus/b/x.flac,same\n');
    await rejectsCode(expandInputs([join(dir, 'dup.csv')]), 'BATCH_INPUT_INVALID', /two files/);
    writeFileSync(join(dir, 'bad.jsonl'), '{"path": "a.wav"}\n{oops\n');
    await rejectsCode(expandInputs([join(dir, 'bad.jsonl')]), 'BATCH_INPUT_INVALID', /line 2/);
    writeFileSync(join(dir, 'nopath.jsonl'), '{"id": "x"}\n');
    await rejectsCode(expandInputs([join(dir, 'nopath.jsonl')]), 'BATCH_INPUT_INVALID', /expected a path/);
    await rejectsCode(expandInputs([`${dir}/corpus/**/*.aiff`]), 'BATCH_INPUT_INVALID', /No audio files/);
  });

  it('names outputs by a safe key: readable, unique per id, never a path', () => {
    assert.match(keyOf('/data/a b/../x.wav'), /^x\.wav-[0-9a-f]{10}$/);
    assert.notEqual(keyOf('/a/x.wav'), keyOf('/b/x.wav'));
    assert.doesNotMatch(keyOf('../../etc/passwd'), /[/\\]|^\./);
    assert.match(keyOf('...'), /^input-/);
  });
});
