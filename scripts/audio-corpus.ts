/**
 * Test audio: speech synthesised by espeak-ng, converted by sox into every format and variant lib/audio decodes
 * (and a few it refuses), plus an MP3 with a LAME gapless header when `lame` is installed. Used by the audio tests
 * and as the seed corpus of scripts/fuzz-audio.ts. Nothing here is committed: it is made on demand (a second or
 * two) into a directory, test/fixtures/generated/audio by default, and reused while its stamp matches.
 *
 *   node --import tsx scripts/audio-corpus.ts [DIR]
 *
 * Needs the Debian packages espeak-ng, sox and libsox-fmt-all (MP3 and Ogg writers). Optional: lame (an MP3 with a
 * LAME gapless header) and flac (the reference encoder's FLAC, with seek table and padding, and Ogg FLAC).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_CORPUS_DIR = join(__dirname, '..', 'test', 'fixtures', 'generated', 'audio');

/** The sentence of torchaudio's tutorial sample, so a trained model could be checked on it too. */
export const SENTENCE = 'I had that curiosity beside me at this moment.';

export interface CorpusFile {
  /** File name in the corpus directory. */
  file: string;
  /** What lib/audio should report, as sox made it. */
  format: 'wav' | 'flac' | 'mp3' | 'ogg-vorbis';
  channels: number;
  sampleRate: number;
  /** How exactly sox's own decoding must match ours: 'exact' (lossless), or a max abs difference. */
  match: 'exact' | number | 'none';
  /** The lossless file it was made from (same samples), when there is one. */
  sameAs?: string;
  /** Our channel c is sox's channel order[c] (sox does not reorder Vorbis channels; the spec, ffmpeg and we do). */
  order?: number[];
  note: string;
}

// Each entry: what the file is, sox output-format options (before the output name), sox effects (after it).
// Base: espeak-ng's 22050 Hz 16-bit mono WAV.
const RECIPES: Array<[CorpusFile, string[], string[]]> = [
  [{ file: 'pcm16.wav', format: 'wav', channels: 1, sampleRate: 22050, match: 'exact', note: '16-bit PCM, plain fmt chunk' }, ['-b', '16'], []],
  [{ file: 'pcm16-16k.wav', format: 'wav', channels: 1, sampleRate: 16000, match: 'exact', note: '16-bit PCM at 16 kHz' }, ['-b', '16', '-r', '16000'], []],
  [{ file: 'pcmu8.wav', format: 'wav', channels: 1, sampleRate: 22050, match: 'exact', note: '8-bit unsigned PCM, odd-sized data chunk with a pad byte' }, ['-b', '8', '-e', 'unsigned-integer'], []],
  [{ file: 'pcm24.wav', format: 'wav', channels: 1, sampleRate: 22050, match: 'exact', note: '24-bit PCM, WAVE_FORMAT_EXTENSIBLE' }, ['-b', '24'], []],
  [{ file: 'pcm32.wav', format: 'wav', channels: 1, sampleRate: 22050, match: 'exact', note: '32-bit PCM, WAVE_FORMAT_EXTENSIBLE' }, ['-b', '32', '-e', 'signed-integer'], []],
  [{ file: 'float32.wav', format: 'wav', channels: 1, sampleRate: 22050, match: 1e-9, note: '32-bit float (sox decodes through int32)' }, ['-b', '32', '-e', 'floating-point'], []],
  [{ file: 'float64.wav', format: 'wav', channels: 1, sampleRate: 22050, match: 1e-9, note: '64-bit float' }, ['-b', '64', '-e', 'floating-point'], []],
  [{ file: 'alaw.wav', format: 'wav', channels: 1, sampleRate: 22050, match: 'exact', note: 'G.711 A-law' }, ['-e', 'a-law'], []],
  [{ file: 'mulaw.wav', format: 'wav', channels: 1, sampleRate: 22050, match: 'exact', note: 'G.711 µ-law' }, ['-e', 'u-law'], []],
  [{ file: 'stereo44k.wav', format: 'wav', channels: 2, sampleRate: 44100, match: 'exact', note: '16-bit stereo at 44.1 kHz (right channel delayed)' }, ['-b', '16', '-r', '44100'], ['remix', '1', '1', 'delay', '0', '0.01']],
  [{ file: 'ch3.wav', format: 'wav', channels: 3, sampleRate: 22050, match: 'exact', note: '3 channels, 16-bit, WAVE_FORMAT_EXTENSIBLE' }, ['-b', '16'], ['remix', '1', '1v0.5', '1v-0.25']],
  [{ file: 'pcm16.flac', format: 'flac', channels: 1, sampleRate: 22050, match: 'exact', sameAs: 'pcm16.wav', note: '16-bit FLAC' }, ['-b', '16'], []],
  [{ file: 'pcm24.flac', format: 'flac', channels: 1, sampleRate: 22050, match: 'exact', sameAs: 'pcm24.wav', note: '24-bit FLAC' }, ['-b', '24'], []],
  [{ file: 'stereo44k.flac', format: 'flac', channels: 2, sampleRate: 44100, match: 'exact', sameAs: 'stereo44k.wav', note: '16-bit stereo FLAC' }, ['-b', '16', '-r', '44100'], ['remix', '1', '1', 'delay', '0', '0.01']],
  [{ file: 'long.flac', format: 'flac', channels: 1, sampleRate: 22050, match: 'exact', note: 'the speech 10 times (29 s), for streaming' }, ['-b', '16'], ['repeat', '9']],
  [{ file: 'mono.mp3', format: 'mp3', channels: 1, sampleRate: 22050, match: 'none', note: 'MP3 by sox/libmp3lame (no gapless header)' }, ['-C', '96'], []],
  [{ file: 'stereo.mp3', format: 'mp3', channels: 2, sampleRate: 44100, match: 'none', note: 'stereo MP3 at 44.1 kHz' }, ['-r', '44100', '-C', '128'], ['remix', '1', '1', 'delay', '0', '0.01']],
  [{ file: 'mono.ogg', format: 'ogg-vorbis', channels: 1, sampleRate: 22050, match: 2 ** -15, note: 'Ogg Vorbis (sox decodes it to 16-bit)' }, ['-C', '3'], []],
  [{ file: 'stereo.ogg', format: 'ogg-vorbis', channels: 2, sampleRate: 44100, match: 2 ** -15, note: 'stereo Ogg Vorbis at 44.1 kHz' }, ['-r', '44100', '-C', '3'], ['remix', '1', '1', 'delay', '0', '0.01']],
  [{ file: 'ch3.ogg', format: 'ogg-vorbis', channels: 3, sampleRate: 22050, match: 2 ** -15, order: [0, 2, 1], note: '3-channel Ogg Vorbis: stored as L, C, R by the Vorbis spec, returned as L, R, C' }, ['-C', '3'], ['remix', '1', '1v0.5', '1v-0.25']],
];

/** Every file the corpus holds (besides the base and the refused formats), for tests that enumerate them. */
export const CORPUS_FILES: readonly CorpusFile[] = RECIPES.map(([f]) => f);

// Formats we refuse, for the error tests (they must give AUDIO_UNSUPPORTED_FORMAT).
const UNSUPPORTED: Array<[string, string[], string[]]> = [
  ['adpcm.wav', ['-e', 'ms-adpcm'], []],
  ['speech.aiff', [], []],
];

const STAMP = 'wav2vec2-node audio corpus v1';

export interface Corpus {
  dir: string;
  base: string;
  files: CorpusFile[];
  unsupported: string[];
  /** An MP3 written by `lame` (with its LAME/Xing gapless header), when lame is installed; made from base. */
  lame: string | null;
  /** FLAC and Ogg FLAC written by the reference `flac` encoder from base, when flac is installed. */
  flacCli: string | null;
  oggFlac: string | null;
}

function have(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.status === 0;
}

/** Which of the tools the corpus needs are missing (empty when all are there). */
export function missingTools(): string[] {
  const missing: string[] = [];
  if (!have('espeak-ng', ['--version'])) missing.push('espeak-ng');
  if (!have('sox', ['--version'])) missing.push('sox');
  else {
    // libsox-fmt-all provides the MP3 and Ogg handlers; plain sox cannot write them.
    const r = spawnSync('sox', ['-h'], { encoding: 'utf8' });
    const formats = /AUDIO FILE FORMATS:(.*)/.exec(r.stdout ?? '')?.[1] ?? '';
    if (!/\bmp3\b/.test(formats) || !/\bogg\b/.test(formats)) missing.push('libsox-fmt-all (sox MP3/Ogg support)');
  }
  return missing;
}

/** Makes the corpus in `dir` unless it is already there (same stamp). Throws when the tools are missing. */
export function makeAudioCorpus(dir = DEFAULT_CORPUS_DIR): Corpus {
  const missing = missingTools();
  if (missing.length) throw new Error(`cannot make the audio corpus: missing ${missing.join(', ')} (apt-get install espeak-ng sox libsox-fmt-all)`);
  const hasLame = have('lame', ['--version']);
  const hasFlac = have('flac', ['--version']);
  const corpus: Corpus = {
    dir,
    base: join(dir, 'speech.wav'),
    files: RECIPES.map(([f]) => f),
    unsupported: UNSUPPORTED.map(([f]) => join(dir, f)),
    lame: hasLame ? join(dir, 'lame.mp3') : null,
    flacCli: hasFlac ? join(dir, 'flac-cli.flac') : null,
    oggFlac: hasFlac ? join(dir, 'flac-cli.oga') : null,
  };
  const stampFile = join(dir, 'STAMP');
  const stamp = `${STAMP}\n${JSON.stringify(RECIPES)}\n${JSON.stringify(UNSUPPORTED)}\nlame=${hasLame} flac=${hasFlac}\n`;
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return corpus;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync('espeak-ng', ['-w', corpus.base, SENTENCE], { stdio: 'ignore' });
  // sox dithers when it reduces bit depth; -D turns that off so every variant holds the same samples (scaled).
  for (const [f, args, effects] of RECIPES) execFileSync('sox', ['-D', corpus.base, ...args, join(dir, f.file), ...effects], { stdio: 'ignore' });
  for (const [f, args, effects] of UNSUPPORTED) execFileSync('sox', ['-D', corpus.base, ...args, join(dir, f), ...effects], { stdio: 'ignore' });
  if (corpus.lame) execFileSync('lame', ['--quiet', '-b', '64', corpus.base, corpus.lame], { stdio: 'ignore' });
  if (corpus.flacCli) execFileSync('flac', ['--silent', '-f', '-o', corpus.flacCli, corpus.base], { stdio: 'ignore' });
  if (corpus.oggFlac) execFileSync('flac', ['--silent', '--ogg', '-f', '-o', corpus.oggFlac, corpus.base], { stdio: 'ignore' });
  writeFileSync(stampFile, stamp);
  return corpus;
}

/** sox's own decoding of `file`: one Float32Array per channel (int samples scaled by 1/2^31 after left-justifying). */
export function soxDecode(file: string): Float32Array[] {
  const channels = Number(execFileSync('soxi', ['-c', file], { encoding: 'utf8' }).trim());
  const raw = execFileSync('sox', ['-D', file, '-t', 'f32', '-'], { maxBuffer: 1 << 30 });
  const n = raw.length / 4 / channels;
  const out = Array.from({ length: channels }, () => new Float32Array(n));
  for (let i = 0; i < n; i++) for (let c = 0; c < channels; c++) out[c]![i] = raw.readFloatLE((i * channels + c) * 4);
  return out;
}

if (require.main === module) {
  const c = makeAudioCorpus(process.argv[2]);
  // eslint-disable-next-line no-console
  console.log(`audio corpus in ${c.dir}: ${c.files.length} files${c.lame ? ' + lame.mp3' : ' (lame not installed: no gapless MP3)'}${c.flacCli ? ' + flac-cli.flac/.oga' : ' (flac not installed: no Ogg FLAC)'}`);
}
