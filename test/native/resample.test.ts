/**
 * The addon's resample (native/resample.cc): every bad call gives a coded error and leaves the addon working; it
 * loads and runs inside a worker thread; and a call keeps LibTorch's work on the calling thread (no OpenMP team is
 * started or grown, the main thread's LibTorch thread count is left as it was).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Resampler } from '../../lib/audio/resample';
import { NativeResampler } from '../../lib/audio/resample-native';
import { loadModel } from '../../lib/model/load';
import { binding } from '../../lib/model/native';
import { maxAbsDiff } from '../../lib/tensor';
import { throwsCode } from '../helpers/errors';
import { FIXTURES } from '../helpers/fixtures';
import { requireAddon } from '../helpers/native';

const ROOT = join(__dirname, '..', '..');
const TA = join(FIXTURES, 'models', 'ta_tiny_base.pt');

function tone(n: number, rate: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => 0.4 * Math.sin((2 * Math.PI * 440 * i) / rate) + 0.2 * Math.sin(i * 0.77));
}

/** Threads of this process, now. */
function threads(): number {
  return readdirSync('/proc/self/task').length;
}

describe('native resample', function () {
  before(function () {
    requireAddon(this);
    if (!binding().resample) {
      // eslint-disable-next-line no-console
      console.log('      (skipped: this LibTorch does not run intra-op work on OpenMP; the addon exports no resample)');
      this.skip();
    }
  });

  describe('bad calls', () => {
    const x = new Float32Array(1000).fill(0.5);
    const w = new Float32Array(6).fill(0.25); // 2 phases x 3 taps
    const run = (...args: unknown[]) => () => (binding().resample as (...a: unknown[]) => unknown)(...args);
    const cases: Array<[string, () => unknown, RegExp]> = [
      ['no arguments', run(), /expected 9 arguments/],
      ['a plain array of samples', run([0.1, 0.2], w, 2, 3, 1, 1, 0, 4, 4), /x must be a Float32Array or a Float64Array/],
      ['an Int16Array', run(new Int16Array(10), w, 2, 3, 1, 1, 0, 4, 4), /x must be a Float32Array or a Float64Array/],
      ['a weight of the other precision', run(x, new Float64Array(6), 2, 3, 1, 1, 0, 4, 4), /weight must be a typed array of x's kind/],
      ['a weight of the wrong length', run(x, new Float32Array(5), 2, 3, 1, 1, 0, 4, 4), /weight must hold phases \* taps values/],
      ['a fractional count', run(x, w, 2, 3, 1, 1, 0, 4.5, 4), /count must be an integer/],
      ['a negative left', run(x, w, 2, 3, 1, -1, 0, 4, 4), /left must be an integer/],
      ['NaN phases', run(x, w, NaN, 3, 1, 1, 0, 4, 4), /phases must be an integer/],
      ['a string stride', run(x, w, 2, 3, '1', 1, 0, 4, 4), /stride must be an integer/],
      ['a huge count', run(x, w, 2, 3, 1, 1, 0, 1e15, 4), /count must be an integer within \[0, 2147483647\]/],
      ['more outputs than the input can give', run(x, w, 2, 3, 1, 1, 0, 2 * 1002, 4), /past the end of x/],
      ['blocks that start past the end of the input', run(x, w, 2, 3, 1, 1, 5000, 2, 4), /past the end of x/],
      ['a huge tile', run(x, w, 2, 3, 1, 1, 0, 4, 2 ** 30), /tile must be an integer/],
      ['a tile of 2^24 blocks of 2 phases', run(x, w, 2, 3, 1, 1, 0, 4, 2 ** 24), /tile \* phases must be at most 2\^24/],
      ['a tile that reads 2^26 samples and more', run(x, w, 2, 3, 64, 1, 0, 4, 2 ** 21), /\(tile - 1\) \* stride \+ taps must be at most 2\^26/],
      ['a filter bank of more than 2^24 values', run(x, new Float32Array(0), 2 ** 13, 2 ** 12, 1, 1, 0, 4, 1), /phases \* taps must be at most 2\^24/],
    ];
    for (const [title, call, message] of cases) {
      it(`rejects ${title} with INVALID_INPUT`, () => throwsCode(call, 'INVALID_INPUT', message));
    }

    it('gives an empty array for an empty input, and keeps working after every bad call', () => {
      const empty = binding().resample!(new Float32Array(0), w, 2, 3, 1, 1, 0, 0, 4);
      assert.ok(empty instanceof Float32Array && empty.length === 0);
      // 2 phases x 3 taps, stride 1, one sample of padding: output 2m reads x[m - 1], output 2m + 1 reads x[m].
      const y = binding().resample!(Float32Array.of(1, 2, 3), Float32Array.of(1, 0, 0, 0, 1, 0), 2, 3, 1, 1, 0, 6, 2);
      assert.deepEqual([...y], [0, 1, 1, 2, 2, 3]);
      const y64 = binding().resample!(Float64Array.of(1, 2, 3), Float64Array.of(0, 0, 1, 0.5, 0, 0), 2, 3, 1, 1, 1, 4, 2);
      assert.ok(y64 instanceof Float64Array);
      assert.deepEqual([...y64], [3, 0.5, 0, 1]);
    });
  });

  describe('threads', () => {
    it('runs inside a worker thread, on that thread only, with what the main thread gets', async function () {
      this.timeout(120000);
      // A model whose inference thread runs at 2 threads: LibTorch's process-wide count is 2 from then on, which a
      // thread that starts LibTorch work takes by default, and would start a team of 2 with (the case this guards).
      const model = await loadModel(TA, { manifest: false, threads: 2 });
      try {
        await model.forward(tone(8000, 16000));
        const x = tone(44100 * 3, 44100);
        const want = NativeResampler.of(new Resampler(44100, 16000))!.resample(x);
        const script = `
          require('tsx/cjs');
          const { parentPort, workerData } = require('node:worker_threads');
          const { readdirSync, readFileSync } = require('node:fs');
          const { Resampler } = require(${JSON.stringify(join(ROOT, 'lib/audio/resample.ts'))});
          const { NativeResampler } = require(${JSON.stringify(join(ROOT, 'lib/audio/resample-native.ts'))});
          const nat = NativeResampler.of(new Resampler(44100, 16000)); // loads the addon in this thread
          const before = readdirSync('/proc/self/task').length;
          const first = nat.resample(workerData.x); // the first LibTorch work on this thread: its set-up
          const t0 = Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
          const c0 = process.cpuUsage();
          const x64 = Float64Array.from(workerData.x); // float64 runs another kernel (no oneDNN; im2col and MKL's gemm)
          for (let i = 0; i < 20; i++) nat.resample(i % 2 ? x64 : workerData.x);
          const c = process.cpuUsage(c0);
          const threadMs = (Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) - t0) / 1e6;
          parentPort.postMessage({ y: first, before, after: readdirSync('/proc/self/task').length, threadMs, processMs: (c.user + c.system) / 1e3 });
        `;
        const got = await new Promise<{ y: Float32Array; before: number; after: number; threadMs: number; processMs: number }>((resolve, reject) => {
          const w = new Worker(script, { eval: true, workerData: { x } });
          w.once('message', (m) => {
            resolve(m);
            void w.terminate();
          });
          w.once('error', reject);
        });
        assert.equal(maxAbsDiff(got.y, want), 0, 'the same samples as on the main thread');
        assert.equal(got.after, got.before, 'no thread started by 21 calls');
        // Nothing else in the process is busy meanwhile (the model is idle): its CPU time is the worker's own, with
        // slack for Node's helper threads (GC) and what earlier suites left idling in this process; a second thread
        // working along (an OpenMP team of 2) would double it.
        assert.ok(got.processMs < got.threadMs * 1.7 + 100, `process ${got.processMs} ms for ${got.threadMs} ms on the thread`);
      } finally {
        model.dispose();
      }
    });

    it('leaves the main thread\'s LibTorch thread count as it was', function () {
      this.timeout(120000);
      // In fresh processes: the count is read once, on the first getNumThreads() (native/inference_thread.cc).
      const count = (resampleFirst: boolean) => {
        const script = `
          const { binding } = require('./lib/model/native.ts');
          const { Resampler } = require('./lib/audio/resample.ts');
          const { NativeResampler } = require('./lib/audio/resample-native.ts');
          if (${resampleFirst}) NativeResampler.of(new Resampler(48000, 16000)).resample(new Float32Array(48000).fill(0.1));
          process.stdout.write(String(binding().getNumThreads()));`;
        const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
        assert.equal(r.status, 0, r.stderr);
        return Number(r.stdout);
      };
      const plain = count(false);
      if (plain < 2) this.skip(); // one core: 1 either way, nothing to tell apart
      assert.equal(count(true), plain);
    });
  });

  it('a whole signal equals the same signal asked for in tiles (what StreamResampler relies on)', () => {
    const r = NativeResampler.of(new Resampler(22050, 16000))!;
    const x = tone(22050 * 4 + 123, 22050);
    const whole = r.resample(x);
    const per = r.tile * r.next;
    const parts: Float32Array[] = [];
    for (let k = 0; k < whole.length; k += per) parts.push(r.resampleBlocks(x, k / r.next, Math.min(per, whole.length - k)));
    assert.equal(maxAbsDiff(Float32Array.from(parts.flatMap((p) => [...p])), whole), 0);
  });
});
