/** Options shared by the CLI commands, and the one place that turns them into a loaded model. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../paths';
import { Option, type Command } from 'commander';
import { getBundle } from '../bundles';
import { Wav2Vec2Error } from '../errors';
import { loadModel, type Device, type Model } from '../model';
import { loadForModel, padToReceptiveField } from '../transcribe';

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
