/**
 * What `npm run soak:serve` sends: well-behaved speech clips (espeak-ng) and hostile inputs made for real
 * (decompression bombs encoded by sox + flac, WAVs with lying headers or odd rates, malformed multipart bodies,
 * feature requests over the cap). Built once into bench/results/tmp/soak (ignored by git) and reused.
 */
import { execFileSync, execSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { speechLike, wav16 } from './stats';

const ROOT = join(__dirname, '..');
export const SOAK_DIR = join(__dirname, 'results', 'tmp', 'soak');
const HELDOUT = join(ROOT, 'scripts', 'make_default_model', 'text', 'heldout.tsv');

export interface Clip { name: string; seconds: number; body: Buffer }

/** Seconds of audio in a PCM WAV (its fmt and data chunks, as espeak-ng and wav16 write them). */
function wavSeconds(b: Buffer): number {
  return b.readUInt32LE(40) / b.readUInt32LE(28);
}

/** Sentences the default model knows, spoken by espeak-ng: `count` clips of 3–10 s (22.05 kHz WAV, as espeak-ng writes). */
export function speechClips(count: number): Clip[] {
  mkdirSync(SOAK_DIR, { recursive: true });
  const lines = readFileSync(HELDOUT, 'utf8').split('\n').slice(1).map((l) => l.split('\t')[7]!).filter(Boolean);
  const clips: Clip[] = [];
  for (let i = 0, take = 2; clips.length < count && i < lines.length; i += take, take = 2 + (i % 3)) {
    const file = join(SOAK_DIR, `speech-${i}-${take}.wav`);
    if (!existsSync(file)) execFileSync('espeak-ng', ['--stdin', '-w', file], { input: lines.slice(i, i + take).join('. '), stdio: ['pipe', 'ignore', 'ignore'] });
    const body = readFileSync(file);
    const seconds = wavSeconds(body);
    if (seconds >= 3 && seconds <= 10) clips.push({ name: `speech ${seconds.toFixed(1)} s`, seconds, body });
  }
  if (clips.length < count) throw new Error(`espeak-ng gave ${clips.length} clips of 3–10 s, wanted ${count}`);
  return clips;
}

/** A clip of `seconds` made of the clips end to end (a long recording of speech). */
export function longClip(clips: Clip[], seconds: number): Buffer {
  const rate = clips[0]!.body.readUInt32LE(24);
  const parts = clips.map((c) => c.body.subarray(44));
  const pcm = Buffer.alloc(Math.round(seconds * rate) * 2);
  for (let o = 0, i = 0; o < pcm.length; i++) o += parts[i % parts.length]!.copy(pcm, o);
  const head = Buffer.from(clips[0]!.body.subarray(0, 44));
  head.writeUInt32LE(36 + pcm.length, 4);
  head.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([head, pcm]);
}

/**
 * Hours of digital silence as FLAC in frames of 65535 samples: each frame is a constant subframe of a few bytes,
 * so 2 h at 16 kHz (115 M samples, 230 MB of PCM) fits in tens of KB.
 */
function flacBomb(hours: number): Buffer {
  const file = join(SOAK_DIR, `silence-${hours}h.flac`);
  if (!existsSync(file)) {
    execSync(`sox -D -n -r 16000 -c 1 -b 16 -e signed -t raw - trim 0 ${hours * 3600} | ` +
      `flac -s --lax --blocksize=65535 --force-raw-format --endian=little --sign=signed --channels=1 --bps=16 --sample-rate=16000 -o '${file}' -`);
  }
  return readFileSync(file);
}

/**
 * The same bomb with STREAMINFO's total-samples field zeroed ("unknown", as a streaming encoder writes it), so a
 * decoder cannot size anything from the header and must count samples as they come.
 */
function withoutTotal(flac: Buffer): Buffer {
  const b = Buffer.from(flac);
  if (b.toString('latin1', 0, 4) !== 'fLaC' || (b[4]! & 0x7f) !== 0) throw new Error('not a FLAC file starting with STREAMINFO');
  // STREAMINFO data at 8: sizes (10 bytes), then 20 bits rate, 3 channels, 5 bits per sample, 36 bits total samples.
  b[21] = b[21]! & 0xf0;
  b.fill(0, 22, 26);
  return b;
}

/** A WAV whose header claims 0xFFFFFFF0 data bytes (37 h at 16 kHz) and that carries `seconds` of real audio. */
function lyingWav(seconds: number): Buffer {
  const b = wav16(speechLike(seconds, 7), 16000);
  b.writeUInt32LE(0xfffffff8, 4);
  b.writeUInt32LE(0xfffffff0, 40);
  return b;
}

export interface AttackInput {
  kind: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** What a correct server answers (for the report). */
  expect: string;
}

const BOUNDARY = 'soakboundary0123456789';
const MULTIPART = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` };

/** Multipart bodies that are not well-formed. */
function malformedMultipart(clip: Buffer): AttackInput[] {
  const part = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n`;
  const m = (kind: string, body: Buffer, headers: Record<string, string> = MULTIPART): AttackInput => ({ kind, path: '/v1/transcribe', headers, body, expect: '400 INVALID_INPUT' });
  return [
    m('multipart: cut short', Buffer.concat([Buffer.from(part), clip.subarray(0, 5000)])),
    m('multipart: no boundary in the body', Buffer.concat([Buffer.from('hello\r\n'), clip])),
    m('multipart: no boundary parameter', Buffer.concat([Buffer.from(part), clip, Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]), { 'content-type': 'multipart/form-data' }),
    m('multipart: part headers without end', Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n${'X-Pad: y\r\n'.repeat(300)}`)),
  ];
}

/** Every hostile request of one attack wave (slow uploads apart: see soak-serve.ts). */
export function attackInputs(clips: Clip[]): AttackInput[] {
  mkdirSync(SOAK_DIR, { recursive: true });
  const bomb = flacBomb(2);
  const audio = (kind: string, body: Buffer, expect: string, path = '/v1/transcribe'): AttackInput => ({ kind, path, headers: { 'content-type': 'audio/flac' }, body, expect });
  const wav = (kind: string, body: Buffer, expect: string, path = '/v1/transcribe'): AttackInput => ({ kind, path, headers: { 'content-type': 'audio/wav' }, body, expect });
  const long = longClip(clips, 110);
  return [
    audio('FLAC bomb: 2 h of silence, STREAMINFO total', bomb, '413 INPUT_TOO_LONG'),
    audio('FLAC bomb: 2 h of silence, no total', withoutTotal(bomb), '413 INPUT_TOO_LONG'),
    wav('WAV: header claims 37 h, carries 400 s', lyingWav(400), '413 INPUT_TOO_LONG'),
    wav('WAV at 1,300,001 Hz (2 s)', wav16(speechLike(2, 3, 1_300_001), 1_300_001), '415 AUDIO_UNSUPPORTED_RATE'),
    // Inside the default 8-384 kHz range: an odd rate but a valid file, resampled exactly (its filter has the most
    // phases any rate in the range gives, 16,000): answered, within the time target, on a worker.
    wav('WAV at 383,999 Hz (2 s)', wav16(speechLike(2, 5, 383_999), 383_999), '200 (in the rate range)'),
    // The oversized features request. An f32 answer cannot be oversized with the default model: 120 s (--max-duration)
    // of its 4 layers × 192 dims is 18 MB against the 64 MiB cap, so a 110 s f32 request is an ordinary long request
    // (the cost of a 110 s inference is the server's documented bound, not an attack's); the f32 cap is pinned by
    // test/serve/feature-cap.test.ts with a lowered cap.
    wav('features JSON of 110 s (over --max-feature-bytes)', long, '413 INPUT_TOO_LONG', '/v1/features'),
    ...malformedMultipart(clips[0]!.body),
  ];
}
