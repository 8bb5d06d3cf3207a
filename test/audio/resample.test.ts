/**
 * Parity of resample/Resampler with torchaudio.functional.resample. Every case is data: the float32 cases come
 * from test/fixtures (made by torchaudio's own code), the others from test/fixtures/resample64 (made by
 * scripts/make_resample_fixtures.py, which runs torchaudio's code in float64, and for a few pairs also in float32).
 * Adding a rate pair = adding a line to that script's CASES and running it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resample, Resampler, type ResampleOptions } from '../../lib/audio/resample';
import { NativeResampler } from '../../lib/audio/resample-native';
import { binding } from '../../lib/model/native';
import { maxAbsDiff } from '../../lib/tensor';
import { throwsCode } from '../helpers/errors';
import { FIXTURES, manifest, readEntry } from '../helpers/fixtures';
import { requireAddon } from '../helpers/native';

const F32_TOLERANCE = 5e-5;
const F64_TOLERANCE = 1e-9;

interface Case {
  title: string;
  orig: number;
  next: number;
  options: ResampleOptions;
  input: { data: Float32Array | Float64Array; shape: number[] };
  output: { data: Float32Array | Float64Array; shape: number[] };
  tolerance: number;
}

/** torchaudio's snake_case params -> our options. */
function optionsOf(p: { lowpass_filter_width?: number; rolloff?: number; resampling_method?: string; beta?: number | null } = {}): ResampleOptions {
  const o: ResampleOptions = {};
  if (p.lowpass_filter_width !== undefined) o.lowpassFilterWidth = p.lowpass_filter_width;
  if (p.rolloff !== undefined) o.rolloff = p.rolloff;
  if (p.resampling_method !== undefined) o.resamplingMethod = p.resampling_method as ResampleOptions['resamplingMethod'];
  if (p.beta !== undefined && p.beta !== null) o.beta = p.beta;
  return o;
}

function f32Cases(): Case[] {
  const out: Case[] = [];
  const r = manifest.resample;
  for (const c of r.cases) {
    for (const [kind, sig] of Object.entries<any>(c.signals)) {
      out.push({
        title: `${c.name} ${kind} (float32)`, orig: c.orig_freq, next: c.new_freq, options: optionsOf(c.params),
        input: readEntry(sig.input) as Case['input'], output: readEntry(sig.output) as Case['output'], tolerance: F32_TOLERANCE,
      });
    }
  }
  for (const c of r.edge_cases) {
    out.push({
      title: `edge: ${c.what}, ${c.orig_freq} -> ${c.new_freq} (float32)`, orig: c.orig_freq, next: c.new_freq, options: {},
      input: readEntry(c.input) as Case['input'], output: readEntry(c.output) as Case['output'], tolerance: F32_TOLERANCE,
    });
  }
  return out;
}

function f64Cases(): Case[] {
  const dir = join(FIXTURES, 'resample64');
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  return m.cases.map((c: any) => {
    const rel = (e: any) => ({ ...e, file: join('resample64', e.file) });
    return {
      title: `${c.name} (${c.dtype})`, orig: c.orig_freq, next: c.new_freq, options: optionsOf(c.params),
      input: readEntry(rel(c.input)), output: readEntry(rel(c.output)), tolerance: c.dtype === 'float64' ? F64_TOLERANCE : F32_TOLERANCE,
    } as Case;
  });
}

/** Largest difference per case, printed at the end (the figures the README quotes). */
const report: string[] = [];

function rows(t: { data: Float32Array | Float64Array; shape: number[] }) {
  const n = t.shape[t.shape.length - 1]!;
  const r = t.data.length / Math.max(n, 1);
  return Array.from({ length: r }, (_, i) => t.data.subarray(i * n, (i + 1) * n));
}

describe('audio/resample: parity with torchaudio.functional.resample', () => {
  after(() => {
    // eslint-disable-next-line no-console
    console.log(`      max |ours - torchaudio| per case:\n${report.map((l) => `        ${l}`).join('\n')}`);
  });

  for (const c of [...f32Cases(), ...f64Cases()]) {
    it(c.title, () => {
      // The tensor form covers mono ([n]) and multi-channel ([2, n]) inputs in one call.
      const y = resample({ data: c.input.data, shape: c.input.shape }, c.orig, c.next, c.options);
      assert.deepEqual(y.shape, c.output.shape, 'output shape');
      assert.equal(y.data.constructor, c.input.data.constructor, 'output keeps the input precision');
      const d = maxAbsDiff(y.data, c.output.data);
      report.push(`${c.title}: ${d.toExponential(2)}`);
      assert.ok(d <= c.tolerance, `max abs diff ${d} > ${c.tolerance}`);

      // The other input forms give the same numbers: one array per channel, and (mono) a bare array.
      const channels = rows(c.input);
      const perChannel = resample(channels, c.orig, c.next, c.options);
      rows(y).forEach((row, i) => assert.deepEqual(perChannel[i], row));
      if (c.input.shape.length === 1) assert.deepEqual(resample(c.input.data, c.orig, c.next, c.options), y.data);
    });
  }
});

describe('audio/resample: the native path (LibTorch conv1d in the addon), parity with torchaudio', function () {
  const nativeReport: string[] = [];
  before(function () {
    requireAddon(this);
    if (!binding().resample) {
      // eslint-disable-next-line no-console
      console.log('      (skipped: this LibTorch does not run intra-op work on OpenMP; the addon exports no resample)');
      this.skip();
    }
  });
  after(() => {
    // eslint-disable-next-line no-console
    if (nativeReport.length) console.log(`      max |native - torchaudio| per case:\n${nativeReport.map((l) => `        ${l}`).join('\n')}`);
  });

  for (const c of [...f32Cases(), ...f64Cases()]) {
    it(c.title, () => {
      const r = new Resampler(c.orig, c.next, c.options);
      // Every pair, including those the JavaScript path runs more cheaply (NativeResampler.of's row bound).
      const nat = NativeResampler.of(r, { maxRowRatio: Infinity });
      if (c.orig === c.next) {
        assert.equal(nat, null, 'equal rates: no filter, nothing to run natively');
        return;
      }
      assert.ok(nat, 'every fixture pair\'s dense bank is small enough for the addon');
      // One row at a time: the native path resamples one channel per call.
      const got = rows(c.input).map((row) => nat.resample(row));
      const want = rows(c.output);
      let d = 0;
      got.forEach((g, i) => {
        assert.equal(g.constructor, c.input.data.constructor, 'output keeps the input precision');
        assert.equal(g.length, want[i]!.length, 'output length');
        d = Math.max(d, maxAbsDiff(g, want[i]!));
      });
      nativeReport.push(`${c.title}: ${d.toExponential(2)}`);
      assert.ok(d <= c.tolerance, `max abs diff ${d} > ${c.tolerance}`);
    });
  }

  it('stays within float32 rounding of the JavaScript path, and leaves the pairs it cannot run well to it', () => {
    const x = Float32Array.from({ length: 44100 }, (_, i) => Math.sin(i / 7) * 0.5 + Math.sin(i / 331) * 0.3);
    const js = new Resampler(44100, 16000);
    assert.ok(maxAbsDiff(NativeResampler.of(js)!.resample(x), js.resample(x)) < 2e-6);
    // 383,999 Hz -> 16 kHz: 16,000 phases whose dense rows would span ~384 k taps each.
    assert.equal(NativeResampler.of(new Resampler(383999, 16000), { maxRowRatio: Infinity }), null);
    // 11.025 kHz -> 16 kHz: rows of 455 for ~12 kept taps, where conv1d took as much CPU as JavaScript or more.
    assert.equal(NativeResampler.of(new Resampler(11025, 16000)), null);
    assert.ok(NativeResampler.of(new Resampler(22050, 16000)));
  });
});

describe('audio/resample: Resampler', () => {
  it('reuses one filter bank: many waveforms give what resample() gives for each', () => {
    const c = f32Cases().find((x) => x.orig === 44100 && x.input.shape.length === 1)!;
    const r = new Resampler(44100, 16000);
    const x = c.input.data as Float32Array;
    for (const n of [x.length, 1000, 441, 17, 1]) {
      const part = x.subarray(0, n);
      assert.deepEqual(r.resample(part), resample(part, 44100, 16000));
    }
    assert.ok(maxAbsDiff(r.forward(x) as Float32Array, c.output.data) <= F32_TOLERANCE);
  });

  it('reports torchaudio\'s filter half-width and the output length rule ceil(new*n/orig)', () => {
    // Widths are the `width` torchaudio recorded in the fixture manifest.
    for (const c of manifest.resample.cases) {
      assert.equal(new Resampler(c.orig_freq, c.new_freq, optionsOf(c.params)).width, c.width, c.name);
    }
    const r = new Resampler(44100, 16000);
    assert.equal(r.outputLength(39690), 14400);
    assert.equal(r.outputLength(1), 1);
    assert.equal(r.outputLength(0), 0);
    assert.equal(new Resampler(16000, 16000).outputLength(123), 123);
  });

  it('returns a copy, never the caller\'s array, for equal rates', () => {
    const x = new Float32Array([0.1, 0.2, 0.3]);
    const y = resample(x, 16000, 16000);
    assert.deepEqual(y, x);
    assert.notEqual(y, x);
  });

  it('keeps channels of different lengths apart', () => {
    const a = new Float64Array(441).map((_, i) => Math.sin(i / 7));
    const b = a.subarray(0, 100);
    const [ya, yb] = resample([a, b], 44100, 16000);
    assert.equal(ya!.length, 160);
    assert.equal(yb!.length, Math.ceil((160 * 100) / 441));
    assert.deepEqual(yb, resample(b, 44100, 16000));
  });

  it('gives an empty output for an empty input', () => {
    assert.equal(resample(new Float32Array(0), 44100, 16000).length, 0);
  });

  it('accepts torchaudio\'s old method names', () => {
    const x = new Float32Array(200).map((_, i) => Math.sin(i / 3));
    assert.deepEqual(resample(x, 48000, 16000, { resamplingMethod: 'kaiser_window' as any }), resample(x, 48000, 16000, { resamplingMethod: 'sinc_interp_kaiser' }));
  });
});

describe('audio/resample: arguments torchaudio accepts', () => {
  // x[i] = sin(0.1 i) + 0.5 sin(0.37 i), i < 300, in float64. Expected samples: torchaudio's resample
  // (the transcription in scripts/make_resample_fixtures.py, run in float64), printed with repr().
  const x = Float64Array.from({ length: 300 }, (_, i) => Math.sin(i * 0.1) + 0.5 * Math.sin(i * 0.37));
  const cases: Array<[string, number, number, ResampleOptions, number, Array<[number, number]>]> = [
    ['rolloff above 1 (1.2)', 44100, 16000, { rolloff: 1.2 }, 109,
      [[0, 0.05789558523900191], [7, 1.3140596812234455], [31, 0.8695720489870886], [60, -1.2365494873697294], [108, -1.1931203477142305]]],
    ['lowpassFilterWidth above 1024 (1100)', 16000, 8000, { lowpassFilterWidth: 1100 }, 150,
      [[0, 0.04750396540651479], [7, 0.5376187873375581], [31, -0.48979880406408555], [60, -0.3349553823473824], [149, -1.2457459272209692]]],
    ['a negative Kaiser beta (-8: the window depends on |beta|)', 48000, 16000, { resamplingMethod: 'sinc_interp_kaiser', beta: -8 }, 100,
      [[0, 0.08465590374448365], [7, 1.3614643797468056], [31, 0.19794933286357255], [60, -1.0441749779463774], [99, -1.062066088704354]]],
  ];
  for (const [title, orig, next, options, n, expected] of cases) {
    it(`${title}, as torchaudio computes it`, () => {
      const y = resample(x, orig, next, options);
      assert.equal(y.length, n);
      for (const [i, v] of expected) assert.ok(Math.abs(y[i]! - v) < 1e-12, `sample ${i}: ${y[i]} vs ${v}`);
    });
  }

  it('ignores beta with the Hann window, as torchaudio does', () => {
    assert.deepEqual(resample(x, 44100, 16000, { beta: 8 }), resample(x, 44100, 16000));
    assert.deepEqual(resample(x, 44100, 16000, { resamplingMethod: 'sinc_interp_hann', beta: 500 }), resample(x, 44100, 16000));
  });
});

describe('audio/resample: bad calls', () => {
  const x = new Float32Array(100);
  const bad: Array<[string, () => unknown, RegExp]> = [
    ['a fractional rate', () => resample(x, 44100.5, 16000), /origFreq: expected a positive integer/],
    ['a zero rate', () => resample(x, 44100, 0), /newFreq: expected a positive integer/],
    ['a string rate', () => resample(x, '44100' as any, 16000), /origFreq/],
    ['lowpassFilterWidth 0', () => resample(x, 44100, 16000, { lowpassFilterWidth: 0 }), /lowpassFilterWidth/],
    ['a fractional lowpassFilterWidth', () => resample(x, 44100, 16000, { lowpassFilterWidth: 6.5 }), /lowpassFilterWidth/],
    ['rolloff 0', () => resample(x, 44100, 16000, { rolloff: 0 }), /rolloff/],
    ['rolloff NaN', () => resample(x, 44100, 16000, { rolloff: NaN }), /rolloff/],
    ['a negative rolloff', () => resample(x, 44100, 16000, { rolloff: -0.5 }), /rolloff: expected a positive number/],
    ['a rolloff so large the cut-off overflows', () => resample(x, 44100, 16000, { rolloff: 1e308 }), /rolloff/],
    ['an unknown method', () => resample(x, 44100, 16000, { resamplingMethod: 'linear' as any }), /resamplingMethod/],
    ['a beta that is not a number (even with the hann window)', () => resample(x, 44100, 16000, { beta: '8' as any }), /beta: expected a finite number/],
    ['a Kaiser beta whose float32 I0 overflows (torchaudio: all-zero filters)', () => resample(x, 44100, 16000, { resamplingMethod: 'sinc_interp_kaiser', beta: 89 }), /beta: expected a number within \[-88, 88\]/],
    ['a lowpassFilterWidth whose filter bank is too large', () => resample(x, 44100, 16000, { lowpassFilterWidth: 1e9 }), /filter taps.*smaller lowpassFilterWidth/],
    ['options that are not an object', () => resample(x, 44100, 16000, 6 as any), /options/],
    ['an Int16Array', () => resample(new Int16Array(4) as any, 44100, 16000), /Float32Array or Float64Array/],
    ['a plain array of numbers', () => resample([0.1, 0.2] as any, 44100, 16000), /waveform\[0\]/],
    ['mixed channel precisions', () => resample([new Float32Array(4), new Float64Array(4)] as any, 44100, 16000), /waveform\[1\]/],
    ['no channels', () => resample([], 44100, 16000), /at least one channel/],
    ['a shape that does not match the data', () => resample({ data: new Float32Array(10), shape: [3, 4] }, 44100, 16000), /waveform.data/],
    ['a negative dimension', () => resample({ data: new Float32Array(0), shape: [-1] }, 44100, 16000), /waveform.shape/],
    ['a rate pair that would need a gigantic filter bank', () => resample(x, 9999991, 9999973), /filter taps/],
  ];
  for (const [title, call, message] of bad) {
    it(`rejects ${title} with INVALID_INPUT`, () => throwsCode(call, 'INVALID_INPUT', message));
  }
});
