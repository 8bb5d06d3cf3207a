/**
 * The audio stage against the loader it replaces for the Recognizer and the batch job: the same samples, bit for bit,
 * for every format of the corpus; its pool (results, cancellation, close, no handle left behind); its filter cache.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AudioPool, checkBudget, decodeToRate, resamplerCacheStats, cachedResampler } from '../../../lib/pipeline/audio';
import { Resampler } from '../../../lib/audio';
import { NativeResampler } from '../../../lib/audio/resample-native';
import { binding, hasBinding } from '../../../lib/model/native';
import { maxAbsDiff } from '../../../lib/tensor';
import { loadForModel } from '../../../lib/pipeline/transcribe';
import type { Model } from '../../../lib/model/model';
import { requireCorpus, wavBytes } from '../../helpers/audio-corpus';
import { flacBomb } from '../../helpers/bombs';
import { codeOf } from '../../helpers/errors';

const at16k = { sampleRate: 16000 } as Model; // loadForModel reads only the rate
const budget = checkBudget({});

async function inThread(input: string | Uint8Array, targetRate: number): Promise<{ samples: Float32Array; sourceRate: number }> {
  const parts: Float32Array[] = [];
  let sourceRate = 0;
  for await (const c of decodeToRate({ input, targetRate, budget })) {
    parts.push(c.samples);
    sourceRate = c.sourceRate;
  }
  return { samples: Float32Array.from(parts.flatMap((p) => [...p])), sourceRate };
}

function sameSamples(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) assert.fail(`${what}: sample ${i} is ${got[i]}, loadForModel gives ${want[i]}`);
  }
}

describe('pipeline/audio: the same samples as loadForModel', function () {
  let files: string[] = [];
  const pool = new AudioPool({ size: 2 });
  before(function () {
    const corpus = requireCorpus(this);
    files = [...corpus.files.map((f) => join(corpus.dir, f.file)), corpus.lame, corpus.flacCli, corpus.oggFlac].filter((f): f is string => !!f);
  });
  after(() => pool.close());

  it('every corpus file (WAV variants, FLAC, Ogg FLAC, MP3, Vorbis; mono to 3 channels; 16-44.1 kHz), through the pool and in-thread', async () => {
    for (const file of files) {
      const want = await loadForModel(at16k, file);
      const got = await pool.decode({ input: file, targetRate: 16000, budget });
      sameSamples(got.samples, want.samples, `${file} (pool)`);
      assert.equal(got.sourceRate, want.sourceRate);
      const bytes = readFileSync(file);
      sameSamples((await inThread(bytes, 16000)).samples, want.samples, `${file} (in-thread, Buffer)`);
    }
  });

  it('streamed in pieces, the samples add up to the whole', async () => {
    const file = files.find((f) => f.endsWith('long.flac'))!;
    const want = await loadForModel(at16k, file);
    const parts: Float32Array[] = [];
    for await (const c of pool.stream({ input: file, targetRate: 16000, budget })) parts.push(c.samples);
    assert.ok(parts.length > 1, 'more than one piece');
    sameSamples(Float32Array.from(parts.flatMap((p) => [...p])), want.samples, 'long.flac streamed');
  });

  it('an odd rate inside the range (383,999 Hz) and the range\'s ends (8 and 384 kHz)', async () => {
    for (const rate of [383999, 8000, 384000]) {
      const x = Int16Array.from({ length: Math.round(rate * 0.7) }, (_, i) => Math.round(9000 * Math.sin(i / 13) * Math.cos(i / 1000)));
      const bytes = wavBytes(x, rate);
      const got = await pool.decode({ input: bytes, targetRate: 16000, budget });
      sameSamples(got.samples, (await loadForModel(at16k, bytes)).samples, `${rate} Hz`);
    }
  });

  it('resamples with the addon where it is built: the pool\'s samples are the native path\'s, not the JavaScript one\'s', async function () {
    if (!hasBinding() || !binding().resample) this.skip();
    const x = Int16Array.from({ length: 44100 * 2 }, (_, i) => Math.round(8000 * Math.sin(i / 9) + 3000 * Math.sin(i / 1.7)));
    const got = await pool.decode({ input: wavBytes(x, 44100), targetRate: 16000, budget });
    const mono = Float32Array.from(x, (v) => v / 32768);
    sameSamples(got.samples, NativeResampler.of(cachedResampler(44100, 16000))!.resample(mono), 'pool vs NativeResampler');
    const js = new Resampler(44100, 16000).resample(mono);
    assert.ok(maxAbsDiff(got.samples, js) > 0 && maxAbsDiff(got.samples, js) < 2e-6, 'differs from the JavaScript path by float32 rounding only');
  });

  it('FLAC frames are never lost between decoder calls (29 s FLAC at its own rate; byte slices of 1 KiB lost 2,042 samples)', async () => {
    const file = files.find((f) => f.endsWith('long.flac'))!;
    const want = await loadForModel({ sampleRate: 22050 } as Model, file);
    sameSamples((await inThread(file, 22050)).samples, want.samples, 'long.flac at its own rate');
  });
});

describe('pipeline/audio: lengths declared in headers', function () {
  it('an MP3 whose Xing/Info tag declares 10 M frames (72 h at 22.05 kHz) is refused before decoding', async function () {
    const corpus = requireCorpus(this);
    if (!corpus.lame) this.skip();
    const bytes = Buffer.from(readFileSync(corpus.lame!));
    const at = Math.max(bytes.indexOf('Xing'), bytes.indexOf('Info'));
    assert.ok(at > 0 && (bytes.readUInt32BE(at + 4) & 1) === 1, 'the lame MP3 has a Xing/Info tag with a frame count');
    const frames = bytes.readUInt32BE(at + 8);
    const short = checkBudget({ maxSeconds: 600 });
    // As written, it declares its true length and decodes.
    assert.ok((await pool().decode({ input: bytes, targetRate: 16000, budget: short })).samples.length > 0);
    bytes.writeUInt32BE(10_000_000, at + 8);
    await assert.rejects(pool().decode({ input: bytes, targetRate: 16000, budget: short }), codeOf('INPUT_TOO_LONG', /header declares \d+\.\d s/));
    assert.ok(frames < 10_000_000);
  });

  it('a FLAC whose STREAMINFO declares more than the limit is refused; one that declares 0 (unknown) is counted', async () => {
    const limit = checkBudget({ maxSeconds: 10 });
    await assert.rejects(pool().decode({ input: flacBomb({ seconds: 11 }), targetRate: 16000, budget: limit }), codeOf('INPUT_TOO_LONG', /header declares 11\.0 s/));
    await assert.rejects(pool().decode({ input: flacBomb({ seconds: 11, declareTotal: false }), targetRate: 16000, budget: limit }), codeOf('INPUT_TOO_LONG', /decoding stopped at/));
    assert.equal((await pool().decode({ input: flacBomb({ seconds: 9, declareTotal: false }), targetRate: 16000, budget: limit })).samples.length, 9 * 16000);
  });
});

let shared: AudioPool | null = null;
/** One pool for the tests that do not look at the pool itself. */
function pool(): AudioPool {
  return (shared ??= new AudioPool({ size: 1 }));
}
after(() => shared?.close());

describe('pipeline/audio: the worker pool', function () {
  it('a consumer that stops early frees its worker for the next input', async () => {
    const pool = new AudioPool({ size: 1 });
    try {
      for await (const _ of pool.stream({ input: flacBomb({ seconds: 600, value: 9 }), targetRate: 16000, budget })) break;
      const r = await pool.decode({ input: flacBomb({ seconds: 2, value: 9 }), targetRate: 16000, budget });
      assert.equal(r.samples.length, 32000);
      assert.equal(pool.workers, 1);
    } finally {
      await pool.close();
    }
  });

  it('each input gets its own coded error; the worker carries on', async () => {
    const pool = new AudioPool({ size: 1 });
    try {
      await assert.rejects(pool.decode({ input: '/nonexistent/a.wav', targetRate: 16000, budget }), codeOf('AUDIO_READ_FAILED', /no such file/));
      await assert.rejects(pool.decode({ input: Buffer.from('not audio at all, just text'), targetRate: 16000, budget }), codeOf('AUDIO_UNSUPPORTED_FORMAT'));
      assert.equal((await pool.decode({ input: flacBomb({ seconds: 1, value: 3 }), targetRate: 16000, budget })).samples.length, 16000);
    } finally {
      await pool.close();
    }
  });

  it('an aborted decode stops and rejects with ABORTED; the worker takes the next input', async () => {
    const pool = new AudioPool({ size: 1 });
    try {
      await pool.start();
      const ac = new AbortController();
      // 10 min of a constant FLAC without a limit: long enough to be stopped in the middle.
      const long = pool.decode({ input: flacBomb({ seconds: 3600, declareTotal: false, value: 5 }), targetRate: 16000, budget }, ac.signal);
      setTimeout(() => ac.abort(), 30);
      await assert.rejects(long, codeOf('ABORTED'));
      const t0 = performance.now();
      assert.equal((await pool.decode({ input: flacBomb({ seconds: 1, value: 3 }), targetRate: 16000, budget })).samples.length, 16000);
      assert.ok(performance.now() - t0 < 2000, 'the next input did not wait for the whole hour to be decoded');
    } finally {
      await pool.close();
    }
  });

  it('after close(), inputs fail with DISPOSED', async () => {
    const pool = new AudioPool({ size: 1 });
    await pool.decode({ input: flacBomb({ seconds: 1 }), targetRate: 16000, budget });
    await pool.close();
    assert.equal(pool.workers, 0);
    await assert.rejects(pool.decode({ input: flacBomb({ seconds: 1 }), targetRate: 16000, budget }), codeOf('DISPOSED'));
  });

  it('an idle pool does not keep the process alive (no close())', function () {
    this.timeout(30000);
    const script = `const { AudioPool, checkBudget } = require(${JSON.stringify(join(__dirname, '../../../lib/pipeline/audio'))});
      new AudioPool({ size: 1 }).decode({ input: '/nonexistent.wav', targetRate: 16000, budget: checkBudget({}) }).catch((e) => console.log(e.code));`;
    const r = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], { encoding: 'utf8', timeout: 20000, cwd: join(__dirname, '../../..') });
    assert.equal(r.signal, null, 'killed by the timeout: something kept the process alive');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'AUDIO_READ_FAILED');
  });

  it('a worker that dies (out of memory for real: a 4 MB JS heap) fails only its input, with a coded error, and is replaced', async () => {
    const pool = new AudioPool({ size: 1, resourceLimits: { maxOldGenerationSizeMb: 4, maxYoungGenerationSizeMb: 1 } });
    try {
      await pool.start(); // settles when the worker dies, too
      assert.equal(pool.workers, 0, 'the dead worker is gone');
      for (let i = 0; i < 2; i++) {
        await assert.rejects(pool.decode({ input: flacBomb({ seconds: 1 }), targetRate: 16000, budget }),
          codeOf('AUDIO_DECODE_FAILED', /the audio worker decoding it stopped \(it threw Worker terminated due to reaching memory limit/));
        assert.equal(pool.workers, 0, 'each input got a new worker, which died too');
      }
    } finally {
      await pool.close();
    }
  });

  it('refuses a bad size', () => {
    assert.throws(() => new AudioPool({ size: 0 }), codeOf('INVALID_INPUT', /audio workers/));
  });
});

describe('pipeline/audio: the resampling filter cache', function () {
  it('one filter per reduced rate pair, the same samples as a Resampler of the unreduced pair', () => {
    const x = Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i / 7) * 0.5);
    const a = cachedResampler(44100, 16000);
    assert.equal(cachedResampler(88200, 32000), a, '44.1 -> 16 and 88.2 -> 32 kHz share a filter');
    assert.deepEqual(a.resample(x), new Resampler(44100, 16000).resample(x));
    assert.ok(resamplerCacheStats().keys.includes('441/160'));
  });

  it('keeps the most recently used within its budget', () => {
    for (const r of [8000, 11025, 22050, 24000, 32000, 44100, 48000, 96000, 12000, 16001]) cachedResampler(r, 16000);
    const s = resamplerCacheStats();
    assert.ok(s.entries <= 8);
    assert.ok(s.taps <= 8 * 1024 * 1024);
    assert.equal(s.keys[s.keys.length - 1], '16001/16000');
    assert.ok(!s.keys.includes('1/2'), 'the least recently used (8 kHz) went first');
  });
});
