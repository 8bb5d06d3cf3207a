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

/** A minimal RIFF/WAVE file around `data`, for tests that need exact bytes. */
export function wavBytes(o: {
  code?: number;
  channels?: number;
  sampleRate?: number;
  bits?: number;
  data: Uint8Array;
  extensible?: boolean;
  /** Value written in the data chunk's size field (default: data.length). */
  dataSize?: number;
  /** Chunks placed between fmt and data. */
  extra?: Array<[string, Uint8Array]>;
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
  const chunks: Array<[string, Uint8Array, number?]> = [['fmt ', fmt], ...(o.extra ?? []), ['data', o.data, o.dataSize]];
  const size = 4 + chunks.reduce((s, [, d]) => s + 8 + d.length + (d.length & 1), 0);
  const out = new Uint8Array(8 + size);
  const v = new DataView(out.buffer);
  out.set(Buffer.from('RIFF'), 0);
  v.setUint32(4, size, true);
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
