import { type Corpus, makeAudioCorpus, missingTools } from '../../scripts/audio-corpus';

let cached: Corpus | undefined;

/** Call in a before(): makes (once) the espeak-ng/sox corpus, or skips the suite saying which tools are missing. */
export function requireCorpus(ctx: Mocha.Context): Corpus {
  if (cached) return cached;
  const missing = missingTools();
  if (missing.length) {
    // eslint-disable-next-line no-console
    console.log(`      (skipped: needs ${missing.join(', ')} to make test audio; apt-get install espeak-ng sox libsox-fmt-all)`);
    ctx.skip();
  }
  ctx.timeout(60000);
  cached = makeAudioCorpus();
  return cached;
}

/**
 * A WAV file of `samples`, for tests that need audio without any tool: Int16Array gives 16-bit PCM, Float32Array
 * 32-bit IEEE float. Several channels are interleaved (`samples[i * channels + c]` is channel c of frame i).
 * `loadAudio` gives back `v / 32768` for each Int16 value and the floats unchanged.
 *
 *   writeFileSync('tone.wav', wavBytes(Int16Array.from(x, (v) => Math.round(v * 32767)), 16000));
 */
export function wavBytes(samples: Int16Array | Float32Array, sampleRate = 16000, channels = 1): Uint8Array {
  if (!(samples instanceof Int16Array || samples instanceof Float32Array)) throw new TypeError('wavBytes: samples must be an Int16Array or a Float32Array');
  if (!Number.isInteger(channels) || channels < 1 || samples.length % channels !== 0) {
    throw new RangeError(`wavBytes: ${samples.length} samples do not make whole frames of ${channels} channel(s)`);
  }
  const float = samples instanceof Float32Array;
  // Little-endian bytes of the samples (copied: `samples` may be a view at an odd offset).
  const data = new Uint8Array(samples.byteLength);
  const dv = new DataView(data.buffer);
  for (let i = 0; i < samples.length; i++) {
    if (float) dv.setFloat32(i * 4, samples[i]!, true);
    else dv.setInt16(i * 2, samples[i]!, true);
  }
  return buildWav({ code: float ? 3 : 1, bits: float ? 32 : 16, sampleRate, channels, data });
}

/**
 * A RIFF/WAVE file laid out field by field around raw sample bytes `data`, for tests that need exact (or damaged)
 * headers. Every field defaults to what `data` needs: 16-bit PCM, mono, 16 kHz, sizes that match.
 */
export function buildWav(o: {
  /** Format code (1 PCM, 3 float, 6 A-law, 7 µ-law, ...). */
  code?: number;
  channels?: number;
  sampleRate?: number;
  bits?: number;
  data: Uint8Array;
  /** Write a 40-byte WAVE_FORMAT_EXTENSIBLE fmt chunk, with `code` in its SubFormat GUID. */
  extensible?: boolean;
  /** Value written in the data chunk's size field (default: data.length). */
  dataSize?: number;
  /** Value written in the RIFF header's size field (default: the real size). */
  riffSize?: number;
  /** Chunks placed between fmt and data. */
  extra?: Array<[string, Uint8Array]>;
  /** Chunks placed after data (e.g. a LIST chunk, as some editors write). */
  after?: Array<[string, Uint8Array]>;
  blockAlign?: number;
}): Uint8Array {
  const channels = o.channels ?? 1;
  const bits = o.bits ?? 16;
  const rate = o.sampleRate ?? 16000;
  const code = o.code ?? 1;
  const blockAlign = o.blockAlign ?? channels * Math.ceil(bits / 8);
  const fmt = new Uint8Array(o.extensible ? 40 : 16);
  const f = new DataView(fmt.buffer);
  f.setUint16(0, o.extensible ? 0xfffe : code, true);
  f.setUint16(2, channels, true);
  f.setUint32(4, rate, true);
  f.setUint32(8, rate * blockAlign, true);
  f.setUint16(12, blockAlign, true);
  f.setUint16(14, bits, true);
  if (o.extensible) {
    f.setUint16(16, 22, true);
    f.setUint16(18, bits, true);
    f.setUint32(20, 0, true);
    f.setUint16(24, code, true);
    fmt.set([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71], 26);
  }
  const chunks: Array<[string, Uint8Array, number?]> = [['fmt ', fmt], ...(o.extra ?? []), ['data', o.data, o.dataSize], ...(o.after ?? [])];
  const size = 4 + chunks.reduce((s, [, d]) => s + 8 + d.length + (d.length & 1), 0);
  const out = new Uint8Array(8 + size);
  const v = new DataView(out.buffer);
  out.set(Buffer.from('RIFF'), 0);
  v.setUint32(4, o.riffSize ?? size, true);
  out.set(Buffer.from('WAVE'), 8);
  let p = 12;
  for (const [id, d, declared] of chunks) {
    out.set(Buffer.from(id, 'latin1'), p);
    v.setUint32(p + 4, declared ?? d.length, true);
    out.set(d, p + 8);
    p += 8 + d.length + (d.length & 1);
  }
  return out;
}
