/** Options shared by the CLI commands, and the one place that turns them into a loaded model. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../paths';
import { Option, type Command } from 'commander';
import { getBundle } from '../bundles';
import { Wav2Vec2Error } from '../errors';
import { loadModel, type Device, type Model } from '../model';
import type { Hotwords } from '../decode';
import { loadForModel, padToReceptiveField, type DecoderOptions } from '../transcribe';

/** The model shipped with the package (trained by scripts/make_default_model on synthetic speech). */
export const DEFAULT_MODEL = join(PACKAGE_ROOT, 'models', 'default.pt');

export interface ModelCliOptions {
  model?: string;
  bundle?: string;
  modelsDir?: string;
  device: string;
  threads?: number;
}

export function positiveInt(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Wav2Vec2Error('INVALID_INPUT', `${what}: expected a positive integer, got "${value}".`);
    return n;
  };
}

export function number(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new Wav2Vec2Error('INVALID_INPUT', `${what}: expected a number, got "${value}".`);
    return n;
  };
}

export function addModelOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--model <path>', 'TorchScript model file (default: the embedded model)').conflicts('bundle'))
    .addOption(new Option('--bundle <name>', 'a torchaudio bundle name, e.g. WAV2VEC2_ASR_BASE_960H (its exported model)'))
    .option('--models-dir <dir>', 'where --bundle looks for <NAME>.pt (default: ./models or $WAV2VEC2_MODELS)')
    .option('--device <device>', "'cpu', 'cuda' or 'cuda:N'", 'cpu')
    .option('--threads <n>', 'intra-op threads (default: physical cores)', positiveInt('--threads'));
}

/** The decoder flags of `transcribe` and `batch`. */
export interface DecoderCliOptions {
  decoder: 'greedy' | 'beam';
  lm?: string;
  lexicon?: string;
  hotword: string[];
  beamSize?: number;
  lmWeight?: number;
  wordScore?: number;
}

export function addDecoderOptions(cmd: Command): Command {
  return cmd
    .option('--decoder <kind>', "'greedy' or 'beam' (--lm, --lexicon, --hotword, --beam-size, --lm-weight and --word-score imply beam)", 'greedy')
    .option('--lm <arpa>', 'n-gram language model (ARPA) for beam search')
    .option('--lexicon <file>', 'lexicon for beam search: a word and its tokens per line')
    .option('--hotword <word[:boost]>', 'boost a word in beam search (repeatable)', (v: string, previous: string[]) => [...previous, v], [])
    .option('--beam-size <n>', 'beam size', positiveInt('--beam-size'))
    .option('--lm-weight <x>', 'language model weight', number('--lm-weight'))
    .option('--word-score <x>', 'score added per word', number('--word-score'));
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
    if (!Number.isFinite(weight) || i === 0 || v.slice(i + 1).trim() === '') throw new Wav2Vec2Error('INVALID_INPUT', `--hotword: expected WORD or WORD:BOOST, got "${v}".`);
    words.push(v.slice(0, i));
    boosts.add(weight);
  }
  if (boosts.size > 1) throw new Wav2Vec2Error('INVALID_INPUT', `--hotword: all hotwords share one boost, got ${[...boosts].join(' and ')}.`);
  return { words, ...(boosts.size ? { weight: [...boosts][0]! } : {}) };
}

/** The decoder flags as createDecoder's options; any beam-search flag implies --decoder beam. */
export function decoderOptionsFrom(o: DecoderCliOptions): DecoderOptions {
  if (o.decoder !== 'greedy' && o.decoder !== 'beam') throw new Wav2Vec2Error('INVALID_INPUT', `--decoder: expected greedy or beam, got "${o.decoder}".`);
  const hotwords = parseHotwords(o.hotword);
  const beamOnly = o.lm || o.lexicon || hotwords || o.beamSize || o.lmWeight !== undefined || o.wordScore !== undefined;
  return {
    decoder: o.decoder === 'greedy' && beamOnly ? 'beam' : o.decoder,
    ...(o.lm ? { lm: o.lm } : {}),
    ...(o.lexicon ? { lexicon: o.lexicon } : {}),
    ...(hotwords ? { hotwords } : {}),
    ...(o.beamSize ? { beamSize: o.beamSize } : {}),
    ...(o.lmWeight !== undefined ? { lmWeight: o.lmWeight } : {}),
    ...(o.wordScore !== undefined ? { wordScore: o.wordScore } : {}),
  };
}

export async function openModel(o: ModelCliOptions): Promise<Model> {
  if (o.modelsDir && !o.bundle) throw new Wav2Vec2Error('INVALID_INPUT', '--models-dir: only used with --bundle NAME.');
  const common = { device: o.device as Device, ...(o.threads ? { threads: o.threads } : {}) };
  if (o.bundle) return getBundle(o.bundle).getModel({ ...common, ...(o.modelsDir ? { modelsDir: o.modelsDir } : {}) });
  const file = o.model ? resolve(o.model) : DEFAULT_MODEL;
  if (!o.model && !existsSync(file)) {
    throw new Wav2Vec2Error('MODEL_NOT_FOUND', `The embedded default model is missing (${file}). Reinstall the package, or pass --model PATH.`);
  }
  return loadModel(file, common);
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
