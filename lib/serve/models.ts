/**
 * The models one server runs, each by name with a Recognizer of its own (its own queue, batches and limits), and
 * the rule that maps the model a request names to one of them. Clients written for other servers send names of
 * their own (OpenAI's SDKs and tools send `whisper-1`): a name the server does not know goes to the default model,
 * unless the server is strict, which refuses it with MODEL_NOT_FOUND (404).
 */
import { basename, extname } from 'node:path';
import { Wav2Vec2Error, invalid } from '../errors';
import { isObject } from '../is';
import { Recognizer, createRecognizer, type RecognizerOptions } from '../recognizer';

export interface ServedModel {
  name: string;
  recognizer: Recognizer;
  /** Created by the server (closed with it), or given by the caller (left open). */
  owned: boolean;
}

/** Letters, digits and `.`, `_`, `:`, `-` (no `/`: `NAME=PATH` must stay apart from a path that holds a `=`). */
const NAME = /^[A-Za-z0-9][\w.:-]{0,127}$/;

export function isModelName(s: unknown): s is string {
  return typeof s === 'string' && NAME.test(s);
}

/**
 * A model's name by default: its file's base name without the extension (models/default.pt is `default`), other
 * characters than a name's replaced by `_`.
 */
export function modelNameOf(file: string): string {
  const name = basename(file, extname(file)).replace(/[^\w.:-]/g, '_').replace(/^[^A-Za-z0-9]+/, '').slice(0, 128);
  return isModelName(name) ? name : 'default';
}

export class ModelSet {
  readonly default: ServedModel;
  readonly strict: boolean;
  readonly #byName: Map<string, ServedModel>;

  constructor(models: ServedModel[], defaultName: string, strict: boolean) {
    this.#byName = new Map(models.map((m) => [m.name, m]));
    const d = this.#byName.get(defaultName);
    if (!d) throw invalid('INVALID_INPUT', 'defaultModel', `one of the models' names (${this.names.join(', ')})`, defaultName);
    this.default = d;
    this.strict = strict;
  }

  get names(): string[] {
    return [...this.#byName.keys()];
  }

  list(): ServedModel[] {
    return [...this.#byName.values()];
  }

  /** The model of this exact name, or undefined. */
  get(name: string): ServedModel | undefined {
    return this.#byName.get(name);
  }

  /** The model a request asked for (none named: the default). Unknown names go to the default, or are refused when strict. */
  pick(name: string | undefined): ServedModel {
    if (name === undefined || name === '') return this.default;
    const m = this.#byName.get(name);
    if (m) return m;
    if (!this.strict) return this.default;
    // A form field may be long: the message quotes its start only.
    const given = name.length > 100 ? `${JSON.stringify(name.slice(0, 100))}... (${name.length} characters)` : JSON.stringify(name);
    throw new Wav2Vec2Error('MODEL_NOT_FOUND',
      `model: expected one of ${this.names.map((n) => JSON.stringify(n)).join(', ')}, got ${given} ` +
      '(the server refuses unknown model names: --strict-models). GET /v1/models lists them.');
  }

  /** Closes the recognizers the server created (draining their queues); given ones stay open. */
  async close(): Promise<void> {
    await Promise.all(this.list().filter((m) => m.owned).map((m) => m.recognizer.close({ drain: true })));
  }
}

export interface ModelSetOptions {
  /** One model: a Recognizer (left open) or its options. */
  recognizer?: Recognizer | RecognizerOptions;
  /** Several models by name: each a Recognizer (left open) or its options. */
  models?: Record<string, Recognizer | RecognizerOptions>;
  /** The model for requests that name none (or an unknown one); default: the first of `models`. */
  defaultModel?: string;
  /** Refuse unknown model names (404 MODEL_NOT_FOUND) instead of running the default model (default false). */
  strictModels?: boolean;
  /** maxDuration for the recognizers created here (given ones keep their own). */
  maxDuration: number;
}

function entries(o: ModelSetOptions): Array<[string | null, Recognizer | RecognizerOptions | undefined]> {
  if (o.models === undefined) return [[null, o.recognizer]];
  if (o.recognizer !== undefined) throw invalid('INVALID_INPUT', 'options', 'either recognizer (one model) or models (several by name), not both', o);
  if (!isObject(o.models as unknown) || Object.keys(o.models).length === 0) {
    throw invalid('INVALID_INPUT', 'models', 'an object of model names to Recognizers or Recognizer options, with at least one', o.models);
  }
  for (const name of Object.keys(o.models)) {
    if (!isModelName(name)) throw invalid('INVALID_INPUT', 'models', 'names of letters, digits, ".", "_", ":" or "-" (at most 128)', name);
  }
  return Object.entries(o.models);
}

/** The name of a model given without one: its file's base name (a Model loaded from memory has none: `default`). */
function defaultName(rec: Recognizer): string {
  return rec.model.info.file ? modelNameOf(rec.model.info.file) : 'default';
}

/** Creates the recognizers that are not given (one after another: each loads a model); on a failure closes those made. */
export async function openModels(o: ModelSetOptions): Promise<ModelSet> {
  if (o.defaultModel !== undefined && !isModelName(o.defaultModel)) throw invalid('INVALID_INPUT', 'defaultModel', 'a model name', o.defaultModel);
  if (o.strictModels !== undefined && typeof o.strictModels !== 'boolean') throw invalid('INVALID_INPUT', 'strictModels', 'true or false', o.strictModels);
  const made: ServedModel[] = [];
  try {
    for (const [name, r] of entries(o)) {
      const given = r instanceof Recognizer ? r : null;
      const recognizer = given ?? await createRecognizer({ maxDuration: o.maxDuration, ...(r as RecognizerOptions | undefined) });
      made.push({ name: name ?? defaultName(recognizer), recognizer, owned: !given });
    }
    return new ModelSet(made, o.defaultModel ?? made[0]!.name, o.strictModels ?? false);
  } catch (err) {
    await Promise.all(made.filter((m) => m.owned).map((m) => m.recognizer.close({ drain: false })));
    throw err;
  }
}
