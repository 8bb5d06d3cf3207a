/**
 * loadAudio / streamAudio on real files made by espeak-ng and sox (scripts/audio-corpus.ts). The expected samples
 * come from sox decoding the same files (and, for MP3, libsndfile through Python's soundfile when present).
 */
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAudio, resample, streamAudio } from '../../lib/audio';
import { maxAbsDiff } from '../../lib/tensor';
import { CORPUS_FILES, type Corpus, soxDecode } from '../../scripts/audio-corpus';
import { requireCorpus } from '../helpers/audio-corpus';
import { codeOf } from '../helpers/errors';
import { requirePython } from '../helpers/python';

const sameSamples = (a: Float32Array[], b: Float32Array[]) => {
  assert.equal(a.length, b.length, 'channel count');
  a.forEach((c, i) => assert.ok(c.length === b[i]!.length && c.every((x, j) => x === b[i]![j]), `channel ${i} differs`));
};

describe('audio/load: every format against sox', function () {
  let corpus: Corpus;
  before(function () {
    corpus = requireCorpus(this);
  });

  // One test per corpus file; the list lives in scripts/audio-corpus.ts.
  for (const f of CORPUS_FILES) {
    const name = f.file;
    it(`${name}: ${f.note}`, async () => {
      const path = join(corpus.dir, name);
      const a = await loadAudio(path);
      assert.equal(a.format, f.format);
      assert.equal(a.sampleRate, f.sampleRate);
      assert.equal(a.channels.length, f.channels);
      if (f.match !== 'none') {
        const ref = soxDecode(path);
        assert.equal(a.channels[0]!.length, ref[0]!.length, 'sample count');
        for (let c = 0; c < f.channels; c++) {
          const d = maxAbsDiff(a.channels[c]!, ref[f.order?.[c] ?? c]!);
          assert.ok(f.match === 'exact' ? d === 0 : d <= f.match, `channel ${c}: max |ours - sox| = ${d}`);
        }
      }
      if (f.sameAs) sameSamples(a.channels, (await loadAudio(join(corpus.dir, f.sameAs))).channels);
    });
  }

  it('returns multichannel Ogg Vorbis in WAV/ffmpeg order, as torchaudio.load does', async () => {
    // ch3 holds [x, 0.5x, -0.25x] in stream order. Vorbis defines 3 channels as L, C, R, so that is L = x, C = 0.5x,
    // R = -0.25x, and the WAV (and ffmpeg) order L, R, C is [x, -0.25x, 0.5x].
    const a = await loadAudio(join(corpus.dir, 'ch3.ogg'));
    const [c0, c1, c2] = a.channels as [Float32Array, Float32Array, Float32Array];
    const dot = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i]!, 0);
    const e0 = dot(c0, c0);
    assert.ok(Math.abs(dot(c0, c1) / e0 + 0.25) < 0.01, `R/L = ${dot(c0, c1) / e0}`);
    assert.ok(Math.abs(dot(c0, c2) / e0 - 0.5) < 0.01, `C/L = ${dot(c0, c2) / e0}`);
  });

  it('decodes FLAC and Ogg FLAC from the reference encoder (seek table, padding) to the source samples', async function () {
    if (!corpus.flacCli || !corpus.oggFlac) {
      // eslint-disable-next-line no-console
      console.log('      (skipped: flac is not installed)');
      this.skip();
    }
    const src = (await loadAudio(corpus.base)).channels;
    const a = await loadAudio(corpus.flacCli!);
    const b = await loadAudio(corpus.oggFlac!);
    assert.equal(a.format, 'flac');
    assert.equal(b.format, 'ogg-flac');
    sameSamples(a.channels, src);
    sameSamples(b.channels, src);
  });

  it('decodes an MP3 like libsndfile (mpg123) does', async function () {
    const py = requirePython(this, ['soundfile', 'numpy']);
    for (const name of ['mono.mp3', 'stereo.mp3'].concat(corpus.lame ? ['lame.mp3'] : [])) {
      const path = name === 'lame.mp3' ? corpus.lame! : join(corpus.dir, name);
      const out = join(mkdtempSync(join(tmpdir(), 'w2v-sf-')), 'ref.f32');
      const r: SpawnSyncReturns<string> = spawnSync(py!, ['-c', `import soundfile as sf, sys; d, sr = sf.read(sys.argv[1], dtype='float32', always_2d=True); open(sys.argv[2], 'wb').write(d.T.copy().tobytes()); print(d.shape[1], d.shape[0], sr)`, path, out], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const [C, n, sr] = r.stdout.trim().split(' ').map(Number) as [number, number, number];
      const raw = readFileSync(out);
      const a = await loadAudio(path);
      assert.deepEqual([a.channels.length, a.channels[0]!.length, a.sampleRate], [C, n, sr], name);
      for (let c = 0; c < C; c++) {
        const ref = new Float32Array(raw.buffer.slice(raw.byteOffset + c * n * 4, raw.byteOffset + (c + 1) * n * 4));
        const d = maxAbsDiff(a.channels[c]!, ref);
        assert.ok(d < 1e-5, `${name} channel ${c}: max |ours - libsndfile| = ${d}`);
      }
    }
  });

  it('trims an MP3 with a LAME header to the length of its source (gapless)', async function () {
    if (!corpus.lame) {
      // eslint-disable-next-line no-console
      console.log('      (skipped: lame is not installed)');
      this.skip();
    }
    const src = (await loadAudio(corpus.base)).channels[0]!;
    const mp3 = (await loadAudio(corpus.lame!)).channels[0]!;
    assert.equal(mp3.length, src.length);
    // ... and aligned with it: the error is smallest with no shift (the encoder delay is removed, not just counted).
    const err = (lag: number) => {
      let s = 0;
      for (let i = 2000; i < src.length - 2000; i++) s += (mp3[i + lag]! - src[i]!) ** 2;
      return s;
    };
    const e0 = err(0);
    for (const lag of [-529, -50, -1, 1, 50, 529, 1105]) assert.ok(e0 < err(lag), `lag ${lag} fits better than 0`);
  });
});

describe('audio/load: inputs, chunking and options', function () {
  let corpus: Corpus;
  before(function () {
    corpus = requireCorpus(this);
  });

  it('gives the same samples from a path, a Buffer, an ArrayBuffer and a Readable, in any chunking', async () => {
    for (const name of ['pcm24.wav', 'pcm16.flac', 'stereo.mp3', 'stereo.ogg']) {
      const path = join(corpus.dir, name);
      const ref = (await loadAudio(path)).channels;
      const buf = readFileSync(path);
      sameSamples((await loadAudio(buf)).channels, ref);
      sameSamples((await loadAudio(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length))).channels, ref);
      sameSamples((await loadAudio(createReadStream(path, { highWaterMark: 1000 }))).channels, ref);
      for (const chunkBytes of [1, 333, 4096]) sameSamples((await loadAudio(buf, { chunkBytes })).channels, ref);
    }
  });

  it('streamAudio yields consecutive chunks that add up to loadAudio', async () => {
    for (const name of ['stereo44k.wav', 'long.flac', 'stereo.mp3', 'stereo.ogg']) {
      const path = join(corpus.dir, name);
      const ref = (await loadAudio(path)).channels;
      const parts: Float32Array[][] = [];
      let expectOffset = 0;
      for await (const chunk of streamAudio(path, { chunkBytes: 8192 })) {
        assert.equal(chunk.offset, expectOffset);
        expectOffset += chunk.channels[0]!.length;
        parts.push(chunk.channels);
      }
      assert.ok(parts.length > 3, `${name}: ${parts.length} chunks`);
      const joined = ref.map((_, c) => Float32Array.from(parts.flatMap((p) => [...p[c]!])));
      sameSamples(joined, ref);
    }
  });

  it('detects the format from the content, not the file name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'w2v-ext-'));
    const liar = join(dir, 'really-flac.wav');
    writeFileSync(liar, readFileSync(join(corpus.dir, 'pcm16.flac')));
    const a = await loadAudio(liar);
    assert.equal(a.format, 'flac');
  });

  it('mono averages the channels; channel picks one', async () => {
    const path = join(corpus.dir, 'stereo44k.wav');
    const [l, r] = (await loadAudio(path)).channels as [Float32Array, Float32Array];
    const mono = await loadAudio(path, { mono: true });
    assert.equal(mono.channels.length, 1);
    assert.deepEqual(mono.channels[0], l.map((x, i) => (x + r[i]!) / 2));
    assert.deepEqual(mono.source, { channels: 2, sampleRate: 44100 });
    assert.deepEqual((await loadAudio(path, { channel: 1 })).channels, [r]);
    // mono of a mono file is the file
    const one = join(corpus.dir, 'pcm16.wav');
    sameSamples((await loadAudio(one, { mono: true })).channels, (await loadAudio(one)).channels);
  });

  it('sampleRate resamples with torchaudio\'s resample', async () => {
    const path = join(corpus.dir, 'stereo44k.flac');
    const a = await loadAudio(path);
    const b = await loadAudio(path, { sampleRate: 16000, mono: true });
    assert.equal(b.sampleRate, 16000);
    assert.deepEqual(b.source, { channels: 2, sampleRate: 44100 });
    sameSamples(b.channels, [resample(a.channels[0]!.map((x, i) => (x + a.channels[1]![i]!) / 2), 44100, 16000)]);
    const k = await loadAudio(path, { sampleRate: 16000, channel: 0, resample: { resamplingMethod: 'sinc_interp_kaiser', lowpassFilterWidth: 16, rolloff: 0.85 } });
    sameSamples(k.channels, [resample(a.channels[0]!, 44100, 16000, { resamplingMethod: 'sinc_interp_kaiser', lowpassFilterWidth: 16, rolloff: 0.85 })]);
  });
});

describe('audio/load: tags and trailing bytes', function () {
  let corpus: Corpus;
  before(function () {
    corpus = requireCorpus(this);
  });
  const id3v1 = Buffer.concat([Buffer.from('TAG'), Buffer.alloc(125, 0x20)]);
  const ape = () => {
    const items = Buffer.from('\x05\x00\x00\x00\x00\x00\x00\x00Title\x00hello', 'latin1');
    const footer = Buffer.alloc(32);
    footer.write('APETAGEX', 0, 'latin1');
    footer.writeUInt32LE(2000, 8);
    footer.writeUInt32LE(items.length + 32, 12);
    footer.writeUInt32LE(1, 16);
    return Buffer.concat([items, footer]);
  };

  it('decodes FLAC and MP3 followed by ID3v1 and APEv2 tags in full', async () => {
    for (const name of ['pcm16.flac', 'long.flac', 'mono.mp3']) {
      const b = readFileSync(join(corpus.dir, name));
      const ref = (await loadAudio(b)).channels;
      for (const tail of [id3v1, ape(), Buffer.concat([ape(), id3v1])]) {
        for (const chunkBytes of [1000, 1 << 20]) sameSamples((await loadAudio(Buffer.concat([b, tail]), { chunkBytes })).channels, ref);
      }
    }
  });

  it('refuses FLAC with unknown bytes after the last frame (its last frame would be lost)', async () => {
    const b = Buffer.concat([readFileSync(join(corpus.dir, 'pcm16.flac')), Buffer.from('0123456789')]);
    await assert.rejects(loadAudio(b), codeOf('AUDIO_DECODE_FAILED', /declares 62873 samples per channel but 61440/));
  });

  it('decodes the whole frames of a cut MP3 or Ogg Vorbis file, and refuses a cut FLAC file', async () => {
    const cut = (name: string) => {
      const b = readFileSync(join(corpus.dir, name));
      return b.subarray(0, b.length - 3000);
    };
    const full = async (name: string) => (await loadAudio(join(corpus.dir, name))).channels[0]!;
    for (const name of ['mono.mp3', 'mono.ogg']) {
      const part = (await loadAudio(cut(name))).channels[0]!;
      const whole = await full(name);
      assert.ok(part.length > 0 && part.length < whole.length, `${name}: ${part.length} of ${whole.length}`);
    }
    await assert.rejects(loadAudio(cut('pcm16.flac')), codeOf('AUDIO_DECODE_FAILED', /damaged or truncated/));
  });
});

describe('audio/load: bad input', function () {
  let corpus: Corpus;
  let dir: string;
  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'w2v-bad-'));
  });

  it('refuses a missing file with AUDIO_READ_FAILED', () => assert.rejects(loadAudio(join(dir, 'nope.wav')), codeOf('AUDIO_READ_FAILED', /no such file/)));
  it('refuses a directory with AUDIO_READ_FAILED', () => assert.rejects(loadAudio(dir), codeOf('AUDIO_READ_FAILED', /not a file/)));
  it('refuses an empty file with AUDIO_EMPTY', () => {
    writeFileSync(join(dir, 'empty.wav'), '');
    return assert.rejects(loadAudio(join(dir, 'empty.wav')), codeOf('AUDIO_EMPTY', /0 bytes/));
  });
  it('refuses text with AUDIO_UNSUPPORTED_FORMAT', () => assert.rejects(loadAudio(Buffer.from('hello, this is not audio at all')), codeOf('AUDIO_UNSUPPORTED_FORMAT', /not WAV, FLAC, MP3 or Ogg Vorbis/)));
  it('names a recognised but unsupported format (Ogg Opus)', () => {
    const page = Buffer.alloc(27 + 1 + 19);
    page.write('OggS', 0, 'latin1');
    page[5] = 2;
    page[26] = 1;
    page[27] = 19;
    page.write('OpusHead', 28, 'latin1');
    return assert.rejects(loadAudio(page), codeOf('AUDIO_UNSUPPORTED_FORMAT', /Ogg Opus/));
  });
  it('names MP4/M4A', () => assert.rejects(loadAudio(Buffer.from('\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00', 'latin1')), codeOf('AUDIO_UNSUPPORTED_FORMAT', /MP4/)));

  describe('with real files', function () {
    before(function () {
      corpus = requireCorpus(this);
    });
    it('names AIFF and ADPCM WAV as unsupported', async () => {
      await assert.rejects(loadAudio(corpus.unsupported.find((f) => f.endsWith('.aiff'))!), codeOf('AUDIO_UNSUPPORTED_FORMAT', /AIFF/));
      await assert.rejects(loadAudio(corpus.unsupported.find((f) => f.endsWith('adpcm.wav'))!), codeOf('AUDIO_UNSUPPORTED_FORMAT', /ADPCM/));
    });
    it('refuses a FLAC file with damaged frames with AUDIO_DECODE_FAILED', async () => {
      const b = Buffer.from(readFileSync(join(corpus.dir, 'pcm16.flac')));
      for (let i = 20000; i < 20400; i++) b[i] = (b[i]! * 31 + 7) & 0xff;
      await assert.rejects(loadAudio(b), codeOf('AUDIO_DECODE_FAILED', /FLAC/));
    });
    it('refuses a channel the file does not have', () =>
      assert.rejects(loadAudio(join(corpus.dir, 'pcm16.wav'), { channel: 1 }), codeOf('INVALID_INPUT', /it has 1: 0..0/)));
  });

  const badOptions: Array<[string, unknown, unknown, RegExp]> = [
    ['a number as input', 42, undefined, /input: expected a file path/],
    ['null as input', null, undefined, /input/],
    ['an empty path', '', undefined, /input/],
    ['options that are not an object', Buffer.alloc(4), 'mono', /options: expected an object/],
    ['mono that is not boolean', Buffer.alloc(4), { mono: 1 }, /mono/],
    ['a negative channel', Buffer.alloc(4), { channel: -1 }, /channel/],
    ['mono and channel together', Buffer.alloc(4), { mono: true, channel: 0 }, /either mono or channel/],
    ['a fractional sampleRate', Buffer.alloc(4), { sampleRate: 16000.5 }, /sampleRate/],
    ['chunkBytes 0', Buffer.alloc(4), { chunkBytes: 0 }, /chunkBytes/],
  ];
  for (const [title, input, options, pattern] of badOptions) {
    it(`refuses ${title} with INVALID_INPUT`, () => assert.rejects(loadAudio(input as any, options as any), codeOf('INVALID_INPUT', pattern)));
  }
  it('refuses a stream of strings with INVALID_INPUT', () =>
    assert.rejects(loadAudio((async function* () { yield 'RIFF' as any; })()), codeOf('INVALID_INPUT', /byte stream/)));
  it('refuses resampling options in streamAudio', () =>
    assert.rejects(streamAudio(Buffer.alloc(4), { sampleRate: 16000 } as any).next(), codeOf('INVALID_INPUT', /no sampleRate or resample/)));
});
