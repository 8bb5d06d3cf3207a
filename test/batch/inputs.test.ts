/** What a batch job reads: files, directories, globs and manifests, expanded into inputs with stable ids. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBatchJob } from '../../lib/jobs';
import { expandInputs, keyOf } from '../../lib/jobs/inputs';
import { wavBytes } from '../helpers/audio-corpus';
import { rejectsCode } from '../helpers/errors';
import { frameLocalModel, labelSignal } from '../helpers/frame-local-model';

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

  describe('symbolic links', () => {
    let root: string;
    before(() => {
      // data/real.wav, outside/far.wav; corpus/ holds a link to each, a link to a folder beside it, a link back to
      // itself (a loop), and a link to nothing.
      root = mkdtempSync(join(tmpdir(), 'w2v-links-'));
      for (const d of ['corpus/sub', 'outside/deep']) mkdirSync(join(root, d), { recursive: true });
      writeFileSync(join(root, 'corpus', 'real.wav'), 'x');
      writeFileSync(join(root, 'outside', 'far.wav'), 'x');
      writeFileSync(join(root, 'outside', 'deep', 'deeper.flac'), 'x');
      symlinkSync(join(root, 'outside', 'far.wav'), join(root, 'corpus', 'far-link.wav'));
      symlinkSync('real.wav', join(root, 'corpus', 'same-as-real.wav'));
      symlinkSync(join(root, 'outside', 'deep'), join(root, 'corpus', 'deep-link'));
      symlinkSync('..', join(root, 'corpus', 'sub', 'loop'));
      symlinkSync(join(root, 'nowhere.wav'), join(root, 'corpus', 'broken.wav'));
    });
    const rel = (p: string) => p.slice(root.length + 1);

    it('directory walks follow links to files and folders, once per real file, loops included', async () => {
      const got = await expandInputs([join(root, 'corpus')]);
      assert.deepEqual(got.filter((i) => !i.error).map((i) => rel(i.path)), [
        'corpus/deep-link/deeper.flac', 'corpus/far-link.wav', 'corpus/real.wav',
      ]);
    });

    it('a broken link is an input that fails with its own code, not one that silently vanishes', async () => {
      const got = await expandInputs([join(root, 'corpus')]);
      const broken = got.filter((i) => i.error);
      assert.deepEqual(broken.map((i) => [rel(i.path), i.error!.code]), [['corpus/broken.wav', 'BATCH_INPUT_BROKEN_LINK']]);
      assert.match(broken[0]!.error!.message, /nowhere\.wav/);
      const named = await expandInputs([join(root, 'corpus', 'broken.wav')]);
      assert.equal(named[0]!.error?.code, 'BATCH_INPUT_BROKEN_LINK');
    });

    it('a file reached by a folder, a glob and another name runs once', async () => {
      const got = await expandInputs([join(root, 'outside'), `${root}/corpus/**/*.{wav,flac}`, join(root, 'corpus', 'same-as-real.wav')]);
      assert.deepEqual(got.filter((i) => !i.error).map((i) => rel(i.path)), ['outside/deep/deeper.flac', 'outside/far.wav', 'corpus/real.wav']);
    });

    it('a job records the broken link in failures.jsonl and transcribes the rest', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'w2v-links-job-'));
      writeFileSync(join(dir, 'a.wav'), wavBytes(labelSignal(2, 1), 16000));
      symlinkSync(join(dir, 'a.wav'), join(dir, 'b.wav'));
      symlinkSync(join(dir, 'gone.wav'), join(dir, 'c.wav'));
      const out = join(mkdtempSync(join(tmpdir(), 'w2v-links-out-')), 'out');
      const summary = await runBatchJob({ inputs: [dir], out, model: frameLocalModel() });
      assert.deepEqual({ done: summary.done, failed: summary.failed }, { done: 1, failed: 1 });
      const failures = readFileSync(join(out, 'failures.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(failures.map((f) => [f.file, f.code]), [[join(dir, 'c.wav'), 'BATCH_INPUT_BROKEN_LINK']]);
    });
  });
});
