/** The pieces long audio is cut into, and the streaming parts that keep its memory bounded. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Resampler } from '../../lib/audio';
import { NativeResampler } from '../../lib/audio/resample-native';
import { GreedyCTCDecoder } from '../../lib/decode';
import { StreamResampler } from '../../lib/jobs/stream-resampler';
import { StreamingGreedyDecoder } from '../../lib/jobs/greedy-stream';
import { framesOf, readPieces, windowPlan, type Piece } from '../../lib/jobs/windows';
import { binding } from '../../lib/model/native';
import { resampleLikeStage } from '../../lib/pipeline/audio';
import { maxAbsDiff } from '../../lib/tensor';
import { wavBytes } from '../helpers/audio-corpus';
import { requireAddon } from '../helpers/native';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

function noise(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

describe('batch: streaming pieces', () => {
  describe('StreamResampler', () => {
    for (const [from, to] of [[22050, 16000], [44100, 16000], [8000, 16000], [48000, 16000], [16000, 16000]] as const) {
      it(`${from} -> ${to} Hz in random pieces gives Resampler's samples for the whole signal, bit for bit`, () => {
        const x = noise(from * 3 + 17, from);
        const whole = new Resampler(from, to).resample(x);
        const r = rng(7);
        const s = new StreamResampler(from, to);
        const parts: Float32Array[] = [];
        for (let i = 0; i < x.length;) {
          const n = Math.min(x.length - i, 1 + Math.floor(r() * 9000));
          parts.push(s.push(x.slice(i, i + n)));
          i += n;
        }
        parts.push(s.end());
        const got = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
        let o = 0;
        for (const p of parts) {
          got.set(p, o);
          o += p.length;
        }
        assert.equal(got.length, whole.length);
        assert.equal(maxAbsDiff(got, whole), 0);
      });
    }

    describe('native (the addon\'s conv1d)', function () {
      before(function () {
        requireAddon(this);
        if (!binding().resample) this.skip();
      });
      for (const [from, to] of [[22050, 16000], [44100, 16000], [8000, 16000], [48000, 16000], [16000, 44100], [32000, 16000]] as const) {
        it(`${from} -> ${to} Hz in random pieces gives NativeResampler's samples for the whole signal, bit for bit`, () => {
          const x = noise(from * 3 + 17, from);
          const nat = NativeResampler.of(new Resampler(from, to))!;
          const whole = nat.resample(x);
          for (const seed of [7, 8]) {
            const r = rng(seed);
            const s = new StreamResampler(from, to, { native: true });
            assert.ok(s.native);
            const parts: Float32Array[] = [];
            // Pieces from 1 sample to 1.5 tiles of input, so that calls end inside, on and across tile edges.
            const most = Math.ceil(nat.tile * nat.orig * 1.5);
            for (let i = 0; i < x.length;) {
              const n = Math.min(x.length - i, 1 + Math.floor(r() * most));
              parts.push(s.push(x.slice(i, i + n)));
              i += n;
            }
            parts.push(s.end());
            const got = Float32Array.from(parts.flatMap((p) => [...p]));
            assert.equal(got.length, whole.length);
            assert.equal(maxAbsDiff(got, whole), 0);
          }
        });
      }

      it('stays within float32 rounding of the JavaScript StreamResampler', () => {
        const x = noise(44100 * 2, 5);
        const js = new StreamResampler(44100, 16000);
        const nat = new StreamResampler(44100, 16000, { native: true });
        const a = Float32Array.from([...js.push(x), ...js.end()]);
        const b = Float32Array.from([...nat.push(x), ...nat.end()]);
        assert.equal(a.length, b.length);
        assert.ok(maxAbsDiff(a, b) < 2e-6);
      });
    });
  });

  describe('windows', () => {
    const plan = windowPlan(2, 0.3, 16000, 320, 400);
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'w2v-windows-'));
    });

    async function pieces(n: number, rate = 16000): Promise<{ list: Piece[]; samples: number }> {
      const file = join(dir, `x${n}-${rate}.wav`);
      writeFileSync(file, wavBytes(noise(n, n), rate));
      const source = { sourceRate: null, samples: 0 };
      const list: Piece[] = [];
      for await (const p of readPieces(file, 16000, plan, source)) list.push(p);
      return { list, samples: source.samples };
    }

    it('rounds window and stride to the frame grid', () => {
      assert.deepEqual({ ...plan }, { window: 32000, stride: 4800, step: 22400, frameStride: 320, receptiveField: 400 });
      assert.throws(() => windowPlan(1, 0.5, 16000, 320, 400), /stride/);
    });

    it('a file no longer than the window is one piece, whole', async () => {
      const { list } = await pieces(32000);
      assert.equal(list.length, 1);
      assert.equal(list[0]!.samples.length, 32000);
      assert.deepEqual(list[0]!.keep, { from: 0, to: null });
      assert.ok(list[0]!.last);
    });

    it('a clip shorter than the receptive field is padded to it', async () => {
      const { list } = await pieces(123);
      assert.equal(list[0]!.samples.length, 400);
    });

    for (const n of [32001, 54400, 54401, 100000, 16000 * 7 + 333]) {
      it(`${n} samples: windows on the frame grid whose kept frames tile the unchunked frames exactly once`, async () => {
        const { list, samples } = await pieces(n);
        assert.equal(samples, n);
        let next = 0;
        list.forEach((p, i) => {
          assert.equal(p.index, i);
          assert.equal(p.offset, i * plan.step);
          assert.equal(p.offset % plan.frameStride, 0);
          assert.equal(p.last, i === list.length - 1);
          const frames = framesOf(p.samples.length, plan);
          const to = p.keep.to ?? frames;
          // Local frame f of this window is global frame offset/frameStride + f.
          assert.equal(p.offset / plan.frameStride + p.keep.from, next, `piece ${i} starts where the previous ended`);
          next = p.offset / plan.frameStride + to;
          if (!p.last) assert.equal(p.samples.length, plan.window);
          if (i > 0) assert.ok(p.keep.from * plan.frameStride >= plan.stride, 'inner edges drop the stride');
        });
        assert.equal(next, framesOf(n, plan));
      });
    }

    it('resamples as it reads: a 22.05 kHz file gives the samples loadForModel would (the stage\'s resampling of the whole)', async () => {
      const { list } = await pieces(22050 * 5, 22050);
      const whole = resampleLikeStage(noise(22050 * 5, 22050 * 5), 22050, 16000);
      // Pieces overlap by 2 x stride; their starts place them in the signal.
      assert.ok(list.length > 2);
      for (const p of list) assert.equal(maxAbsDiff(p.samples, whole.subarray(p.offset, p.offset + p.samples.length)), 0, `piece ${p.index}`);
    });
  });

  describe('StreamingGreedyDecoder', () => {
    const labels = ['-', '|', 'A', 'B', 'C', 'D'];
    const decoder = new GreedyCTCDecoder(labels, { frameStride: 320, sampleRate: 16000 });
    it('breakWord ends a word at a seam: pieces each decoded alone, joined, times in the whole\'s frames', () => {
      const C = labels.length;
      // "AB" then "CA" with no delimiter between (pieces cut on silence may end and begin on a letter), and "A A".
      const piece = (ls: number[]) => {
        const data = new Float32Array(ls.length * C);
        ls.forEach((l, f) => (data[f * C + l] = 1));
        return { data, shape: [ls.length, C] };
      };
      const parts = [piece([2, 2, 3, 0]), piece([0, 4, 2]), piece([2, 0])];
      const s = new StreamingGreedyDecoder(decoder);
      parts.forEach((p, i) => {
        if (i > 0) s.breakWord();
        s.push(p);
      });
      const got = s.finish();
      const alone = parts.map((p) => decoder.decode(p));
      assert.equal(got.text, alone.map((a) => a.text).join(' '));
      // The third piece's A starts at frame 7 of the whole (4 + 3 frames before it): 0.14 s.
      assert.deepEqual(got.words.map((w) => [w.word, w.start]), [['AB', 0], ['CA', 0.1], ['A', 0.14]]);
    });

    for (const seed of [1, 2, 3, 4]) {
      it(`pieces decoded in turn give decoding once (seed ${seed}), runs crossing the seams included`, () => {
        const r = rng(seed);
        const F = 400;
        const C = labels.length;
        const data = new Float32Array(F * C);
        // Runs of 1-6 frames of one label, so that many runs straddle a seam.
        let label = 0;
        let left = 0;
        for (let f = 0; f < F; f++) {
          if (left-- <= 0) {
            label = Math.floor(r() * C);
            left = Math.floor(r() * 6);
          }
          for (let c = 0; c < C; c++) data[f * C + c] = r() * 2 + (c === label ? 3 : 0);
        }
        const once = decoder.decode({ data, shape: [F, C] });
        const s = new StreamingGreedyDecoder(decoder);
        for (let f = 0; f < F;) {
          const n = Math.min(F - f, 1 + Math.floor(r() * 30));
          s.push({ data: data.slice(f * C, (f + n) * C), shape: [n, C] });
          f += n;
        }
        const got = s.finish();
        assert.equal(got.text, once.text);
        assert.equal(got.words.length, once.words.length);
        got.words.forEach((w, i) => {
          const e = once.words[i]!;
          assert.equal(w.word, e.word);
          assert.equal(w.start, e.start);
          assert.equal(w.end, e.end);
          assert.ok(Math.abs(w.confidence - e.confidence) < 1e-12);
        });
      });
    }
  });
});
