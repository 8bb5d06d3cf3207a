/**
 * StreamSession: the sliding window on the frame grid, checked against the offline decode of the whole signal with a
 * frame-local stand-in model (its frame f depends only on the samples under it, so every streamed frame must equal
 * the offline one exactly: a frame lost, doubled or shifted at a chunk or segment seam shows), and the segmentation.
 */
import assert from 'node:assert/strict';
import { GreedyCTCDecoder } from '../../lib/decode';
import { StreamSession, streamPlan, windowSamples, type FinalEvent, type PartialEvent, type StreamEvent } from '../../lib/stream/session';
import { frameLocalModel } from '../helpers/frame-local-model';

const model = frameLocalModel();
const decoder = new GreedyCTCDecoder(model.labels!, { wordDelimiter: '|' });

/**
 * "Speech" for the frame-local model: blocks of labels 1 to 5 (delimiter and letters, all loud enough for the energy
 * rule), with single blank frames between some (silence far shorter than a segment's end), so words never straddle
 * a silence.
 */
function burst(seconds: number, seed: number): Float32Array {
  let s = seed;
  const r = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const x = new Float32Array(seconds * 16000);
  for (let i = 0; i < x.length;) {
    const blank = r() < 0.3;
    const n = blank ? 320 : 320 * (1 + Math.floor(r() * 4));
    x.fill(blank ? 0 : (1 + Math.floor(r() * 5)) / 10, i, Math.min(x.length, i + n));
    i += n;
  }
  return x;
}

/** Bursts of "speech" between `gap` seconds of silence. */
function signal(bursts: number[], gap: number, seed = 7): Float32Array {
  const parts: Float32Array[] = [new Float32Array(gap * 16000)];
  bursts.forEach((s, i) => {
    parts.push(burst(s, seed + i), new Float32Array(gap * 16000));
  });
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

async function stream(x: Float32Array, pieceSamples: number, o: { plan?: Parameters<typeof streamPlan>[1]; maxSegmentMs?: number } = {}) {
  const events: StreamEvent[] = [];
  const lengths: number[] = [];
  const windows: Float32Array[] = [];
  const plan = streamPlan(model, o.plan ?? {});
  const s = new StreamSession({
    plan, decoder, onEvent: (e) => events.push(e),
    segmenter: o.maxSegmentMs ? { maxSegmentMs: o.maxSegmentMs } : {},
    infer: async (w) => {
      lengths.push(w.length);
      windows.push(w);
      const { emissions } = await model.forward([w]);
      return { data: emissions.data, shape: emissions.shape.slice(1) };
    },
  });
  for (let i = 0; i < x.length; i += pieceSamples) {
    s.push(x.subarray(i, i + pieceSamples));
    await s.idle();
  }
  await s.end();
  return { events, lengths, windows, plan, counts: s.counts, finals: events.filter((e): e is FinalEvent => e.type === 'final') };
}

describe('stream: session', function () {
  this.timeout(20000);

  it('gives the offline words and timestamps, segment by segment, whatever the piece size', async () => {
    const x = signal([3, 2, 4], 1);
    const { emissions } = await model.forward([x]);
    const C = emissions.shape[2]!;
    const F = emissions.shape[1]!;
    for (const piece of [1600, 333, 16000]) {
      const { finals } = await stream(x, piece);
      assert.equal(finals.length, 3, `three bursts, three segments (piece ${piece})`);
      // The reference: the offline emissions of the whole signal, decoded over each segment's frames (a segment
      // ends in silence, where a real model emits blanks or a delimiter; this stand-in has no word end there).
      for (const f of finals) {
        const [a, b] = [Math.round(f.start / 0.02), Math.round(f.end / 0.02)];
        assert.ok(b <= F);
        const ref = decoder.decode({ data: emissions.data.subarray(a * C, b * C), shape: [b - a, C] });
        assert.ok(ref.words.length > 3);
        assert.deepEqual(f.words.map((w) => w.word), ref.words.map((w) => w.word), `segment ${f.segment}, piece ${piece}`);
        f.words.forEach((w, i) => {
          assert.ok(Math.abs(w.start - (ref.words[i]!.start + a * 0.02)) < 1e-3 && Math.abs(w.end - (ref.words[i]!.end + a * 0.02)) < 1e-3, `word ${i} timing`);
        });
      }
      // Segments do not overlap, and every letter frame of the whole signal is in one of them (nothing lost).
      for (let i = 1; i < finals.length; i++) assert.ok(finals[i]!.start >= finals[i - 1]!.end);
      const path = decoder.decode({ data: emissions.data, shape: [F, C] }).path;
      path.forEach((label, f) => {
        if (label > 1) assert.ok(finals.some((s) => f >= Math.round(s.start / 0.02) && f < Math.round(s.end / 0.02)), `frame ${f} (piece ${piece}) in a segment`);
      });
      // The last burst too is followed by silence long enough to end it before the stream ends.
      assert.deepEqual(finals.map((f) => f.reason), ['silence', 'silence', 'silence']);
    }
  });

  it('never changes a stable word: every partial\'s stable words begin its segment\'s final', async () => {
    const { events, finals } = await stream(signal([4, 3], 1, 11), 1600);
    const partials = events.filter((e): e is PartialEvent => e.type === 'partial');
    assert.ok(partials.length > 5);
    assert.ok(partials.some((p) => p.stable > 0 && p.stable < p.text.split(' ').length), 'partials show tentative words after stable ones');
    for (const p of partials) {
      const final = finals.find((f) => f.segment === p.segment)!;
      assert.deepEqual(p.text.split(' ').slice(0, p.stable), final.words.slice(0, p.stable).map((w) => w.word), `segment ${p.segment}`);
    }
    // Stable counts only grow within a segment.
    for (let i = 1; i < partials.length; i++) {
      if (partials[i]!.segment === partials[i - 1]!.segment) assert.ok(partials[i]!.stable >= partials[i - 1]!.stable);
    }
  });

  it('runs full windows of one length (so streams batch together) and skips the model on silence', async () => {
    const x = signal([8], 3);
    const { lengths, plan, counts } = await stream(x, 1600);
    const full = windowSamples(plan);
    const steady = lengths.filter((n) => n === full).length;
    // The first windows of a segment lack left context (it starts with the segment) and the last is cut at the end of
    // the speech; the rest are full.
    assert.ok(steady >= lengths.length - Math.ceil(plan.left / plan.chunk) - 2, `window lengths ${lengths.join(',')}`);
    assert.ok(counts.skipped >= Math.floor((3 * 16000) / plan.chunk) - 2, `skipped ${counts.skipped} chunks of silence`);
  });

  it('gives the model a segment\'s sound only: no window starts in the silence before it or runs on after it', async () => {
    // Bursts hold single silent frames only; 1.3 s pauses between them, not on the chunk grid.
    const x = signal([2.1, 3.3, 1.7], 1.3);
    const { windows } = await stream(x, 1600);
    const zeros = (w: Float32Array, from: number, step: number) => {
      let n = 0;
      for (let i = from; i >= 0 && i < w.length && w[i] === 0; i += step) n++;
      return n;
    };
    for (const w of windows) {
      // At most a burst's own silent frame at the start; at the end that, 100 ms after the sound and the overhang.
      assert.ok(zeros(w, 0, 1) <= 320, `a window starts with ${zeros(w, 0, 1)} silent samples`);
      assert.ok(zeros(w, w.length - 1, -1) <= 320 + 1600 + 80, `a window ends with ${zeros(w, w.length - 1, -1)} silent samples`);
    }
  });

  it('cuts a segment at its longest, and the words still match offline across the cut when it falls between them', async () => {
    const x = signal([6], 1, 3);
    const { finals } = await stream(x, 1600, { maxSegmentMs: 2000 });
    assert.ok(finals.length >= 3);
    assert.ok(finals.slice(0, -1).some((f) => f.reason === 'max-length'));
    // Segments are contiguous: each starts where the previous ended.
    for (let i = 1; i < finals.length; i++) assert.ok(finals[i]!.start >= finals[i - 1]!.end - 1e-9);
  });

  it('refuses audio after the end', async () => {
    const s = new StreamSession({ plan: streamPlan(model), decoder, onEvent: () => undefined, infer: async () => ({ data: new Float32Array(0), shape: [0, 6] }) });
    await s.end();
    assert.throws(() => s.push(new Float32Array(10)), /ended/);
  });

  it('checks the window layout', () => {
    assert.throws(() => streamPlan(model, { chunkMs: 0 }), /chunkMs/);
    assert.throws(() => streamPlan(model, { lookaheadMs: Number.NaN }), /lookaheadMs/);
    const p = streamPlan(model, { leftMs: 1000, chunkMs: 250, lookaheadMs: 130 });
    for (const k of ['left', 'chunk', 'lookahead'] as const) assert.equal(p[k] % 320, 0, `${k} on the frame grid`);
  });
});
