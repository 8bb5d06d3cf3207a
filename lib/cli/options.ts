/** Options shared by the CLI commands, and the one place that turns them into a loaded model. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_MODEL_PATH } from '../paths';
import { Option, type Command } from 'commander';
import { getBundle } from '../model/bundles';
import { Wav2Vec2Error, type ErrorCode } from '../errors';
import { type Device, type DTypeOption, type Model } from '../model/model';
import { loadModel } from '../model/load';
import { downloadBar } from './download';
import type { Hotwords } from '../decode';
import { loadForModel, padToReceptiveField, type DecoderOptions } from '../pipeline/transcribe';


export interface ModelCliOptions {
  model?: string;
  bundle?: string;
  modelsDir?: string;
  device: string;
  dtype: DTypeOption;
  threads?: number;
}

/**
 * A mistake on the command line itself (a flag's value, flags that do not go together): printed like any coded
 * error, but the exit status is 2, as for the usage errors commander finds (unknown flags, missing arguments).
 * Its code is the one the same mistake gets through the API: INVALID_INPUT, or DECODE_INVALID_INPUT for a
 * decoder flag (what createDecoder and the decoders throw for that option).
 */
export class UsageError extends Wav2Vec2Error {
  constructor(message: string, code: ErrorCode = 'INVALID_INPUT') {
    super(code, message);
  }
}

export function positiveInt(what: string, code?: ErrorCode) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${what}: expected a positive integer, got "${value}".`, code);
    return n;
  };
}

export function number(what: string, code?: ErrorCode) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${what}: expected a number, got "${value}".`, code);
    return n;
  };
}

export function nonNegativeInt(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new UsageError(`${what}: expected an integer ≥ 0, got "${value}".`);
    return n;
  };
}

export function intWithin(what: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`${what}: expected an integer within [${min}, ${max}], got "${value}".`);
    return n;
  };
}

export function positiveNumber(what: string) {
  const parse = number(what);
  return (value: string): number => {
    const n = parse(value);
    if (n <= 0) throw new UsageError(`${what}: expected a number > 0, got "${value}".`);
    return n;
  };
}

export function nonNegative(what: string) {
  const parse = number(what);
  return (value: string): number => {
    const n = parse(value);
    if (n < 0) throw new UsageError(`${what}: expected a number ≥ 0, got "${value}".`);
    return n;
  };
}

/** A number of bytes: an integer, or a number followed by K, M or G (KiB, MiB, GiB), e.g. 25M. */
export function byteSize(what: string) {
  const units: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 };
  return (value: string): number => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)\s*$/i.exec(value);
    const n = m ? Math.round(Number(m[1]) * units[m[2]!.toLowerCase()]!) : NaN;
    if (!(Number.isSafeInteger(n) && n >= 1)) throw new UsageError(`${what}: expected a number of bytes, such as 65536 or 25M (K, M, G: KiB, MiB, GiB), got "${value}".`);
    return n;
  };
}

/** One of a fixed set of words, e.g. `--decoder greedy|beam`. */
export function oneOf<T extends string>(what: string, choices: readonly T[], code?: ErrorCode) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) throw new UsageError(`${what}: expected ${choices.join(' or ')}, got "${value}".`, code);
    return value as T;
  };
}

function device(value: string): string {
  if (!/^(cpu|cuda(:\d+)?)$/.test(value)) throw new UsageError(`--device: expected cpu, cuda or cuda:N, got "${value}".`);
  return value;
}

/** `model`: the --model flag, for a command that takes it otherwise (serve takes it repeated, with names). */
export function addModelOptions(cmd: Command, model = new Option('--model <model>', 'a TorchScript file, a Hugging Face checkpoint folder, or a hub repo id such as facebook/wav2vec2-base-960h[@revision] (default: the embedded model)')): Command {
  return cmd
    .addOption(model.conflicts('bundle'))
    .addOption(new Option('--bundle <name>', 'a torchaudio bundle name, e.g. WAV2VEC2_ASR_BASE_960H (its exported model)'))
    .option('--models-dir <dir>', 'where --bundle looks for <NAME>.pt (default: ./models or $WAV2VEC2_MODELS)')
    .option('--device <device>', "'cpu', 'cuda' or 'cuda:N'", device, 'cpu')
    .option('--dtype <dtype>', "the precision the model runs in: 'float32', 'bfloat16', 'float16', 'int8' (a Hugging Face checkpoint's products in int8, or an int8 export), or 'auto': the fastest on this CPU (a TorchScript export runs in the dtype it was exported in)", oneOf('--dtype', ['float32', 'bfloat16', 'float16', 'int8', 'auto'] as const), 'float32')
    .option('--threads <n>', 'intra-op threads (default: physical cores)', positiveInt('--threads'));
}

/** The decoder flags of `transcribe` and `batch`. */
export interface DecoderCliOptions {
  /** Unset: greedy, or beam when a beam-search flag is given. */
  decoder?: 'greedy' | 'beam';
  lm?: string;
  lexicon?: string;
  hotword: string[];
  beamSize?: number;
  lmWeight?: number;
  wordScore?: number;
}

/** A bad decoder flag has the code of the same bad decoder option in the API. */
const DECODER = 'DECODE_INVALID_INPUT';

export function addDecoderOptions(cmd: Command): Command {
  return cmd
    .option('--decoder <kind>', "'greedy' or 'beam' (default: greedy; --lm, --lexicon, --hotword, --beam-size, --lm-weight and --word-score imply beam)", oneOf('--decoder', ['greedy', 'beam'] as const, DECODER))
    .option('--lm <arpa>', 'n-gram language model (ARPA) for beam search')
    .option('--lexicon <file>', 'lexicon for beam search: a word and its tokens per line')
    .option('--hotword <word[:boost]>', 'boost a word in beam search (repeatable)', (v: string, previous: string[]) => [...previous, v], [])
    .option('--beam-size <n>', 'beam size', positiveInt('--beam-size', DECODER))
    .option('--lm-weight <x>', 'language model weight', number('--lm-weight', DECODER))
    .option('--word-score <x>', 'score added per word', number('--word-score', DECODER));
}

/** `WORD` or `WORD:BOOST`, repeated; the beam search has one boost for all hotwords, so given boosts must agree. */
function parseHotwords(values: string[]): Hotwords | undefined {
  if (values.length === 0) return undefined;
  const words: string[] = [];
  const boosts = new Set<number>();
  for (const v of values) {
    const i = v.lastIndexOf(':');
    if (i < 0) {
      words.push(v);
      continue;
    }
    const weight = Number(v.slice(i + 1));
    if (!Number.isFinite(weight) || i === 0 || v.slice(i + 1).trim() === '') throw new UsageError(`--hotword: expected WORD or WORD:BOOST, got "${v}".`, DECODER);
    words.push(v.slice(0, i));
    boosts.add(weight);
  }
  if (boosts.size > 1) throw new UsageError(`--hotword: all hotwords share one boost, got ${[...boosts].join(' and ')}.`, DECODER);
  return { words, ...(boosts.size ? { weight: [...boosts][0]! } : {}) };
}

/** The beam-search flags given, by name. */
function beamFlags(o: DecoderCliOptions, hotwords: Hotwords | undefined): string[] {
  const given: Array<[string, unknown]> = [['--lm', o.lm], ['--lexicon', o.lexicon], ['--hotword', hotwords], ['--beam-size', o.beamSize],
    ['--lm-weight', o.lmWeight], ['--word-score', o.wordScore]];
  return given.filter(([, v]) => v !== undefined && v !== '').map(([flag]) => flag);
}

/**
 * The decoder flags as createDecoder's options. A beam-search flag implies --decoder beam; with an explicit
 * --decoder greedy it is a usage error, since greedy decoding would silently ignore it.
 */
export function decoderOptionsFrom(o: DecoderCliOptions): DecoderOptions {
  const hotwords = parseHotwords(o.hotword);
  const beamOnly = beamFlags(o, hotwords);
  if (o.decoder === 'greedy' && beamOnly.length) {
    throw new UsageError(`${beamOnly.join(', ')}: beam-search option${beamOnly.length > 1 ? 's' : ''}, ignored by --decoder greedy; drop --decoder greedy (or use --decoder beam).`, DECODER);
  }
  return {
    type: o.decoder ?? (beamOnly.length ? 'beam' : 'greedy'),
    ...(o.lm ? { lm: o.lm } : {}),
    ...(o.lexicon ? { lexicon: o.lexicon } : {}),
    ...(hotwords ? { hotwords } : {}),
    ...(o.beamSize ? { beamSize: o.beamSize } : {}),
    ...(o.lmWeight !== undefined ? { lmWeight: o.lmWeight } : {}),
    ...(o.wordScore !== undefined ? { wordScore: o.wordScore } : {}),
  };
}

export async function openModel(o: ModelCliOptions): Promise<Model> {
  if (o.modelsDir && !o.bundle) throw new UsageError('--models-dir: only used with --bundle NAME.');
  const common = { device: o.device as Device, dtype: o.dtype, ...(o.threads ? { threads: o.threads } : {}) };
  if (o.bundle) return getBundle(o.bundle).getModel({ ...common, ...(o.modelsDir ? { modelsDir: o.modelsDir } : {}) });
  if (!o.model && !existsSync(DEFAULT_MODEL_PATH)) {
    throw new Wav2Vec2Error('MODEL_NOT_FOUND', `The embedded default model is missing (${DEFAULT_MODEL_PATH}). Reinstall the package, or pass --model PATH.`);
  }
  // A repo id is fetched on first use: show the bytes on a terminal (nothing otherwise).
  const bar = downloadBar();
  try {
    return await loadModel(o.model ?? DEFAULT_MODEL_PATH, { ...common, hub: { onProgress: (p) => bar.update(p) } });
  } finally {
    bar.stop();
  }
}

/** Opens the model, loads one clip (mono, at the model's rate, padded to its receptive field), runs `fn`, disposes. */
export async function withClip<T>(o: ModelCliOptions, file: string, fn: (model: Model, samples: Float32Array) => Promise<T>): Promise<T> {
  const model = await openModel(o);
  try {
    const { samples } = await loadForModel(model, file);
    return await fn(model, padToReceptiveField(model, samples));
  } finally {
    model.dispose();
  }
}
