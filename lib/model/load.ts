/**
 * loadModel: every model source to one Model. A TorchScript file (with its manifest) loads as it is; a folder in
 * the Hugging Face layout (config.json + weights) and a hub repo id (fetched into, or found in, the
 * huggingface_hub cache) are read by lib/checkpoint and built natively by lib/builder. Sources are resolved here
 * and nowhere else, so the CLI, the Recognizer, batch jobs and the server all accept the same spellings.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { buildModel, type ManifestExtra } from '../builder';
import { readCheckpoint } from '../checkpoint';
import type { Checkpoint } from '../checkpoint/types';
import { Wav2Vec2Error, checkOptionKeys, invalid, optionKeys } from '../errors';
import { resolveModelSource } from '../hub';
import { isNonEmptyString, isObject } from '../is';
import { DEFAULT_MODEL_PATH } from '../paths';
import { checkLoadOptions, loadScriptModel, type HubOptions, type LoadModelOptions, type Model } from './model';

/**
 * Loads a model from a TorchScript `.pt` file, a checkpoint folder in the Hugging Face layout, or a Hugging Face
 * repo id (`org/name`, optionally `@revision`). An existing path always wins over a repo id of the same spelling.
 * Without a source (or with `undefined`), the embedded default model (DEFAULT_MODEL_PATH).
 */
export async function loadModel(source: string = DEFAULT_MODEL_PATH, options: LoadModelOptions = {}): Promise<Model> {
  if (!isNonEmptyString(source)) {
    throw invalid('INVALID_INPUT', 'model', 'a TorchScript file, a checkpoint folder or a Hugging Face repo id', source);
  }
  checkLoadOptions(options);
  checkHubOptions(options.hub);
  const resolved = await resolveModelSource(source, options.hub ?? {});
  if (resolved.kind === 'hub') {
    const { repo, revision, commit } = resolved;
    return loadCheckpointFolder(resolved.dir, options, { source: { kind: 'huggingface', repo, revision, commit } });
  }
  if (await isCheckpointFolder(resolved.path)) return loadCheckpointFolder(resolved.path, options);
  return loadScriptModel(resolved.path, options);
}

/** A folder with a config.json: a checkpoint in the Hugging Face layout. */
async function isCheckpointFolder(path: string): Promise<boolean> {
  if (!(await stat(path).then((s) => s.isDirectory(), () => false))) return false;
  if (await stat(join(path, 'config.json')).then((s) => s.isFile(), () => false)) return true;
  throw new Wav2Vec2Error('MODEL_LOAD_FAILED', `${path} is a folder without a config.json: a model is a TorchScript .pt file or a checkpoint ` +
    'folder in the Hugging Face layout (config.json, model.safetensors or pytorch_model.bin, vocab.json, ...).');
}

/** Reads a checkpoint folder and builds its network natively. `extra` adds what the folder cannot say itself. */
export async function loadCheckpointFolder(dir: string, options: LoadModelOptions, extra: ManifestExtra = {}): Promise<Model> {
  if (options.manifest !== undefined) {
    throw invalid('INVALID_INPUT', 'manifest', 'nothing for a checkpoint folder (its manifest comes from config.json and the tokenizer and ' +
      'preprocessor files)', options.manifest);
  }
  const checkpoint = await readCheckpoint(dir);
  return buildModel(checkpoint, options, { ...languageModelOf(checkpoint), ...extra });
}

/** A repo's language_model/ folder as the beam decoder's default LM, with pyctcdecode's alpha and beta. */
function languageModelOf(checkpoint: Checkpoint): ManifestExtra {
  const lm = checkpoint.languageModel;
  return lm ? { languageModel: { arpa: lm.arpa, lmWeight: lm.alpha, wordScore: lm.beta } } : {};
}

const HUB_OPTION_KEYS = optionKeys<HubOptions>({ revision: true, endpoint: true, token: true, cacheDir: true, offline: true, timeoutMs: true, onProgress: true });

function checkHubOptions(hub: HubOptions | undefined): void {
  if (hub === undefined) return;
  if (!isObject(hub as unknown)) throw invalid('INVALID_INPUT', 'hub', 'an object', hub);
  checkOptionKeys('hub options', hub, HUB_OPTION_KEYS);
  for (const k of ['revision', 'endpoint', 'cacheDir'] as const) {
    if (hub[k] !== undefined && !isNonEmptyString(hub[k])) throw invalid('INVALID_INPUT', `hub.${k}`, 'a non-empty string', hub[k]);
  }
  if (hub.endpoint !== undefined && !URL.canParse(hub.endpoint)) throw invalid('INVALID_INPUT', 'hub.endpoint', 'an http(s) URL', hub.endpoint);
  if (hub.token !== undefined && hub.token !== false && !isNonEmptyString(hub.token)) throw invalid('INVALID_INPUT', 'hub.token', 'a token string or false', hub.token);
  if (hub.offline !== undefined && typeof hub.offline !== 'boolean') throw invalid('INVALID_INPUT', 'hub.offline', 'a boolean', hub.offline);
  if (hub.timeoutMs !== undefined && !(typeof hub.timeoutMs === 'number' && hub.timeoutMs > 0)) {
    throw invalid('INVALID_INPUT', 'hub.timeoutMs', 'a positive number of milliseconds', hub.timeoutMs);
  }
  if (hub.onProgress !== undefined && typeof hub.onProgress !== 'function') throw invalid('INVALID_INPUT', 'hub.onProgress', 'a function', hub.onProgress);
}
