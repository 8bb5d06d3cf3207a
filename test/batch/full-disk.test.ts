/**
 * A batch job writing features onto a real full disk: a small tmpfs mounted as the output folder (needs root; the
 * suite is skipped, saying why, elsewhere). The job must stop with BATCH_WRITE_FAILED and leave no feature file
 * shorter than its header says; once there is room, the same job resumes and completes with whole, exact files.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBatchJob } from '../../lib/jobs';
import { NpyStreamWriter } from '../../lib/jobs/npy-stream';
import { maxAbsDiff } from '../../lib/tensor';
import { wavBytes } from '../helpers/audio-corpus';
import { rejectsCode } from '../helpers/errors';
import { frameLocalModel, labelSignal } from '../helpers/frame-local-model';
import { readNpy } from '../helpers/npy';

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

/** Each .npy holds exactly what its header says: 128 header bytes (as NpyStreamWriter writes) + rows x dim floats. */
function assertWholeNpys(dir: string): void {
  for (const f of filesUnder(dir).filter((p) => p.endsWith('.npy'))) {
    const { shape } = readNpy(f);
    assert.equal(statSync(f).size, 128 + shape.reduce((a, b) => a * b, 1) * 4, `${f}: size against its header's shape ${shape}`);
  }
}

function jsonl(file: string): Array<Record<string, any>> {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

describe('batch: a full or read-only output disk', function () {
  this.timeout(60000);
  const mounts: string[] = [];
  let root: string;

  /** A tmpfs of `kib` KiB at a fresh folder. */
  function mountTmpfs(kib: number, extra = ''): string {
    const dir = mkdtempSync(join(root, 'mnt-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k${extra}`, 'tmpfs', dir], { stdio: 'pipe' });
    mounts.push(dir);
    return dir;
  }

  before(function () {
    root = mkdtempSync(join(tmpdir(), 'w2v-full-'));
    if (process.getuid?.() !== 0) {
      // eslint-disable-next-line no-console
      console.log('      (skipped: mounting a small tmpfs as a full disk needs root)');
      this.skip();
    }
    try {
      mountTmpfs(64);
    } catch (err) {
      // eslint-disable-next-line no-console
      console.log(`      (skipped: cannot mount a tmpfs here: ${(err as Error).message.split('\n')[0]})`);
      this.skip();
    }
  });

  after(() => {
    for (const m of mounts.reverse()) {
      try {
        execFileSync('umount', [m], { stdio: 'pipe' });
      } catch {
        execFileSync('umount', ['-l', m], { stdio: 'pipe' });
      }
    }
  });

  /** The samples of each input file (float32 at the model's rate: the job reads exactly these). */
  const signals = new Map<string, Float32Array>();

  /** `n` files of `seconds` each, on the ordinary disk. */
  function inputs(name: string, n: number, seconds: number): string[] {
    const dir = join(root, name);
    mkdirSync(dir);
    return Array.from({ length: n }, (_, i) => {
      const file = join(dir, `f${i}.wav`);
      signals.set(file, labelSignal(seconds, i + 1));
      writeFileSync(file, wavBytes(signals.get(file)!, 16000));
      return file;
    });
  }

  /** After the resumed run: every input once, each feature file whole and equal to the model's own output. */
  async function assertComplete(out: string, files: string[], layers: number[], dim: number): Promise<void> {
    const records = jsonl(join(out, 'transcripts.jsonl'));
    assert.deepEqual(records.map((r) => r.file).sort(), [...files].sort(), 'every input once');
    const model = frameLocalModel(dim);
    for (const r of records) {
      const want = await model.extractFeatures([signals.get(r.file)!], { numLayers: Math.max(...layers) });
      r.features.files.forEach((rel: string, i: number) => {
        const npy = readNpy(join(out, rel));
        assert.deepEqual(npy.shape, want.features[layers[i]! - 1]!.shape.slice(1), rel);
        assert.equal(maxAbsDiff(npy.data, want.features[layers[i]! - 1]!.data), 0, rel);
      });
    }
    assertWholeNpys(out);
    assert.ok(!existsSync(join(out, '.tmp')) && !existsSync(join(out, '.lock')));
  }

  it('stops with BATCH_WRITE_FAILED when the disk fills during a feature file, commits no short file, and resumes once there is room', async () => {
    // One window and one layer per file: each feature file is one write, the one a full disk cuts short.
    // 3 s at 16 kHz = 149 frames x 512 floats = 305 KB per file; a 1 MiB disk holds three.
    const files = inputs('one-write', 6, 3);
    const mnt = mountTmpfs(1024);
    const out = join(mnt, 'out');
    const job = { inputs: files, out, model: frameLocalModel(512), features: [1], batchSize: 2 };
    await rejectsCode(runBatchJob(job), 'BATCH_WRITE_FAILED', /ENOSPC|no space/i);
    assertWholeNpys(mnt);
    const first = readdirSync(join(out, 'results')).length;
    assert.ok(first >= 1 && first < files.length, `${first} of ${files.length} committed before the disk was full`);
    assert.deepEqual(readdirSync(join(out, 'failed')), [], 'a full disk is no input\'s failure');
    assert.ok(!existsSync(join(out, '.tmp')) && !existsSync(join(out, '.lock')), 'temporary files and the lock removed');

    execFileSync('mount', ['-o', 'remount,size=16m', mnt], { stdio: 'pipe' });
    const resumed = await runBatchJob(job);
    assert.deepEqual({ done: resumed.done, skipped: resumed.skipped, failed: resumed.failed }, { done: files.length - first, skipped: first, failed: 0 });
    await assertComplete(out, files, [1], 512);
  });

  it('the same with several layers and windows per file (a disk that fills between the writes of one file)', async () => {
    const files = inputs('many-writes', 4, 7);
    const mnt = mountTmpfs(1536);
    const out = join(mnt, 'out');
    const job = { inputs: files, out, model: frameLocalModel(256), features: [1, 2], windowSeconds: 2, strideSeconds: 0.4, batchSize: 3 };
    await rejectsCode(runBatchJob(job), 'BATCH_WRITE_FAILED', /ENOSPC|no space/i);
    assertWholeNpys(mnt);
    assert.deepEqual(readdirSync(join(out, 'failed')), []);
    execFileSync('mount', ['-o', 'remount,size=16m', mnt], { stdio: 'pipe' });
    const resumed = await runBatchJob(job);
    assert.equal(resumed.done + resumed.skipped, files.length);
    await assertComplete(out, files, [1, 2], 256);
  });

  it('the same for records, txt/srt/vtt and transcripts.jsonl lines: stopped, then resumed with every input exactly once', async () => {
    // Each input takes four small files (record, txt, srt, vtt): a 64 KiB disk fills after a few.
    const files = inputs('text', 12, 2);
    const mnt = mountTmpfs(64);
    const out = join(mnt, 'out');
    const job = { inputs: files, out, model: frameLocalModel(), formats: ['txt', 'srt', 'vtt'] as Array<'txt' | 'srt' | 'vtt'>, batchSize: 4 };
    await rejectsCode(runBatchJob(job), 'BATCH_WRITE_FAILED', /ENOSPC|no space/i);
    assert.ok(!existsSync(join(out, '.tmp')) && !existsSync(join(out, '.lock')));
    execFileSync('mount', ['-o', 'remount,size=16m', mnt], { stdio: 'pipe' });
    const resumed = await runBatchJob(job);
    assert.equal(resumed.done + resumed.skipped, files.length);
    const records = jsonl(join(out, 'transcripts.jsonl'));
    assert.deepEqual(records.map((r) => r.file).sort(), [...files].sort(), 'every input once');
    for (const r of records) {
      assert.deepEqual(JSON.parse(readFileSync(join(out, 'results', `${r.key}.json`), 'utf8')), r);
      assert.equal(readFileSync(join(out, r.outputs.txt), 'utf8'), r.text + '\n');
    }
    for (const f of ['txt', 'srt', 'vtt', 'results']) assert.equal(readdirSync(join(out, f)).length, files.length, f);
  });

  it('a feature file on a read-only disk stops the job (BATCH_WRITE_FAILED), it is no input\'s failure', async () => {
    const ro = mountTmpfs(64, ',ro');
    await rejectsCode(NpyStreamWriter.create(join(ro, 'layer01.npy')), 'BATCH_WRITE_FAILED', /EROFS|read-only/i);
  });
});
