/**
 * WAV decoding on hand-made bytes: the scale of every sample format (torchaudio.load's: v / 2^(bits-1)), the
 * container variants, and damaged headers. Needs no external tool.
 */
import assert from 'node:assert/strict';
import { loadAudio } from '../../lib/audio';
import type { ErrorCode } from '../../lib/errors';
import { buildWav, wavBytes } from '../helpers/audio-corpus';
import { codeOf } from '../helpers/errors';

const le = (values: number[], bytes: number, signed = true): Uint8Array => {
  const out = Buffer.alloc(values.length * bytes);
  values.forEach((v, i) => (signed ? out.writeIntLE(v, i * bytes, bytes) : out.writeUIntLE(v, i * bytes, bytes)));
  return out;
};

async function decode(bytes: Uint8Array, chunkBytes?: number) {
  return loadAudio(bytes, chunkBytes ? { chunkBytes } : undefined);
}

describe('audio/wav: sample formats', () => {
  // Extremes and a few values in between; the expected floats are v / 2^(bits-1), as torchaudio.load gives them.
  const cases: Array<[string, number, number[], number, boolean?]> = [
    ['16-bit', 16, [-32768, -1, 0, 1, 12345, 32767], 32768],
    ['24-bit', 24, [-8388608, -1, 0, 1, 4321234, 8388607], 8388608],
    ['32-bit', 32, [-2147483648, -1, 0, 1, 123456789, 2147483647], 2147483648],
  ];
  for (const [name, bits, ints, scale] of cases) {
    for (const extensible of [false, true]) {
      it(`decodes ${name} PCM${extensible ? ' in WAVE_FORMAT_EXTENSIBLE' : ''} as v / 2^${bits - 1}`, async () => {
        const a = await decode(buildWav({ bits, data: le(ints, bits / 8), extensible }));
        assert.equal(a.format, 'wav');
        assert.deepEqual([...a.channels[0]!], ints.map((v) => Math.fround(v / scale)));
      });
    }
  }

  it('decodes 8-bit PCM as unsigned: (u - 128) / 128', async () => {
    const a = await decode(buildWav({ bits: 8, data: Uint8Array.from([0, 1, 127, 128, 129, 255]) }));
    assert.deepEqual([...a.channels[0]!], [-1, -127 / 128, -1 / 128, 0, 1 / 128, 127 / 128].map(Math.fround));
  });

  it('decodes 32- and 64-bit float samples unchanged (64-bit rounded to float32)', async () => {
    const v = [-1, -0.5, 0, 1e-7, 0.25, 1, 1.5];
    const f32 = new Uint8Array(new Float32Array(v).buffer);
    const f64 = new Uint8Array(new Float64Array([...v, Math.PI]).buffer);
    assert.deepEqual([...(await decode(buildWav({ code: 3, bits: 32, data: f32 }))).channels[0]!], v.map(Math.fround));
    assert.deepEqual([...(await decode(buildWav({ code: 3, bits: 64, data: f64, extensible: true }))).channels[0]!], [...v, Math.PI].map(Math.fround));
  });

  it('decodes G.711 µ-law and A-law with the standard expansion tables', async () => {
    // ITU-T G.711 reference points: µ-law 0x00 -> -32124, 0x80 -> 32124, 0xFF -> 0; A-law 0xD5 -> 8, 0x2A -> -32256.
    const mu = await decode(buildWav({ code: 7, bits: 8, data: Uint8Array.from([0x00, 0x80, 0xff, 0x7f]) }));
    assert.deepEqual([...mu.channels[0]!], [-32124, 32124, 0, 0].map((v) => v / 32768));
    const a = await decode(buildWav({ code: 6, bits: 8, data: Uint8Array.from([0xd5, 0x2a, 0x55]) }));
    assert.deepEqual([...a.channels[0]!], [8, -32256, -8].map((v) => v / 32768));
  });

  it('de-interleaves channels', async () => {
    const a = await decode(buildWav({ channels: 3, data: le([1, 2, 3, 4, 5, 6], 2) }));
    assert.deepEqual(a.channels.map((c) => [...c].map((x) => x * 32768)), [[1, 4], [2, 5], [3, 6]]);
  });
});

describe('audio/wav: wavBytes (the test helper other suites write WAV files with)', () => {
  it('writes Int16Array samples as 16-bit PCM, interleaved channels', async () => {
    const a = await decode(wavBytes(Int16Array.from([1, -2, 3, -4, 32767, -32768]), 8000, 2));
    assert.equal(a.sampleRate, 8000);
    assert.deepEqual(a.channels.map((c) => [...c].map((x) => x * 32768)), [[1, 3, 32767], [-2, -4, -32768]]);
  });

  it('writes Float32Array samples as 32-bit float, unchanged', async () => {
    const x = Float32Array.from([0.5, -0.25, 1e-3, -1]);
    const a = await decode(wavBytes(x.subarray(1)));
    assert.equal(a.sampleRate, 16000);
    assert.deepEqual(a.channels, [x.subarray(1)]);
  });

  it('refuses samples that do not make whole frames', () => {
    assert.throws(() => wavBytes(new Int16Array(3), 16000, 2), /whole frames/);
  });
});

describe('audio/wav: container', () => {
  const samples = le([100, -200, 300, -400, 500], 2);
  const expected = [100, -200, 300, -400, 500].map((v) => v / 32768);

  it('gives the same samples for any chunking of the input', async () => {
    const bytes = buildWav({ data: samples, extra: [['LIST', Buffer.from('INFOISFT\x05\x00\x00\x00sox!\x00\x00', 'latin1')]] });
    for (const chunk of [1, 2, 3, 7, 13, bytes.length]) {
      assert.deepEqual([...(await decode(bytes, chunk)).channels[0]!], expected, `chunkBytes ${chunk}`);
    }
  });

  it('skips chunks between fmt and data, including odd-sized ones with their pad byte', async () => {
    const a = await decode(buildWav({ data: samples, extra: [['junk', Uint8Array.from([1, 2, 3])], ['fact', le([5], 4)]] }));
    assert.deepEqual([...a.channels[0]!], expected);
  });

  it('stops at the declared data size (a chunk after the audio is not read as samples)', async () => {
    const bytes = buildWav({ data: samples });
    const withTrailer = Buffer.concat([bytes, Buffer.from('LIST\x04\x00\x00\x00abcd', 'latin1')]);
    assert.deepEqual([...(await decode(withTrailer)).channels[0]!], expected);
  });

  it('reads to the end when the data size is 0xFFFFFFFF, or 0 with an unknown RIFF size (written by a streaming encoder)', async () => {
    assert.deepEqual([...(await decode(buildWav({ data: samples, dataSize: 0xffffffff }))).channels[0]!], expected);
    for (const riffSize of [0, 0xffffffff]) {
      for (const dataSize of [0, 0xffffffff]) {
        assert.deepEqual([...(await decode(buildWav({ data: samples, dataSize, riffSize }))).channels[0]!], expected, `RIFF size ${riffSize}, data size ${dataSize}`);
      }
    }
  });

  it('takes a data size of 0 in a finished file (a real RIFF size) as empty: a chunk after it is not read as samples', async () => {
    const list: [string, Uint8Array] = ['LIST', Buffer.from('INFOISFT\x05\x00\x00\x00sox!\x00\x00', 'latin1')];
    const bytes = buildWav({ data: new Uint8Array(0), after: [list] });
    for (const chunkBytes of [1, 7, bytes.length]) {
      await assert.rejects(decode(bytes, chunkBytes), codeOf('AUDIO_EMPTY', /no audio samples/), `chunkBytes ${chunkBytes}`);
    }
    // The same file written by a streaming encoder (RIFF size unknown) reads on, as above.
    await assert.doesNotReject(decode(buildWav({ data: samples, dataSize: 0, riffSize: 0, after: [list] })));
  });

  it('decodes what is there when the data chunk is cut short, dropping a partial frame', async () => {
    const bytes = buildWav({ data: samples });
    const a = await decode(bytes.subarray(0, bytes.length - 3));
    assert.deepEqual([...a.channels[0]!], expected.slice(0, 3));
  });

  it('reads RF64: the data size comes from the ds64 chunk', async () => {
    const plain = Buffer.from(buildWav({ data: samples }));
    const fmt = plain.subarray(12, 12 + 8 + 16); // "fmt " chunk as is
    const ds64 = Buffer.alloc(8 + 28);
    ds64.write('ds64', 0, 'latin1');
    ds64.writeUInt32LE(28, 4);
    ds64.writeBigUInt64LE(0n, 8); // RIFF size: unused
    ds64.writeBigUInt64LE(BigInt(samples.length), 16); // data size
    ds64.writeBigUInt64LE(5n, 24); // sample count
    const data = Buffer.alloc(8);
    data.write('data', 0, 'latin1');
    data.writeUInt32LE(0xffffffff, 4);
    const trailer = Buffer.from('LIST\x04\x00\x00\x00abcd', 'latin1');
    const head = Buffer.from('RF64\xff\xff\xff\xffWAVE', 'latin1');
    const rf64 = Buffer.concat([head, ds64, fmt, data, samples, trailer]);
    for (const chunkBytes of [1, 5, rf64.length]) assert.deepEqual([...(await decode(rf64, chunkBytes)).channels[0]!], expected);
  });

  it('reports the rate and format from the header', async () => {
    const a = await decode(buildWav({ sampleRate: 44100, data: samples }));
    assert.equal(a.sampleRate, 44100);
    assert.deepEqual(a.source, { channels: 1, sampleRate: 44100 });
  });
});

describe('audio/wav: bad files', () => {
  const good = buildWav({ data: le([1, 2, 3], 2) });
  const bad: Array<[string, () => Uint8Array, ErrorCode, RegExp]> = [
    ['a file shorter than a WAV header', () => good.subarray(0, 10), 'AUDIO_UNSUPPORTED_FORMAT', /not WAV, FLAC, MP3 or Ogg Vorbis/],
    ['a header with no fmt chunk', () => good.subarray(0, 12), 'AUDIO_DECODE_FAILED', /before its fmt chunk/],
    ['a header that ends inside the fmt chunk', () => good.subarray(0, 30), 'AUDIO_DECODE_FAILED', /before its fmt chunk/],
    ['a file that ends before the data chunk', () => good.subarray(0, 36), 'AUDIO_DECODE_FAILED', /before its data chunk/],
    ['an empty data chunk', () => buildWav({ data: new Uint8Array(0), dataSize: 2 }).subarray(0, 44), 'AUDIO_EMPTY', /no audio samples/],
    ['0 channels', () => buildWav({ channels: 0, blockAlign: 2, data: le([1], 2) }), 'AUDIO_DECODE_FAILED', /0 channels/],
    ['a sample rate of 0', () => buildWav({ sampleRate: 0, data: le([1], 2) }), 'AUDIO_DECODE_FAILED', /0 Hz/],
    ['a block size that does not match the sample size', () => buildWav({ blockAlign: 3, data: le([1, 2, 3], 2) }), 'AUDIO_DECODE_FAILED', /block size/],
    ['40-bit PCM', () => buildWav({ bits: 40, data: new Uint8Array(10) }), 'AUDIO_DECODE_FAILED', /40-bit/],
    ['16-bit float', () => buildWav({ code: 3, bits: 16, data: new Uint8Array(4) }), 'AUDIO_DECODE_FAILED', /16-bit samples are not valid for float/],
    ['Microsoft ADPCM', () => buildWav({ code: 2, bits: 4, blockAlign: 1, data: new Uint8Array(4) }), 'AUDIO_UNSUPPORTED_FORMAT', /Microsoft ADPCM/],
    ['an unknown format code', () => buildWav({ code: 0x1234, data: new Uint8Array(4) }), 'AUDIO_UNSUPPORTED_FORMAT', /0x1234/],
    ['a data chunk before the fmt chunk', () => {
      const b = Buffer.from(good);
      b.write('data', 12, 'latin1'); // swap the two chunk ids: the first chunk is now "data"
      return b;
    }, 'AUDIO_DECODE_FAILED', /before the fmt chunk|two fmt/],
    ['a NaN sample in a float file', () => buildWav({ code: 3, bits: 32, data: new Uint8Array(new Float32Array([0.5, NaN]).buffer) }), 'AUDIO_DECODE_FAILED', /sample 1 of channel 0 is NaN/],
    ['big-endian RIFX', () => Buffer.concat([Buffer.from('RIFX'), good.subarray(4)]), 'AUDIO_UNSUPPORTED_FORMAT', /RIFX/],
  ];
  for (const [title, make, code, pattern] of bad) {
    it(`refuses ${title} with ${code}`, () => assert.rejects(decode(make()), codeOf(code, pattern)));
  }
});
